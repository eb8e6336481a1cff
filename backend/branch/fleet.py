"""Smart-counter fleet (智能柜台): parameter templates per device model, applied through each
device's desired configuration (the twin, backend/devices), in stages, with rollback; the
fleet's lifecycle at a glance; the off-counter rate.

A rollout starts with a percentage of the model's devices (chosen by a stable hash of rollout
and device, so the first 10 % stay in the next 50 %), advances to larger percentages, and can
be rolled back: each device gets back the values the template changed, as they were before
(keys that were absent are removed again). A device is in sync when it reported the desired
version and refused none of the template's keys; the rollout's health counts them.

A running rollout **halts by itself** as soon as one of its devices, answering the version the
rollout gave it (or a later one), rejects a key of the template: status ``halted``, an audit
record ``fleet.rollout_halted`` (system actor) naming each rejecting device and its rejected
keys with their reasons, and a device alarm ``fleet_template_rejected`` (major) on each of
those devices, pushed as ``device.alarm`` to the device's branch and to admins after the
commit. It is detected where the report arrives (``on_config_reported``, called by the hall's
device-event hook) and again whenever the rollout is read or advanced, so a rejection stored
before the hook existed (or skipped because an operator held the rollout at that moment) is
still seen. A halted rollout cannot advance (422 ``rollout_halted``) nor be doubled by a new
rollout of the model (409); it can be rolled back, or resumed by an admin: refused (422
``rollout_still_rejected``) while a device still rejects, unless ``exclude_rejecting`` is asked
for, which gives those devices their previous values back (they stay out of later stages).
Retired devices no longer count.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.branch import devices_port, runtime
from backend.branch.access import ensure_branch_staff, ensure_role
from backend.branch.alarms import raise_and_push
from backend.branch.models import FleetRollout, FleetRolloutDevice, FleetTemplate
from backend.branch.queue import get_hall, local_day
from backend.branch.runtime import Hall
from backend.branch.stats import (
    off_counter_rate,
    parse_day,
    smart_counter_totals,
    teller_served,
)
from backend.platform import audit
from backend.platform.clock import isoformat
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed

DEVICE_TYPE = "counter"
LIFECYCLE = ("provisioned", "active", "maintenance", "retired")
OPEN_STATUSES = ("running", "halted")  # at most one rollout of a model is open
REJECTED_ALARM = "fleet_template_rejected"
REJECTED_SEVERITY = "major"


class RolloutHalted(BusinessRuleViolation):
    """The rollout is halted (or was just halted): devices reject its template."""

    code = "rollout_halted"


def template_view(t: FleetTemplate) -> dict[str, Any]:
    return {
        "id": t.id,
        "model": t.model,
        "name": t.name,
        "version": t.version,
        "params": t.params,
        "created_at": isoformat(t.created_at),
    }


def create_template(
    session: Session,
    actor: Actor,
    *,
    model: str,
    name: str,
    params: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """A new version of the (model, name) template (admin). Templates are never edited."""
    ensure_role(actor, "admin")
    if not isinstance(params, dict) or not params or any(v is None for v in params.values()):
        raise ValidationFailed(
            "params is a non-empty object without nulls", details={"params": ["an object"]}
        )
    if not model.strip() or not name.strip():
        raise ValidationFailed("model and name are required", details={"model": ["required"]})
    last = session.scalar(
        select(func.max(FleetTemplate.version)).where(
            FleetTemplate.model == model, FleetTemplate.name == name
        )
    )
    template = FleetTemplate(
        model=model,
        name=name,
        version=(last or 0) + 1,
        params=params,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(template)
    session.flush()
    audit.record(
        session,
        actor,
        "fleet.template",
        "fleet_template",
        template.id,
        after=template_view(template),
    )
    return template_view(template)


def list_templates(session: Session, actor: Actor, model: str | None = None) -> list[dict]:
    ensure_role(actor, "admin")
    stmt = select(FleetTemplate).order_by(FleetTemplate.id)
    if model:
        stmt = stmt.where(FleetTemplate.model == model)
    return [template_view(t) for t in session.scalars(stmt)]


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


def _get_rollout(
    session: Session, actor: Actor, rollout_id: int, *, lock: bool = False
) -> FleetRollout:
    """The rollout (admin). A branch's rollout is another branch's staff's 404, like the
    branch itself; ``lock``: FOR UPDATE, so changes of one rollout (and a halt) serialize."""
    if lock:
        rollout = session.get(
            FleetRollout, rollout_id, with_for_update=True, populate_existing=True
        )
    else:
        rollout = session.get(FleetRollout, rollout_id)
    if rollout is None:
        raise NotFound("rollout not found", code="rollout_not_found")
    if rollout.branch_id is not None:
        ensure_branch_staff(session, actor, rollout.branch_id, "admin")
    else:
        ensure_role(actor, "admin")
    return rollout


# --------------------------------------------------------------------------- rejections


def _rejected_keys(
    device: devices_port.DeviceInfo | None, row: FleetRolloutDevice, template: FleetTemplate
) -> dict[str, str]:
    """The template's keys the device refused, with the device's reasons: only from a report of
    the version the rollout gave it (or later), so an older refusal does not count."""
    if device is None or device.reported_version < row.applied_version:
        return {}
    raw = device.reported.get("rejected") or {}
    pairs = raw.items() if isinstance(raw, dict) else ((k, "rejected") for k in raw)
    return {str(k): str(v) for k, v in pairs if k in template.params}


def _rejecting(
    session: Session, rollout: FleetRollout, template: FleetTemplate
) -> list[dict[str, Any]]:
    """The rollout's devices (still applied, not retired) that reject a key of the template."""
    found = []
    for row in session.scalars(
        select(FleetRolloutDevice)
        .where(FleetRolloutDevice.rollout_id == rollout.id, FleetRolloutDevice.state == "applied")
        .order_by(FleetRolloutDevice.id)
    ):
        device = devices_port.find_device(session, row.device_id)
        if device is None or device.status == "retired":
            continue
        rejected = _rejected_keys(device, row, template)
        if rejected:
            found.append(
                {
                    "device_id": row.device_id,
                    "branch_id": device.branch_id,
                    "rejected": rejected,
                    "reported_version": device.reported_version,
                }
            )
    return found


