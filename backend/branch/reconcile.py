"""The branch edge's queue, reconciled at the centre.

The edge (edge/localqueue.py) issues kiosk tickets and serves the callers at the windows, and
keeps doing so while its uplink is down. Each change is an event on the edge's own topic,
stored and forwarded in order once the uplink is back (marked ``historical``):

    queue.ticket_issued  {ticket_no, service, category, issued_at, request_id, kiosk_id, ...}
    queue.ticket_called  {ticket_no, issued_at, counter_id, called_at, caller_id, ...}
    queue.ticket_done    {ticket_no, issued_at, counter_id, ...}

Applying them is idempotent: a ticket is identified by (branch, the local day of its
``issued_at``, ticket_no) and, for kiosk requests, by its request id; a repeated or late event
changes nothing, a call for a ticket whose issue never arrived creates it (nothing is lost),
and times are the edge's, so statistics see the hall as it was, as is the category the kiosk
sent (normal when absent or unknown: an older edge). Kiosk numbers (A001) and central numbers
(RA001, SA001) never collide (rules.CHANNEL_PREFIX).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import rules
from backend.branch.halls import local_day, lock_hall
from backend.branch.models import HallCounter, Ticket
from backend.branch.queue.pushes import queue_changed
from backend.branch.queue.serving import call_ticket, end_current, get_counter, open_shift
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.context import SYSTEM
from backend.platform.errors import NotFound
from edge.protocol import ProtocolError, parse_ts

log = logging.getLogger(__name__)

EDGE_QUEUE_EVENTS = ("queue.ticket_issued", "queue.ticket_called", "queue.ticket_done")


def _ts(value: object, fallback: datetime) -> datetime:
    try:
        return parse_ts(value)
    except ProtocolError:
        return fallback


def _find(session: Session, branch_id: str, day: str, ticket_no: str) -> Ticket | None:
    return session.scalar(
        select(Ticket).where(
            Ticket.branch_id == branch_id, Ticket.day == day, Ticket.ticket_no == ticket_no
        )
    )


def _ensure_ticket(
    session: Session,
    branch_id: str,
    edge_id: str,
    data: dict[str, Any],
    day: str,
    issued_at: datetime,
) -> tuple[Ticket | None, bool]:
    ticket_no, service = data.get("ticket_no"), data.get("service")
    if not isinstance(ticket_no, str) or not ticket_no or len(ticket_no) > 12:
        return None, False
    ticket = _find(session, branch_id, day, ticket_no)
    if ticket is not None:
        return ticket, False
    request_id = data.get("request_id")
    request_key = f"kiosk:{request_id}" if isinstance(request_id, str) and request_id else None
    if request_key is not None:
        ticket = session.scalar(
            select(Ticket).where(Ticket.branch_id == branch_id, Ticket.request_id == request_key)
        )
        if ticket is not None:
            return ticket, False
    if service not in rules.SERVICES:
        return None, False
    category = data.get("category")
    if category not in rules.CATEGORIES:
        category = "normal"
    ticket = Ticket(
        branch_id=branch_id,
        day=day,
        ticket_no=ticket_no,
        service=service,
        original_service=service,
        channel="kiosk",
        category=category,
        boost_s=0,
        status="waiting",
        request_id=request_key,
        source=f"edge:{edge_id}"[:80],
        issued_at=issued_at,
        queued_at=issued_at,
        arrived_at=issued_at,
        updated_at=issued_at,
    )
    session.add(ticket)
    session.flush()
    audit.record(
        session,
        SYSTEM,
        "branch.ticket_issued",
        "branch_ticket",
        ticket.id,
        after={
            "ticket_no": ticket_no,
            "service": service,
            "category": category,
            "channel": "kiosk",
            "edge": edge_id,
        },
    )
    return ticket, True


def _counter(session: Session, branch_id: str, counter_id: object) -> HallCounter | None:
    if not isinstance(counter_id, str | int):
        return None
    try:
        return get_counter(session, branch_id, str(counter_id))
    except NotFound:
        return None


def apply_edge_event(
    session: Session,
    hall: Hall,
    branch_id: str,
    edge_id: str,
    type_: str,
    data: dict[str, Any],
    at: datetime,
) -> str:
    """Apply one edge queue event; what it did: created | called | done | duplicate | ignored."""
    if type_ not in EDGE_QUEUE_EVENTS:
        return "ignored"
    row = lock_hall(session, branch_id)
    issued_at = _ts(data.get("issued_at"), at)
    day = local_day(row, issued_at)
    ticket, created = _ensure_ticket(session, branch_id, edge_id, data, day, issued_at)
    if ticket is None:
        log.info("edge %s: queue event %s without a usable ticket dropped", edge_id, type_)
        return "ignored"
    outcome = "created" if created else "duplicate"
    if type_ == "queue.ticket_called":
        called_at = _ts(data.get("called_at"), at)
        counter = _counter(session, branch_id, data.get("counter_id"))
        if counter is None:
            log.info(
                "edge %s called %s at unknown counter %r",
                edge_id,
                ticket.ticket_no,
                data.get("counter_id"),
            )
        elif ticket.status in rules.QUEUED_STATUSES:
            if counter.current_ticket_id not in (None, ticket.id):
                end_current(session, counter, called_at, "done")
            if counter.status == "closed":
                counter.status = "open"  # a caller pressed "call next": the window is open
                open_shift(session, counter, called_at)
            call_ticket(session, counter, ticket, called_at, day)
            outcome = "called"
    elif type_ == "queue.ticket_done":
        counter = _counter(session, branch_id, data.get("counter_id"))
        if (
            ticket.status == "called"
            and counter is not None
            and counter.current_ticket_id == ticket.id
        ):
            end_current(session, counter, at, "done")
            outcome = "done"
    if outcome != "duplicate":
        queue_changed(session, hall, branch_id, at)
    return outcome
