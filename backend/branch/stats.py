"""Customer flow statistics of one branch and day (the branch's local day).

From the tickets and their service legs: arrivals per hour, wait and service time percentiles
(overall and per service), abandonment (no-shows and clients who cancelled in the hall, and
remote bookings that never came), counter utilisation (time serving / time open, from the
counters' shifts) and the share of transactions done on smart counters (离柜率, off-counter
rate: smart-counter transactions / (those + clients served at a teller counter)).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.branch.access import ensure_branch_staff
from backend.branch.models import (
    CounterShift,
    HallCounter,
    ServiceLeg,
    SmartCounterDaily,
    Ticket,
)
from backend.branch.queue import get_hall, local_day, local_hour
from backend.branch.rules import percentile
from backend.platform.clock import ensure_utc
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed

SERVED_OUTCOMES = ("done", "transferred", "returned")
FLOW_ROLES = ("teller", "rm", "approver")


def _dist(values: list[float]) -> dict[str, Any]:
    def r(v):
        return None if v is None else round(v, 1)

    return {
        "n": len(values),
        "mean": r(sum(values) / len(values)) if values else None,
        "p50": r(percentile(values, 50)),
        "p90": r(percentile(values, 90)),
        "p95": r(percentile(values, 95)),
        "max": r(max(values)) if values else None,
    }


def day_bounds(tz: str, day: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone)
    return ensure_utc(start), ensure_utc(start + timedelta(days=1))


def parse_day(value: str | None, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("day must be YYYY-MM-DD", details={"day": ["YYYY-MM-DD"]}) from None


def smart_counter_totals(session: Session, branch_id: str, days: list[str]) -> tuple[int, int]:
    ok, failed = session.execute(
        select(
            func.coalesce(func.sum(SmartCounterDaily.ok), 0),
            func.coalesce(func.sum(SmartCounterDaily.failed), 0),
        ).where(SmartCounterDaily.branch_id == branch_id, SmartCounterDaily.day.in_(days))
    ).one()
    return int(ok), int(failed)


def teller_served(session: Session, branch_id: str, days: list[str]) -> int:
    return int(
        session.scalar(
            select(func.count(ServiceLeg.id)).where(
                ServiceLeg.branch_id == branch_id,
                ServiceLeg.day.in_(days),
                ServiceLeg.outcome.in_(SERVED_OUTCOMES),
            )
        )
        or 0
    )


def off_counter_rate(smart_ok: int, served: int) -> float | None:
    total = smart_ok + served
    return None if total == 0 else round(smart_ok / total, 4)


def flow_stats(
    session: Session, actor: Actor, branch_id: str, day: date | str | None, now: datetime
) -> dict[str, Any]:
    """``day``: a date, "YYYY-MM-DD", or None for today (the branch's local day)."""
    ensure_branch_staff(session, actor, branch_id, *FLOW_ROLES)
    hall = get_hall(session, branch_id)
    if not isinstance(day, date):
        day = parse_day(day, date.fromisoformat(local_day(hall, now)))
    start, end = day_bounds(hall.timezone, day)
    day_s = day.isoformat()
    tickets = list(
        session.scalars(select(Ticket).where(Ticket.branch_id == branch_id, Ticket.day == day_s))
    )
    legs = list(
        session.scalars(
            select(ServiceLeg).where(ServiceLeg.branch_id == branch_id, ServiceLeg.day == day_s)
        )
    )
    arrivals = [0] * 24
    for t in tickets:
        if t.arrived_at is not None:
            arrivals[local_hour(hall, t.arrived_at)] += 1
    waits = [
        (ensure_utc(t.first_called_at) - ensure_utc(t.arrived_at)).total_seconds()
        for t in tickets
        if t.first_called_at is not None and t.arrived_at is not None
    ]
    served_legs = [leg for leg in legs if leg.outcome in SERVED_OUTCOMES and leg.ended_at]
    service_times = [
        (ensure_utc(leg.ended_at) - ensure_utc(leg.called_at)).total_seconds()
        for leg in served_legs
    ]
    per_service: dict[str, dict[str, Any]] = {}
    for code in sorted({t.original_service for t in tickets} | {leg.service for leg in legs}):
        per_service[code] = {
            "tickets": sum(1 for t in tickets if t.original_service == code),
            "wait_s": _dist(
                [
                    (ensure_utc(t.first_called_at) - ensure_utc(t.arrived_at)).total_seconds()
                    for t in tickets
                    if t.original_service == code and t.first_called_at and t.arrived_at
                ]
            ),
            "service_s": _dist(
                [
                    (ensure_utc(leg.ended_at) - ensure_utc(leg.called_at)).total_seconds()
                    for leg in served_legs
                    if leg.service == code
                ]
            ),
        }
    arrived = sum(1 for t in tickets if t.arrived_at is not None)
    no_shows = sum(1 for t in tickets if t.status == "no_show")
    left = sum(1 for t in tickets if t.status == "cancelled" and t.arrived_at is not None)
    never_came = sum(1 for t in tickets if t.status == "expired")
    counters = _utilisation(session, branch_id, legs, start, min(end, now))
    smart_ok, smart_failed = smart_counter_totals(session, branch_id, [day_s])
    served = len(served_legs)
    return {
        "branch_id": branch_id,
        "day": day_s,
        "timezone": hall.timezone,
        "tickets": len(tickets),
        "arrivals": arrived,
        "arrivals_per_hour": arrivals,
        "served": served,
        "wait_s": _dist(waits),
        "service_s": _dist(service_times),
        "per_service": per_service,
        "abandonment": {
            "no_show": no_shows,
            "left": left,
            "remote_never_arrived": never_came,
            "rate": round((no_shows + left) / arrived, 4) if arrived else None,
        },
        "counters": counters,
        "smart_counters": {
            "transactions": smart_ok,
            "failed": smart_failed,
            "teller_served": served,
            "off_counter_rate": off_counter_rate(smart_ok, served),
        },
    }


def _utilisation(
    session: Session, branch_id: str, legs: list[ServiceLeg], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    out = []
    counters = session.scalars(
        select(HallCounter)
        .where(HallCounter.branch_id == branch_id)
        .order_by(HallCounter.counter_id)
    )
    for counter in counters:
        shifts = session.scalars(
            select(CounterShift).where(
                CounterShift.counter_pk == counter.id,
                CounterShift.opened_at < end,
            )
        )
        open_s = 0.0
        for shift in shifts:
            lo = max(ensure_utc(shift.opened_at), start)
            hi = min(ensure_utc(shift.closed_at) if shift.closed_at else end, end)
            open_s += max(0.0, (hi - lo).total_seconds())
        busy_s = 0.0
        for leg in legs:
            if leg.counter_id != counter.counter_id:
                continue
            lo = max(ensure_utc(leg.called_at), start)
            hi = min(ensure_utc(leg.ended_at) if leg.ended_at else end, end)
            busy_s += max(0.0, (hi - lo).total_seconds())
        out.append(
            {
                "counter_id": counter.counter_id,
                "open_s": round(open_s),
                "busy_s": round(busy_s),
                "utilisation": round(min(busy_s / open_s, 1.0), 4) if open_s else None,
                "served": sum(
                    1
                    for leg in legs
                    if leg.counter_id == counter.counter_id and leg.outcome in SERVED_OUTCOMES
                ),
            }
        )
    return out
