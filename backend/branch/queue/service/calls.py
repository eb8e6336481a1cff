"""Staff at a counter: call next, recall, no-show, finish and transfer (with the return of a
transferred client).

A call finishes whatever the counter was serving, then takes the best waiting ticket its
skills allow (rules.choose_next), shown on the hall displays (``display.show``) and the
window's caller (``caller.show_call``). Each call is a ``ServiceLeg``; its end says how it
went (done, no_show, transferred, returned). A transferred client goes back into the queue of
the new service keeping their queue time and with TRANSFER_BOOST_S; when that service is done
and a return was asked for, they go back to the first service with RETURN_BOOST_S. The
window's own call button runs the same call (``call_next_at``, caller.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.branch import devices_port, rules
from backend.branch.access import QUEUE_STAFF_ROLES, ensure_branch_staff
from backend.branch.halls import local_day, lock_hall
from backend.branch.models import HallCounter, Ticket
from backend.branch.queue.pushes import queue_changed
from backend.branch.queue.serving import call_ticket, end_current, get_counter, open_leg
from backend.branch.queue.snapshot import Snapshot, effective_skills, services_of, snapshot
from backend.branch.queue.views import counter_view, ticket_view
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation


def _announce(
    session: Session,
    hall: Hall,
    counter: HallCounter,
    ticket: Ticket | None,
    *,
    request_id: str | None = None,
) -> None:
    """Show a call made at the centre on the hall displays and the window's caller. A call the
    caller asked for (``request_id``) is answered even when nobody waits (``ticket_no`` null),
    and the answer names the request, so the edge knows the centre served that press."""
    args: dict[str, Any] = {
        "ticket_no": ticket.ticket_no if ticket is not None else None,
        "counter_id": counter.counter_id,
    }
    if ticket is not None:
        for display in devices_port.devices_of(session, counter.branch_id, "display"):
            hall.command(session, display.device_id, "display.show", args)
    if counter.device_id and (ticket is not None or request_id is not None):
        device = devices_port.find_device(session, counter.device_id)
        if device is not None and device.device_type == "caller":
            if request_id is not None:
                args = {**args, "request_id": request_id}
            hall.command(session, counter.device_id, "caller.show_call", args)


def _staff_counter(session: Session, actor: Actor, branch_id: str, counter_id: str) -> HallCounter:
    ensure_branch_staff(session, actor, branch_id, *QUEUE_STAFF_ROLES)
    lock_hall(session, branch_id)
    return get_counter(session, branch_id, counter_id)


def _current(session: Session, counter: HallCounter) -> Ticket:
    ticket = session.get(Ticket, counter.current_ticket_id) if counter.current_ticket_id else None
    if ticket is None or ticket.status != "called":
        raise BusinessRuleViolation("the counter is serving nobody", code="counter_idle")
    return ticket


def _result(snap: Snapshot, counter: HallCounter, **tickets):
    by_id = {t.id: t for t in snap.tickets}
    out: dict[str, Any] = {"counter": counter_view(counter, by_id)}
    for key, ticket in tickets.items():
        out[key] = ticket_view(ticket, snap) if ticket is not None else None
    return out


def call_next(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    counter_id: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Finish the current client and call the best waiting ticket this counter may serve."""
    now = hall.now(now)
    counter = _staff_counter(session, actor, branch_id, counter_id)
    if counter.status != "open":
        raise BusinessRuleViolation(f"counter is {counter.status}", code="counter_not_open")
    snap, finished, called = call_next_at(session, actor, hall, counter, now)
    return _result(snap, counter, called=called, finished=finished)


