"""The mechanics of serving, shared by every way a ticket is called: staff at a counter
(service/calls.py), the window's caller (service/caller.py), re-routing (service/rerouting.py)
and the edge's offline calls reconciled at the centre (reconcile.py).

A call puts a ticket at a counter and opens a ``ServiceLeg``; ending it says how it went
(done, no_show, rerouted; a done call of a transferred client who asked to come back returns
them to the first service with RETURN_BOOST_S instead). A counter's open intervals are its
shifts (utilisation). No access checks and no pushes here: the callers hold the hall lock,
decide, audit and push.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import rules
from backend.branch.models import CounterShift, HallCounter, ServiceLeg, Ticket
from backend.platform.clock import ensure_utc
from backend.platform.errors import NotFound


def get_counter(session: Session, branch_id: str, counter_id: str) -> HallCounter:
    counter = session.scalar(
        select(HallCounter).where(
            HallCounter.branch_id == branch_id, HallCounter.counter_id == counter_id
        )
    )
    if counter is None:
        raise NotFound("counter not found", code="counter_not_found")
    return counter


def open_shift(session: Session, counter: HallCounter, now: datetime) -> None:
    session.add(CounterShift(counter_pk=counter.id, opened_at=now))


def close_shift(session: Session, counter: HallCounter, now: datetime) -> None:
    shift = session.scalar(
        select(CounterShift)
        .where(CounterShift.counter_pk == counter.id, CounterShift.closed_at.is_(None))
        .order_by(CounterShift.id.desc())
    )
    if shift is not None:
        shift.closed_at = now


def open_leg(session: Session, ticket: Ticket) -> ServiceLeg | None:
    return session.scalar(
        select(ServiceLeg)
        .where(ServiceLeg.ticket_id == ticket.id, ServiceLeg.ended_at.is_(None))
        .order_by(ServiceLeg.id.desc())
    )


def _last_end(session: Session, ticket: Ticket) -> datetime | None:
    return session.scalar(
        select(ServiceLeg.ended_at)
        .where(ServiceLeg.ticket_id == ticket.id, ServiceLeg.ended_at.is_not(None))
        .order_by(ServiceLeg.id.desc())
        .limit(1)
    )


def call_ticket(
    session: Session, counter: HallCounter, ticket: Ticket, at: datetime, day: str
) -> ServiceLeg:
    """Put ``ticket`` at ``counter`` (no checks: callers decided)."""
    since = _last_end(session, ticket) or ticket.arrived_at or ticket.queued_at
    ticket.status, ticket.counter_id, ticket.called_at, ticket.updated_at = (
        "called",
        counter.counter_id,
        at,
        at,
    )
    ticket.first_called_at = ticket.first_called_at or at
    counter.current_ticket_id, counter.updated_at = ticket.id, at
    leg = ServiceLeg(
        ticket_id=ticket.id,
        branch_id=ticket.branch_id,
        day=day,
        service=ticket.service,
        counter_id=counter.counter_id,
        waited_s=max(0.0, (ensure_utc(at) - ensure_utc(since)).total_seconds()),
        called_at=at,
    )
    session.add(leg)
    session.flush()
    return leg


def end_current(
    session: Session, counter: HallCounter, at: datetime, outcome: str
) -> Ticket | None:
    """End the counter's current call: done (or back to the first service when a return was
    asked for), no_show or rerouted (back to the queue with a boost)."""
    if counter.current_ticket_id is None:
        return None
    ticket = session.get(Ticket, counter.current_ticket_id)
    counter.current_ticket_id, counter.updated_at = None, at
    if ticket is None or ticket.status != "called":
        return None
    leg = open_leg(session, ticket)
    leg_outcome = outcome
    if outcome == "done" and ticket.return_service:
        ticket.service, ticket.return_service = ticket.return_service, None
        ticket.boost_s, ticket.status = rules.RETURN_BOOST_S, "waiting"
        leg_outcome = "returned"
    elif outcome == "done":
        ticket.status, ticket.finished_at = "done", at
    elif outcome == "no_show":
        ticket.status, ticket.finished_at = "no_show", at
    elif outcome == "rerouted":
        ticket.status = "waiting"
        ticket.boost_s = max(ticket.boost_s, rules.TRANSFER_BOOST_S)
    else:
        raise ValueError(outcome)
    ticket.updated_at = at
    if leg is not None:
        leg.ended_at, leg.outcome = at, leg_outcome
    session.flush()
    return ticket
