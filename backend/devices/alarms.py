"""Device alarms (ThingsBoard's model): a condition is active or cleared and, separately,
acknowledged or not; an alarm closes when it is both. ``apply_signal`` turns the rules' signals
(rules.py) into alarms: raise, escalate (severity only goes up), re-raise a cleared but not yet
acknowledged one, clear. People acknowledge: admins, and the tellers and RMs of the branch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.devices.models import Device, DeviceAlarm
from backend.devices.registry import can_see_branch, visible_branch_filter
from backend.devices.rules import SEVERITY_RANK, AlarmSignal
from backend.platform import audit
from backend.platform.clock import isoformat, utcnow
from backend.platform.context import Actor
from backend.platform.errors import NotFound, PermissionDenied
from backend.platform.pagination import Page, paginate

ALARM_ACK_ROLES = ("teller", "rm")


def alarm_view(alarm: DeviceAlarm, device_id: str | None = None) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "device_id": device_id,
        "branch_id": alarm.branch_id,
        "rule": alarm.rule,
        "severity": alarm.severity,
        "message": alarm.message,
        "details": alarm.details or {},
        "status": alarm.status,
        "active": alarm.active,
        "acknowledged": alarm.acknowledged,
        "occurrences": alarm.occurrences,
        "raised_at": isoformat(alarm.raised_at),
        "cleared_at": isoformat(alarm.cleared_at),
        "acked_at": isoformat(alarm.acked_at),
        "acked_by": alarm.acked_by,
    }


def list_alarms(
    session: Session,
    actor: Actor,
    *,
    branch_id: str | None = None,
    device_id: str | None = None,
    open_only: bool = True,
    severity: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    stmt = select(DeviceAlarm).join(Device, Device.id == DeviceAlarm.device_pk)
    visible = visible_branch_filter(actor)
    if visible is not None:
        stmt = stmt.where(visible)
    if branch_id:
        stmt = stmt.where(DeviceAlarm.branch_id == branch_id)
    if device_id:
        stmt = stmt.where(Device.device_id == device_id)
    if open_only:
        stmt = stmt.where(DeviceAlarm.closed.is_(False))
    if severity:
        stmt = stmt.where(DeviceAlarm.severity == severity)
    page = paginate(session, stmt, DeviceAlarm.id, limit=limit, cursor=cursor, descending=True)
    ids = {a.device_pk for a in page.items}
    names = dict(
        session.execute(select(Device.id, Device.device_id).where(Device.id.in_(ids))).all()
    )
    page.items = [alarm_view(a, names.get(a.device_pk)) for a in page.items]
    return page


def acknowledge_alarm(
    session: Session, actor: Actor, alarm_id: int, *, now: datetime | None = None
) -> tuple[DeviceAlarm, Device]:
    alarm = session.get(DeviceAlarm, alarm_id)
    device = session.get(Device, alarm.device_pk) if alarm is not None else None
    if alarm is None or device is None or not can_see_branch(actor, device.branch_id):
        raise NotFound("alarm not found", code="alarm_not_found")
    if not actor.is_admin and actor.role not in ALARM_ACK_ROLES:
        raise PermissionDenied(
            f"role {actor.role!r} may not acknowledge alarms",
            details={"required_roles": ["admin", *ALARM_ACK_ROLES]},
        )
    if alarm.acknowledged:
        return alarm, device
    before = alarm_view(alarm, device.device_id)
    alarm.acknowledged = True
    alarm.acked_at = now or utcnow()
    alarm.acked_by = actor.user_id
    alarm.closed = not alarm.active
    audit.record(
        session,
        actor,
        "device.alarm_ack",
        "device_alarm",
        alarm.id,
        before,
        alarm_view(alarm, device.device_id),
    )
    return alarm, device


def apply_signal(
    session: Session,
    device: Device,
    signal: AlarmSignal,
    now: datetime,
    open_alarms: dict[tuple[int, str], DeviceAlarm],
) -> DeviceAlarm | None:
    """Raise, escalate, re-raise or clear one alarm; the alarm that changed, or None.

    ``open_alarms`` maps (device pk, rule) to the device's open (not closed) alarm and is
    updated in place, so several signals of one batch see each other.
    """
    key = (device.id, signal.rule)
    alarm = open_alarms.get(key)
    if signal.active:
        if alarm is None:
            alarm = DeviceAlarm(
                device_pk=device.id,
                branch_id=device.branch_id,
                rule=signal.rule,
                severity=signal.severity,
                message=signal.message[:200],
                details=signal.details,
                active=True,
                acknowledged=False,
                closed=False,
                occurrences=1,
                raised_at=now,
            )
            session.add(alarm)
            open_alarms[key] = alarm
            return alarm
        changed = False
        if not alarm.active:  # cleared but not yet acknowledged: it happens again
            alarm.active, alarm.cleared_at = True, None
            alarm.occurrences += 1
            changed = True
        if SEVERITY_RANK[signal.severity] > SEVERITY_RANK[alarm.severity]:
            alarm.severity = signal.severity
            changed = True
        if changed:
            alarm.message, alarm.details = signal.message[:200], signal.details
        return alarm if changed else None
    if alarm is None or not alarm.active:
        return None
    alarm.active = False
    alarm.cleared_at = now
    if alarm.acknowledged:
        alarm.closed = True
        open_alarms.pop(key, None)
    return alarm


def open_alarms_for(session: Session, device_pks: set[int]) -> dict[tuple[int, str], DeviceAlarm]:
    if not device_pks:
        return {}
    alarms = session.scalars(
        select(DeviceAlarm).where(
            DeviceAlarm.device_pk.in_(device_pks), DeviceAlarm.closed.is_(False)
        )
    )
    return {(a.device_pk, a.rule): a for a in alarms}
