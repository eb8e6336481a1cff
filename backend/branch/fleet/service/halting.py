"""A running rollout halts by itself as soon as one of its devices, answering the version the
rollout gave it (or a later one), rejects a key of the template: status ``halted``, an audit
record ``fleet.rollout_halted`` (system actor) naming each rejecting device and its rejected
keys with their reasons, and a device alarm ``fleet_template_rejected`` (major) on each of
those devices, pushed as ``device.alarm`` to the device's branch and to admins after the
commit.

It is detected where the report arrives (``on_config_reported``, called by the hall's
device-event hook) and again whenever the rollout is read or advanced (``check``,
``halt_if_rejecting``), so a rejection stored before the hook existed (or skipped because an
operator held the rollout at that moment) is still seen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.alarms import raise_and_push
from backend.branch.fleet.state import (
    DEVICE_TYPE,
    REJECTED_ALARM,
    REJECTED_SEVERITY,
    RolloutHalted,
    rejecting_devices,
)
from backend.branch.models import FleetRollout, FleetRolloutDevice, FleetTemplate
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.context import SYSTEM


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


def clear_alarms(
    session: Session, hall: Hall, rollout: FleetRollout, device_ids: list[str], now: datetime
) -> None:
    for device_id in device_ids:
        _alarm(session, hall, device_id, now, active=False, details={"rollout_id": rollout.id})


def halted_error(rollout: FleetRollout, rejecting: list[dict[str, Any]]) -> RolloutHalted:
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
    return rollout is not None and bool(check(session, hall, rollout, now, source))


def check(
    session: Session, hall: Hall, rollout: FleetRollout, now: datetime, source: str
) -> list[dict[str, Any]]:
    """Halt the (locked) rollout if it runs and devices reject its template; those devices
    (empty: nothing happened)."""
    if rollout.status != "running":
        return []
    template = session.get(FleetTemplate, rollout.template_id)
    rejecting = rejecting_devices(session, rollout, template)
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
        if rollout is not None and check(session, hall, rollout, now, "device_report"):
            halted = True
    return "rollout_halted" if halted else None
