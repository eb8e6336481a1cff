"""The measures customer flow statistics and the off-counter rate are built from: a day of the
branch (its bounds, parsed from a query), distributions (mean, percentiles), teller-served
clients and smart-counter transactions per day, the off-counter rate, counter utilisation
(time serving / time open, from the counters' shifts). Reads only.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.branch.models import CounterShift, HallCounter, ServiceLeg, SmartCounterDaily
from backend.branch.rules import percentile
from backend.platform.clock import ensure_utc
from backend.platform.errors import ValidationFailed

SERVED_OUTCOMES = ("done", "transferred", "returned")


def distribution(values: list[float]) -> dict[str, Any]:
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


def utilisation(
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
