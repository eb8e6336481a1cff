"""A template rolled out in stages through each device's desired configuration (the twin,
backend/devices), with rollback (admin).

A rollout starts with a percentage of the model's devices (chosen by a stable hash of rollout
and device, so the first 10 % stay in the next 50 %), advances to larger percentages, and can
be rolled back: each device gets back the values the template changed, as they were before
(keys that were absent are removed again). At most one rollout of a model is open (running or
halted). A halted rollout (halting.py) cannot advance (422 ``rollout_halted``) nor be doubled
by a new rollout of the model (409); it can be rolled back, or resumed by an admin: refused
(422 ``rollout_still_rejected``) while a device still rejects, unless ``exclude_rejecting``
is asked for, which gives those devices their previous values back (they stay out of later
stages).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.access import ensure_branch_staff, ensure_role
from backend.branch.fleet.service.halting import (
    check,
    clear_alarms,
    halt_if_rejecting,
    halted_error,
)
from backend.branch.fleet.state import (
    DEVICE_TYPE,
    OPEN_STATUSES,
    find_rollout,
    rejecting_devices,
    rollout_view,
)
from backend.branch.models import FleetRollout, FleetRolloutDevice, FleetTemplate
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from backend.platform.wiring import port


def _rank(rollout_id: int, device_id: str) -> str:
    return hashlib.sha256(f"{rollout_id}:{device_id}".encode()).hexdigest()


def _targets(session: Session, rollout: FleetRollout, template: FleetTemplate) -> list[str]:
    devices = [
        d
        for d in devices_port.devices_of(
            session, rollout.branch_id, DEVICE_TYPE, model=template.model
        )
        if d.status in ("provisioned", "active")
    ]
    ranked = sorted(devices, key=lambda d: _rank(rollout.id, d.device_id))
    count = math.ceil(len(ranked) * rollout.percentage / 100)
    return [d.device_id for d in ranked[:count]]


def _apply(
    session: Session, actor: Actor, rollout: FleetRollout, template: FleetTemplate, now: datetime
) -> int:
    done = set(
        session.scalars(
            select(FleetRolloutDevice.device_id).where(FleetRolloutDevice.rollout_id == rollout.id)
        )
    )
    applied = 0
    for device_id in _targets(session, rollout, template):
        if device_id in done:
            continue
        device = devices_port.find_device(session, device_id)
        if device is None:
            continue
        previous = {key: device.desired.get(key) for key in template.params}
        version = devices_port.set_desired(session, actor, device_id, dict(template.params), now)
        session.add(
            FleetRolloutDevice(
                rollout_id=rollout.id,
                device_id=device_id,
                previous=previous,
                applied_version=version,
                state="applied",
                applied_at=now,
            )
        )
        applied += 1
    session.flush()
    return applied


def start_rollout(
    session: Session,
    actor: Actor,
    *,
    template_id: int,
    percentage: int,
    branch_id: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    ensure_role(actor, "admin")
    if branch_id is not None:
        ensure_branch_staff(session, actor, branch_id, "admin")
    if not 1 <= percentage <= 100:
        raise ValidationFailed("percentage 1..100", details={"percentage": ["1..100"]})
    template = session.get(FleetTemplate, template_id)
    if template is None:
        raise NotFound("template not found", code="template_not_found")
    running = session.scalar(
        select(FleetRollout.id)
        .join(FleetTemplate, FleetTemplate.id == FleetRollout.template_id)
        .where(FleetRollout.status.in_(OPEN_STATUSES), FleetTemplate.model == template.model)
    )
    if running is not None:
        raise Conflict(
            f"rollout {running} of this model is running or halted",
            code="rollout_running",
            details={"rollout_id": running},
        )
    rollout = FleetRollout(
        template_id=template.id,
        branch_id=branch_id,
        percentage=percentage,
        status="completed" if percentage == 100 else "running",
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(rollout)
    session.flush()
    applied = _apply(session, actor, rollout, template, now)
    audit.record(
        session,
        actor,
        "fleet.rollout_started",
        "fleet_rollout",
        rollout.id,
        after={"template_id": template.id, "percentage": percentage, "applied": applied},
    )
    return rollout_view(session, actor, rollout.id)


def get_rollout(
    session: Session, actor: Actor, hall: Hall, rollout_id: int, now: datetime
) -> dict[str, Any]:
    """The rollout's view; a running rollout whose devices reject its template halts first."""
    rollout = find_rollout(session, actor, rollout_id)
    if rollout.status == "running" and rejecting_devices(
        session, rollout, session.get(FleetTemplate, rollout.template_id)
    ):
        halt_if_rejecting(session, hall, rollout.id, now, source="read")  # locks, checks again
    return rollout_view(session, actor, rollout.id)