def _alarm(
    session: Session,
    hall: Hall,
    device_id: str,
    now: datetime,
    *,
    active: bool,
    message: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Raise or clear the device's ``fleet_template_rejected`` alarm; push the change."""
    raise_and_push(
        session,
        hall,
        device_id,
        REJECTED_ALARM,
        REJECTED_SEVERITY,
        message or "fleet template accepted again",
        details or {},
        now,
        active=active,
    )


def _clear_alarms(
    session: Session, hall: Hall, rollout: FleetRollout, device_ids: list[str], now: datetime
) -> None:
    for device_id in device_ids:
        _alarm(session, hall, device_id, now, active=False, details={"rollout_id": rollout.id})


def _halted_error(rollout: FleetRollout, rejecting: list[dict[str, Any]]) -> RolloutHalted:
    return RolloutHalted(
        f"rollout {rollout.id} is halted: {len(rejecting)} device(s) reject its template; "
        "roll it back, or fix or retire them and resume",
        details={"rollout_id": rollout.id, "devices": rejecting},
    )


def _halt(
    session: Session,
    hall: Hall,
    rollout: FleetRollout,
    template: FleetTemplate,
    rejecting: list[dict[str, Any]],
    now: datetime,
    source: str,
) -> None:
    rollout.status, rollout.updated_at = "halted", now
    audit.record(
        session,
        SYSTEM,
        "fleet.rollout_halted",
        "fleet_rollout",
        rollout.id,
        {"status": "running", "percentage": rollout.percentage},
        {"status": "halted", "detected_by": source, "devices": rejecting},
    )
    for entry in rejecting:
        keys = ", ".join(sorted(entry["rejected"]))
        _alarm(
            session,
            hall,
            entry["device_id"],
            now,
            active=True,
            message=(
                f"rejected {keys} of template {template.name} v{template.version}; "
                f"rollout {rollout.id} halted"
            ),
            details={
                "rollout_id": rollout.id,
                "template_id": template.id,
                "rejected": entry["rejected"],
            },
        )
    session.flush()


def halt_if_rejecting(
    session: Session, hall: Hall, rollout_id: int, now: datetime, *, source: str = "read"
) -> bool:
    """Halt the rollout when it is running and a device rejects its template (no access
    check: the system acts); True when it halted now. Locks the rollout row first."""
    rollout = session.get(FleetRollout, rollout_id, with_for_update=True, populate_existing=True)
    return rollout is not None and bool(_check(session, hall, rollout, now, source))


def _check(
    session: Session, hall: Hall, rollout: FleetRollout, now: datetime, source: str
) -> list[dict[str, Any]]:
    """Halt the (locked) rollout if it runs and devices reject its template; those devices
    (empty: nothing happened)."""
    if rollout.status != "running":
        return []
    template = session.get(FleetTemplate, rollout.template_id)
    rejecting = _rejecting(session, rollout, template)
    if rejecting:
        _halt(session, hall, rollout, template, rejecting, now, source)
    return rejecting


def on_config_reported(session: Session, hall: Hall, device_id: str, now: datetime) -> str | None:
    """The hall's hook for a device's ``config/reported`` (the ingest stored it already): halt
    every running rollout the device is in when it rejects a key of the rollout's template.

    A rollout an operator's request holds right now (advance, rollback) is skipped rather than
    waited for (SKIP LOCKED: that request locks the rollout and then writes device rows, which
    the ingest's transaction holds, so waiting could deadlock); the next read or advance of the
    rollout halts it."""
    device = devices_port.find_device(session, device_id)
    if device is None or device.device_type != DEVICE_TYPE or not device.reported.get("rejected"):
        return None
    rollout_ids = list(
        session.scalars(
            select(FleetRolloutDevice.rollout_id)
            .join(FleetRollout, FleetRollout.id == FleetRolloutDevice.rollout_id)
            .where(
                FleetRolloutDevice.device_id == device_id,
                FleetRolloutDevice.state == "applied",
                FleetRollout.status == "running",
            )
        )
    )
    halted = False
    for rollout_id in rollout_ids:
        rollout = session.scalar(
            select(FleetRollout)
            .where(FleetRollout.id == rollout_id, FleetRollout.status == "running")
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if rollout is not None and _check(session, hall, rollout, now, "device_report"):
            halted = True
    return "rollout_halted" if halted else None


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
    rollout = _get_rollout(session, actor, rollout_id)
    if rollout.status == "running" and _rejecting(
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
    rollout = _get_rollout(session, actor, rollout_id, lock=True)
    if rollout.status == "halted":
        template = session.get(FleetTemplate, rollout.template_id)
        raise _halted_error(rollout, _rejecting(session, rollout, template))
    if rollout.status != "running":
        raise BusinessRuleViolation(f"rollout is {rollout.status}", code="rollout_not_running")
    rejecting = _check(session, hall or runtime.current(), rollout, now, "advance")
    if rejecting:
        raise _halted_error(rollout, rejecting)
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
    rollout = _get_rollout(session, actor, rollout_id, lock=True)
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
        hall = hall or runtime.current()
        _clear_alarms(session, hall, rollout, [r.device_id for r in rows], now)
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
    rollout = _get_rollout(session, actor, rollout_id, lock=True)
    if rollout.status != "halted":
        raise BusinessRuleViolation(f"rollout is {rollout.status}", code="rollout_not_halted")
    template = session.get(FleetTemplate, rollout.template_id)
    rejecting = _rejecting(session, rollout, template)
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
    _clear_alarms(session, hall, rollout, list(all_devices), now)
    session.flush()
    return rollout_view(session, actor, rollout.id)


def rollout_view(session: Session, actor: Actor, rollout_id: int) -> dict[str, Any]:
    rollout = _get_rollout(session, actor, rollout_id)
    template = session.get(FleetTemplate, rollout.template_id)
    devices = []
    health = {
        "applied": 0,
        "in_sync": 0,
        "rejected": 0,
        "pending": 0,
        "rolled_back": 0,
        "retired": 0,
    }
    for row in session.scalars(
        select(FleetRolloutDevice)
        .where(FleetRolloutDevice.rollout_id == rollout.id)
        .order_by(FleetRolloutDevice.id)
    ):
        device = devices_port.find_device(session, row.device_id)
        rejected = sorted(_rejected_keys(device, row, template))
        if row.state == "rolled_back":
            state = "rolled_back"
        elif device is not None and device.status == "retired":
            state = "retired"
        elif rejected:
            state = "rejected"
        elif device is not None and device.reported_version >= row.applied_version:
            state = "in_sync"
        else:
            state = "pending"
        health["applied"] += row.state == "applied"
        health[state] += 1
        devices.append(
            {
                "device_id": row.device_id,
                "state": state,
                "rejected": rejected,
                "applied_version": row.applied_version,
            }
        )
    return {
        "id": rollout.id,
        "template": template_view(template),
        "branch_id": rollout.branch_id,
        "percentage": rollout.percentage,
        "status": rollout.status,
        "health": health,
        "devices": devices,
        "created_at": isoformat(rollout.created_at),
    }


def fleet_overview(session: Session, actor: Actor, branch_id: str) -> dict[str, Any]:
    """The branch's smart counters by model and lifecycle status."""
    ensure_branch_staff(session, actor, branch_id)
    models: dict[str, dict[str, Any]] = {}
    for device in devices_port.devices_of(session, branch_id, DEVICE_TYPE):
        entry = models.setdefault(
            device.model or "unknown", {"devices": 0, "online": 0, **dict.fromkeys(LIFECYCLE, 0)}
        )
        entry["devices"] += 1
        entry["online"] += int(device.online)
        if device.status in entry:
            entry[device.status] += 1
    return {"branch_id": branch_id, "models": models}


def off_counter(
    session: Session,
    actor: Actor,
    branch_id: str,
    start: date | str | None,
    end: date | str | None,
    now: datetime,
) -> dict[str, Any]:
    """Off-counter rate (离柜率) per day and over the range: smart-counter transactions /
    (those + clients served at teller counters). Days are the branch's; default today."""
    ensure_branch_staff(session, actor, branch_id)
    today = date.fromisoformat(local_day(get_hall(session, branch_id), now))
    start = start if isinstance(start, date) else parse_day(start, today)
    end = end if isinstance(end, date) else parse_day(end, today)
    if end < start or (end - start).days > 92:
        raise ValidationFailed("from..to spans at most 92 days", details={"to": ["after from"]})
    days, total_smart, total_served = [], 0, 0
    day = start
    while day <= end:
        smart, _failed = smart_counter_totals(session, branch_id, [day.isoformat()])
        served = teller_served(session, branch_id, [day.isoformat()])
        total_smart += smart
        total_served += served
        days.append(
            {
                "day": day.isoformat(),
                "smart_transactions": smart,
                "teller_served": served,
                "off_counter_rate": off_counter_rate(smart, served),
            }
        )
        day += timedelta(days=1)
    return {
        "branch_id": branch_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "smart_transactions": total_smart,
        "teller_served": total_served,
        "off_counter_rate": off_counter_rate(total_smart, total_served),
        "days": days,
    }
