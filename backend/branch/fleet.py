"""Smart-counter fleet (智能柜台): parameter templates per device model, applied through each
device's desired configuration (the twin, backend/devices), in stages, with rollback; the
fleet's lifecycle at a glance; the off-counter rate.

A rollout starts with a percentage of the model's devices (chosen by a stable hash of rollout
and device, so the first 10 % stay in the next 50 %), advances to larger percentages, and can
be rolled back: each device gets back the values the template changed, as they were before
(keys that were absent are removed again). A device is in sync when it reported the desired
version and refused none of the template's keys; the rollout's health counts them.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.access import ensure_branch_staff, ensure_role
from backend.branch.models import FleetRollout, FleetRolloutDevice, FleetTemplate
from backend.branch.queue import get_hall, local_day
from backend.branch.stats import (
    off_counter_rate,
    parse_day,
    smart_counter_totals,
    teller_served,
)
from backend.platform import audit
from backend.platform.clock import isoformat
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed

DEVICE_TYPE = "counter"
LIFECYCLE = ("provisioned", "active", "maintenance", "retired")


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


def _get_rollout(session: Session, actor: Actor, rollout_id: int) -> FleetRollout:
    ensure_role(actor, "admin")
    rollout = session.get(FleetRollout, rollout_id)
    if rollout is None:
        raise NotFound("rollout not found", code="rollout_not_found")
    return rollout


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
        .where(FleetRollout.status == "running", FleetTemplate.model == template.model)
    )
    if running is not None:
        raise Conflict(
            f"rollout {running} of this model is running",
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


def advance_rollout(
    session: Session, actor: Actor, rollout_id: int, percentage: int, now: datetime
) -> dict[str, Any]:
    rollout = _get_rollout(session, actor, rollout_id)
    if rollout.status != "running":
        raise BusinessRuleViolation(f"rollout is {rollout.status}", code="rollout_not_running")
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


def rollback_rollout(
    session: Session, actor: Actor, rollout_id: int, now: datetime
) -> dict[str, Any]:
    rollout = _get_rollout(session, actor, rollout_id)
    if rollout.status == "rolled_back":
        return rollout_view(session, actor, rollout.id)
    rows = session.scalars(
        select(FleetRolloutDevice).where(
            FleetRolloutDevice.rollout_id == rollout.id, FleetRolloutDevice.state == "applied"
        )
    )
    restored = 0
    for row in rows:
        if devices_port.find_device(session, row.device_id) is None:
            continue
        devices_port.set_desired(session, actor, row.device_id, dict(row.previous), now)
        row.state = "rolled_back"
        restored += 1
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
    return rollout_view(session, actor, rollout.id)


def rollout_view(session: Session, actor: Actor, rollout_id: int) -> dict[str, Any]:
    rollout = _get_rollout(session, actor, rollout_id)
    template = session.get(FleetTemplate, rollout.template_id)
    devices = []
    health = {"applied": 0, "in_sync": 0, "rejected": 0, "pending": 0, "rolled_back": 0}
    for row in session.scalars(
        select(FleetRolloutDevice)
        .where(FleetRolloutDevice.rollout_id == rollout.id)
        .order_by(FleetRolloutDevice.id)
    ):
        device = devices_port.find_device(session, row.device_id)
        rejected = (
            sorted(k for k in (device.reported.get("rejected") or {}) if k in template.params)
            if device
            else []
        )
        if row.state == "rolled_back":
            state = "rolled_back"
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