def advance_rollout(
    session: Session,
    actor: Actor,
    rollout_id: int,
    percentage: int,
    now: datetime,
    hall: Hall | None = None,
) -> dict[str, Any]:
    """Grow a running rollout. Devices rejecting its template halt it instead: 422
    ``rollout_halted`` and nothing else changes (an HTTP caller must keep the halt although it
    refuses the request: see ``halt_if_rejecting``)."""
    rollout = find_rollout(session, actor, rollout_id, lock=True)
    if rollout.status == "halted":
        template = session.get(FleetTemplate, rollout.template_id)
        raise halted_error(rollout, rejecting_devices(session, rollout, template))
    if rollout.status != "running":
        raise BusinessRuleViolation(f"rollout is {rollout.status}", code="rollout_not_running")
    rejecting = check(session, hall or port(session, Hall), rollout, now, "advance")
    if rejecting:
        raise halted_error(rollout, rejecting)
    if not rollout.percentage < percentage <= 100:
        raise ValidationFailed(
            "a rollout only grows", details={"percentage": [f"{rollout.percentage + 1}..100"]}
        )
    before = rollout.percentage
    rollout.percentage, rollout.updated_at = percentage, now
    if percentage == 100:
        rollout.status = "completed"
    applied = _apply(session, actor, rollout, session.get(FleetTemplate, rollout.template_id), now)
    audit.record(
        session,
        actor,
        "fleet.rollout_advanced",
        "fleet_rollout",
        rollout.id,
        {"percentage": before},
        {"percentage": percentage, "applied": applied},
    )
    return rollout_view(session, actor, rollout.id)


def _restore(session: Session, actor: Actor, row: FleetRolloutDevice, now: datetime) -> bool:
    """Give the device its previous values back; False for a device gone or retired (a
    retired twin takes no configuration: its row stays as it was)."""
    device = devices_port.find_device(session, row.device_id)
    if device is None or device.status == "retired":
        return False
    devices_port.set_desired(session, actor, row.device_id, dict(row.previous), now)
    row.state = "rolled_back"
    return True


def rollback_rollout(
    session: Session, actor: Actor, rollout_id: int, now: datetime, hall: Hall | None = None
) -> dict[str, Any]:
    """Restore every applied device (from running, halted or completed); clears the rollout's
    ``fleet_template_rejected`` alarms."""
    rollout = find_rollout(session, actor, rollout_id, lock=True)
    if rollout.status == "rolled_back":
        return rollout_view(session, actor, rollout.id)
    rows = list(
        session.scalars(
            select(FleetRolloutDevice).where(
                FleetRolloutDevice.rollout_id == rollout.id, FleetRolloutDevice.state == "applied"
            )
        )
    )
    restored = 0
    for row in rows:
        restored += _restore(session, actor, row, now)
    before = rollout.status
    rollout.status, rollout.updated_at = "rolled_back", now
    audit.record(
        session,
        actor,
        "fleet.rollout_rolled_back",
        "fleet_rollout",
        rollout.id,
        {"status": before},
        {"status": "rolled_back", "restored": restored},
    )
    if before == "halted":
        hall = hall or port(session, Hall)
        clear_alarms(session, hall, rollout, [r.device_id for r in rows], now)
    return rollout_view(session, actor, rollout.id)


def resume_rollout(
    session: Session,
    actor: Actor,
    hall: Hall,
    rollout_id: int,
    now: datetime,
    *,
    exclude_rejecting: bool = False,
) -> dict[str, Any]:
    """Continue a halted rollout (admin) after the operator looked: refused (422
    ``rollout_still_rejected``, the devices in details) while a device still rejects the
    template, i.e. until it is fixed (reports the version without the refusal) or retired.
    ``exclude_rejecting``: instead give those devices their previous values back (exactly as a
    rollback does for them); they stay out of the later stages. Back to ``running``."""
    rollout = find_rollout(session, actor, rollout_id, lock=True)
    if rollout.status != "halted":
        raise BusinessRuleViolation(f"rollout is {rollout.status}", code="rollout_not_halted")
    template = session.get(FleetTemplate, rollout.template_id)
    rejecting = rejecting_devices(session, rollout, template)
    if rejecting and not exclude_rejecting:
        raise BusinessRuleViolation(
            f"{len(rejecting)} device(s) still reject the template: fix or retire them, "
            "or resume with exclude_rejecting",
            code="rollout_still_rejected",
            details={"rollout_id": rollout.id, "devices": rejecting},
        )
    excluded = []
    if rejecting:
        ids = {entry["device_id"] for entry in rejecting}
        for row in session.scalars(
            select(FleetRolloutDevice).where(
                FleetRolloutDevice.rollout_id == rollout.id,
                FleetRolloutDevice.device_id.in_(ids),
                FleetRolloutDevice.state == "applied",
            )
        ):
            if _restore(session, actor, row, now):
                excluded.append(row.device_id)
    rollout.status, rollout.updated_at = "running", now
    audit.record(
        session,
        actor,
        "fleet.rollout_resumed",
        "fleet_rollout",
        rollout.id,
        {"status": "halted"},
        {"status": "running", "excluded": sorted(excluded), "rejecting": rejecting},
    )
    all_devices = session.scalars(
        select(FleetRolloutDevice.device_id).where(FleetRolloutDevice.rollout_id == rollout.id)
    )
    clear_alarms(session, hall, rollout, list(all_devices), now)
    session.flush()
    return rollout_view(session, actor, rollout.id)