def call_next_at(
    session: Session,
    actor: Actor,
    hall: Hall,
    counter: HallCounter,
    now: datetime,
    *,
    request_id: str | None = None,
    audit_after: dict[str, Any] | None = None,
):
    """The call itself (the hall locked by the caller): finish, choose, call, show, audit,
    push. (snapshot, finished ticket or None, called ticket or None)."""
    branch_id, counter_id = counter.branch_id, counter.counter_id
    row = lock_hall(session, branch_id)
    finished = end_current(session, counter, now, "done")
    snap = snapshot(session, branch_id, now)
    choice = rules.choose_next(snap.queued, effective_skills(counter), now)
    called = None
    if choice is not None:
        called = session.get(Ticket, choice.id)
        call_ticket(session, counter, called, now, local_day(row, now))
    if called is not None or request_id is not None:
        _announce(session, hall, counter, called, request_id=request_id)
    audit.record(
        session,
        actor,
        "branch.call_next",
        "branch_counter",
        f"{branch_id}/{counter_id}",
        {"finished": finished.ticket_no if finished else None},
        {"called": called.ticket_no if called else None, **(audit_after or {})},
    )
    snap = queue_changed(session, hall, branch_id, now)
    return snap, finished, called


def recall(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    counter_id: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Call the current ticket again (displays and caller show it once more)."""
    now = hall.now(now)
    counter = _staff_counter(session, actor, branch_id, counter_id)
    ticket = _current(session, counter)
    ticket.recalls += 1
    ticket.called_at, ticket.updated_at = now, now
    _announce(session, hall, counter, ticket)
    audit.record(
        session,
        actor,
        "branch.recall",
        "branch_ticket",
        ticket.id,
        after={"recalls": ticket.recalls},
    )
    snap = queue_changed(session, hall, branch_id, now)
    return _result(snap, counter, called=ticket)


def _end_called(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    counter_id: str,
    now: datetime | None,
    outcome: str,
):
    """End the counter's called ticket with ``outcome`` (done or no_show), audited and pushed."""
    now = hall.now(now)
    counter = _staff_counter(session, actor, branch_id, counter_id)
    ticket = _current(session, counter)
    end_current(session, counter, now, outcome)
    audit.record(
        session,
        actor,
        "branch.finish" if outcome == "done" else "branch.no_show",
        "branch_ticket",
        ticket.id,
        {"status": "called"},
        {"status": ticket.status},
    )
    return queue_changed(session, hall, branch_id, now), counter, ticket


def no_show(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    counter_id: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The called client did not come: skip them (status no_show)."""
    snap, counter, ticket = _end_called(session, actor, hall, branch_id, counter_id, now, "no_show")
    return _result(snap, counter, skipped=ticket)


def finish(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    counter_id: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The client was served (a transferred client goes back to the queue with priority)."""
    snap, counter, ticket = _end_called(session, actor, hall, branch_id, counter_id, now, "done")
    return _result(snap, counter, finished=ticket)


def transfer(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    counter_id: str,
    to_service: str,
    *,
    return_after: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Send the current client to ``to_service`` (raised priority, queue time kept); with
    ``return_after`` they come back to this service afterwards, raised again."""
    now = hall.now(now)
    counter = _staff_counter(session, actor, branch_id, counter_id)
    ticket = _current(session, counter)
    services = services_of(session, branch_id)
    if to_service not in services or not services[to_service].active:
        raise BusinessRuleViolation(
            f"service {to_service!r} is not offered here", code="service_not_offered"
        )
    if to_service == ticket.service:
        raise BusinessRuleViolation("already in that service", code="same_service")
    leg = open_leg(session, ticket)
    if leg is not None:
        leg.ended_at, leg.outcome = now, "transferred"
    before = {"service": ticket.service}
    ticket.return_service = ticket.service if return_after else None
    ticket.service, ticket.status = to_service, "waiting"
    ticket.boost_s = rules.TRANSFER_BOOST_S
    ticket.transfers += 1
    ticket.updated_at = now
    counter.current_ticket_id, counter.updated_at = None, now
    audit.record(
        session,
        actor,
        "branch.transfer",
        "branch_ticket",
        ticket.id,
        before,
        {"service": to_service, "return_service": ticket.return_service},
    )
    snap = queue_changed(session, hall, branch_id, now)
    return _result(snap, counter, transferred=ticket)
