"""The fleet's read side: the templates (admin), the branch's smart counters by model and
lifecycle status, and the off-counter rate (离柜率) per day. Reads only."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.access import ensure_branch_staff, ensure_role
from backend.branch.fleet.state import DEVICE_TYPE, LIFECYCLE, template_view
from backend.branch.halls import get_hall, local_day
from backend.branch.models import FleetRollout, FleetTemplate
from backend.branch.stats.measures import (
    off_counter_rate,
    parse_day,
    smart_counter_totals,
    teller_served,
)
from backend.platform.clock import isoformat
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.pagination import Page, paginate


def list_templates(
    session: Session,
    actor: Actor,
    model: str | None = None,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    ensure_role(actor, "admin")
    stmt = select(FleetTemplate)
    if model:
        stmt = stmt.where(FleetTemplate.model == model)
    page = paginate(session, stmt, FleetTemplate.id, limit=limit, cursor=cursor)
    return Page(items=[template_view(t) for t in page.items], next_cursor=page.next_cursor)


def list_rollouts(
    session: Session,
    actor: Actor,
    status: str | None = None,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Rollouts, newest first (admin), each with its template; a rollout's devices and health
    are its own read (``get_rollout``)."""
    ensure_role(actor, "admin")
    stmt = select(FleetRollout)
    if status:
        stmt = stmt.where(FleetRollout.status == status)
    page = paginate(session, stmt, FleetRollout.id, limit=limit, cursor=cursor, descending=True)
    ids = {r.template_id for r in page.items}
    templates = {
        t.id: template_view(t)
        for t in session.scalars(select(FleetTemplate).where(FleetTemplate.id.in_(ids)))
    }
    items = [
        {
            "id": r.id,
            "template": templates.get(r.template_id),
            "branch_id": r.branch_id,
            "percentage": r.percentage,
            "status": r.status,
            "created_at": isoformat(r.created_at),
        }
        for r in page.items
    ]
    return Page(items=items, next_cursor=page.next_cursor)


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
