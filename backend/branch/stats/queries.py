"""Customer flow statistics of one branch and day (the branch's local day): the read side.

From the tickets and their service legs: arrivals per hour, wait and service time percentiles
(overall and per service), abandonment (no-shows and clients who cancelled in the hall, and
remote bookings that never came), counter utilisation and the share of transactions done on
smart counters (离柜率, off-counter rate: smart-counter transactions / (those + clients served
at a teller counter)); drawn as a PNG and an HTML page (chart.py). Reads only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.access import ensure_branch_staff
from backend.branch.halls import get_hall, local_day, local_hour
from backend.branch.models import ServiceLeg, Ticket
from backend.branch.stats.chart import flow_chart_png, flow_page_html
from backend.branch.stats.measures import (
    SERVED_OUTCOMES,
    day_bounds,
    distribution,
    off_counter_rate,
    parse_day,
    smart_counter_totals,
    utilisation,
)
from backend.platform.clock import ensure_utc
from backend.platform.context import Actor

__all__ = ["FLOW_ROLES", "flow_chart_png", "flow_page_html", "flow_stats"]

FLOW_ROLES = ("teller", "rm", "approver")


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
            "wait_s": distribution(
                [
                    (ensure_utc(t.first_called_at) - ensure_utc(t.arrived_at)).total_seconds()
                    for t in tickets
                    if t.original_service == code and t.first_called_at and t.arrived_at
                ]
            ),
            "service_s": distribution(
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
    counters = utilisation(session, branch_id, legs, start, min(end, now))
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
        "wait_s": distribution(waits),
        "service_s": distribution(service_times),
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
