"""Counters: call next, recall, no-show, transfer (and the return of a transferred client),
finish, open and close; counters configured with skills; re-routing when a counter's device
goes offline.

A call finishes whatever the counter was serving, then takes the best waiting ticket its
skills allow (rules.choose_next). Each call is a ``ServiceLeg``; its end says how it went
(done, no_show, transferred, returned, rerouted). A transferred client goes back into the
queue of the new service keeping their queue time and with TRANSFER_BOOST_S; when that service
is done and a return was asked for, they go back to the first service with RETURN_BOOST_S.

When the device of an open counter goes offline the counter becomes ``offline``: the ticket it
was serving goes back to the queue with a boost, and each of its services that no other open
counter offers is lent to the open counter with the fewest skills until the device is back.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port, rules
from backend.branch.access import QUEUE_STAFF_ROLES, ensure_branch_staff
from backend.branch.models import CounterShift, HallCounter, HallService, ServiceLeg, Ticket
from backend.branch.queue import (
    counter_view,
    counters_of,
    effective_skills,
    item,
    local_day,
    lock_hall,
    queue_changed,
    services_of,
    snapshot,
    ticket_view,
)
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.clock import ensure_utc
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import BusinessRuleViolation, NotFound, ValidationFailed
from backend.platform.idempotency import IdempotencyKey

log = logging.getLogger(__name__)

COUNTER_STATUSES = ("open", "closed", "offline")


def get_counter(session: Session, branch_id: str, counter_id: str) -> HallCounter:
    counter = session.scalar(
        select(HallCounter).where(
            HallCounter.branch_id == branch_id, HallCounter.counter_id == counter_id
        )
    )
    if counter is None:
        raise NotFound("counter not found", code="counter_not_found")
    return counter


# --------------------------------------------------------------------------- configuration


def configure_services(
    session: Session, actor: Actor, branch_id: str, codes: list[str], now: datetime
) -> list[HallService]:
    """Offer ``codes`` at the branch (admin); others become inactive. Idempotent."""
    ensure_branch_staff(session, actor, branch_id, "admin")
    unknown = [c for c in codes if c not in rules.SERVICES]
    if unknown or not codes:
        raise ValidationFailed(
            "unknown services", details={"services": [f"from {', '.join(rules.SERVICES)}"]}
        )
    existing = services_of(session, branch_id)
    for code, (name, letter, default_s) in rules.SERVICES.items():
        svc = existing.get(code)
        if svc is None and code in codes:
            svc = HallService(
                branch_id=branch_id,
                code=code,
                name=name,
                prefix=letter,
                default_service_s=default_s,
                active=True,
            )
            session.add(svc)
        elif svc is not None:
            svc.active = code in codes
    session.flush()
    audit.record(session, actor, "branch.services", "branch", branch_id, after={"services": codes})
    return list(services_of(session, branch_id).values())


def upsert_counter(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    counter_id: str,
    *,
    name: str | None = None,
    skills: list[str] | None = None,
    device_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Create or change a counter (admin): its name, skills and the caller device at it."""
    now = hall.now(now)
    ensure_branch_staff(session, actor, branch_id, "admin")
    if skills is not None and (not skills or any(s not in rules.SERVICES for s in skills)):
        raise ValidationFailed("unknown skills", details={"skills": list(rules.SERVICES)})
    lock_hall(session, branch_id)
    counter = session.scalar(
        select(HallCounter).where(
            HallCounter.branch_id == branch_id, HallCounter.counter_id == counter_id
        )
    )
    before = counter_view(counter) if counter is not None else None
    if counter is None:
        if skills is None:
            raise ValidationFailed("skills are required", details={"skills": ["required"]})
        counter = HallCounter(
            branch_id=branch_id,
            counter_id=counter_id,
            name=name or f"Counter {counter_id}",
            skills=list(dict.fromkeys(skills)),
            borrowed_skills=[],
            status="closed",
            device_id=device_id,
            updated_at=now,
        )
        session.add(counter)
    else:
        if name is not None:
            counter.name = name
        if skills is not None:
            counter.skills = list(dict.fromkeys(skills))
        if device_id is not None:
            counter.device_id = device_id or None
        counter.updated_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "branch.counter",
        "branch_counter",
        f"{branch_id}/{counter_id}",
        before,
        counter_view(counter),
    )
    queue_changed(session, hall, branch_id, now)
    return counter_view(counter)


def open_shift(session: Session, counter: HallCounter, now: datetime) -> None:
    session.add(CounterShift(counter_pk=counter.id, opened_at=now))


def _close_shift(session: Session, counter: HallCounter, now: datetime) -> None:
    shift = session.scalar(
        select(CounterShift)
        .where(CounterShift.counter_pk == counter.id, CounterShift.closed_at.is_(None))
        .order_by(CounterShift.id.desc())
    )
    if shift is not None:
        shift.closed_at = now


def set_counter_status(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    counter_id: str,
    status: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open or close a counter (teller). A counter serving somebody cannot close."""
    now = hall.now(now)
    ensure_branch_staff(session, actor, branch_id, *QUEUE_STAFF_ROLES)
    if status not in ("open", "closed"):
        raise ValidationFailed("status is open or closed", details={"status": ["open|closed"]})
    lock_hall(session, branch_id)
    counter = get_counter(session, branch_id, counter_id)
    if counter.status == status:
        return counter_view(counter)
    if status == "closed" and counter.current_ticket_id is not None:
        raise BusinessRuleViolation("finish the client first", code="counter_busy")
    before = counter.status
    if status == "open":
        open_shift(session, counter, now)
    else:
        _close_shift(session, counter, now)
    counter.status, counter.updated_at = status, now
    audit.record(
        session,
        actor,
        "branch.counter_status",
        "branch_counter",
        f"{branch_id}/{counter_id}",
        {"status": before},
        {"status": status},
    )
    queue_changed(session, hall, branch_id, now)
    return counter_view(counter)


# --------------------------------------------------------------------------- calls


def _open_leg(session: Session, ticket: Ticket) -> ServiceLeg | None:
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
    leg = _open_leg(session, ticket)
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


def _result(snap, counter: HallCounter, **tickets):
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
    snap, finished, called = _call_next_at(session, actor, hall, counter, now)
    return _result(snap, counter, called=called, finished=finished)


def _call_next_at(
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


# --------------------------------------------------------------------------- the window's caller

CALLER_SCOPE = "caller:"  # idempotency_keys.scope of a caller's presses: caller:<device id>


def _linked_counter(session: Session, branch_id: str, device_id: str) -> HallCounter | None:
    return session.scalar(
        select(HallCounter).where(
            HallCounter.branch_id == branch_id, HallCounter.device_id == device_id
        )
    )


def _device_actor(device_id: str, branch_id: str) -> Actor:
    return Actor(
        user_id=None,
        username=f"device:{device_id}"[:80],
        role="system",
        org_id=None,
        branch_id=branch_id,
    )


def device_call_next(
    session: Session,
    hall: Hall,
    branch_id: str,
    device_id: str,
    data: dict[str, Any],
    now: datetime | None = None,
) -> str:
    """A live ``caller.call_next {request_id, counter_id}`` from the caller at a window: the
    same call as the HTTP call-next, for the counter the device is linked to, by the device
    (audited as ``device:<id>``), once per (device, request_id). What happened: called | empty
    | duplicate | unlinked | counter_offline | ignored. The caller is answered with
    ``caller.show_call {ticket_no or null, counter_id, request_id}``; the displays, the board,
    ``queue.update`` and the edge's ``queue.sync`` follow from the call as for staff.

    A counter ``closed`` at the centre opens (a teller pressing "call next" is at work, as
    when the edge's offline calls are reconciled); an ``offline`` one (its device's death was
    the last word) calls nobody."""
    now = hall.now(now)
    request_id = data.get("request_id")
    if not isinstance(request_id, str) or not request_id or len(request_id) > 64:
        log.info("caller %s: call_next without a usable request_id ignored", device_id)
        return "ignored"
    lock_hall(session, branch_id)
    counter = _linked_counter(session, branch_id, device_id)
    if counter is None:
        log.warning(
            "caller %s of %s is not linked to a counter: call_next %s ignored",
            device_id,
            branch_id,
            request_id,
        )
        return "unlinked"
    sent = data.get("counter_id")
    if sent is not None and str(sent) != counter.counter_id:
        log.info(
            "caller %s sent counter %r but is linked to counter %s: calling for %s",
            device_id,
            sent,
            counter.counter_id,
            counter.counter_id,
        )
    scope = f"{CALLER_SCOPE}{device_id}"[:80]
    seen = session.scalar(
        select(IdempotencyKey.id).where(
            IdempotencyKey.scope == scope, IdempotencyKey.key == request_id
        )
    )
    if seen is not None:
        return "duplicate"
    session.add(
        IdempotencyKey(
            scope=scope,
            key=request_id,
            fingerprint=hashlib.sha256(counter.counter_id.encode()).hexdigest(),
            state="done",
            created_at=now,
        )
    )
    session.flush()
    if counter.status == "offline":
        log.warning(
            "caller %s: counter %s is offline at the centre; call_next %s ignored",
            device_id,
            counter.counter_id,
            request_id,
        )
        return "counter_offline"
    if counter.status == "closed":
        counter.status = "open"
        open_shift(session, counter, now)
    _snap, _finished, called = _call_next_at(
        session,
        _device_actor(device_id, branch_id),
        hall,
        counter,
        now,
        request_id=request_id,
        audit_after={"device_id": device_id, "request_id": request_id},
    )
    return "called" if called is not None else "empty"


def device_serving_done(
    session: Session,
    hall: Hall,
    branch_id: str,
    device_id: str,
    data: dict[str, Any],
    now: datetime | None = None,
) -> str:
    """A live ``caller.serving_done {ticket_no, counter_id}``: the window's client was served.
    Finishes the linked counter's current ticket when it is the one named (a stale or repeated
    message changes nothing). done | stale | unlinked."""
    now = hall.now(now)
    lock_hall(session, branch_id)
    counter = _linked_counter(session, branch_id, device_id)
    if counter is None:
        log.warning(
            "caller %s of %s is not linked to a counter: serving_done ignored", device_id, branch_id
        )
        return "unlinked"
    current = session.get(Ticket, counter.current_ticket_id) if counter.current_ticket_id else None
    if current is None or current.status != "called" or current.ticket_no != data.get("ticket_no"):
        return "stale"
    end_current(session, counter, now, "done")
    audit.record(
        session,
        _device_actor(device_id, branch_id),
        "branch.finish",
        "branch_ticket",
        current.id,
        {"status": "called"},
        {"status": current.status, "device_id": device_id},
    )
    queue_changed(session, hall, branch_id, now)
    return "done"


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
    leg = _open_leg(session, ticket)
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


# --------------------------------------------------------------------------- re-routing


def counter_device_offline(
    session: Session, hall: Hall, branch_id: str, device_id: str, now: datetime
) -> list[str]:
    """The device of a counter went offline: re-route its client and its services."""
    lock_hall(session, branch_id)
    counters = counters_of(session, branch_id)
    gone = [c for c in counters if c.device_id == device_id and c.status == "open"]
    for counter in gone:
        end_current(session, counter, now, "rerouted")
        _close_shift(session, counter, now)
        counter.status, counter.updated_at = "offline", now
        others = [c for c in counters if c.status == "open" and c is not counter]
        for skill in counter.skills or []:
            if not others or any(skill in effective_skills(c) for c in others):
                continue
            helper = min(others, key=lambda c: (len(effective_skills(c)), c.counter_id))
            helper.borrowed_skills = [
                *(helper.borrowed_skills or []),
                {"service": skill, "from": counter.counter_id},
            ]
        audit.record(
            session,
            SYSTEM,
            "branch.counter_offline",
            "branch_counter",
            f"{branch_id}/{counter.counter_id}",
            {"status": "open"},
            {"status": "offline"},
        )
    if gone:
        queue_changed(session, hall, branch_id, now)
    return [c.counter_id for c in gone]


def counter_device_online(
    session: Session, hall: Hall, branch_id: str, device_id: str, now: datetime
) -> list[str]:
    """The device is back: the counter reopens and lent services return."""
    lock_hall(session, branch_id)
    counters = counters_of(session, branch_id)
    back = [c for c in counters if c.device_id == device_id and c.status == "offline"]
    for counter in back:
        counter.status, counter.updated_at = "open", now
        open_shift(session, counter, now)
        for other in counters:
            kept = [b for b in other.borrowed_skills or [] if b.get("from") != counter.counter_id]
            if kept != list(other.borrowed_skills or []):
                other.borrowed_skills = kept
        audit.record(
            session,
            SYSTEM,
            "branch.counter_online",
            "branch_counter",
            f"{branch_id}/{counter.counter_id}",
            {"status": "offline"},
            {"status": "open"},
        )
    if back:
        queue_changed(session, hall, branch_id, now)
    return [c.counter_id for c in back]


__all__ = [
    "COUNTER_STATUSES",
    "call_next",
    "call_ticket",
    "configure_services",
    "counter_device_offline",
    "counter_device_online",
    "device_call_next",
    "device_serving_done",
    "end_current",
    "finish",
    "get_counter",
    "item",
    "no_show",
    "recall",
    "set_counter_status",
    "transfer",
    "upsert_counter",
]
