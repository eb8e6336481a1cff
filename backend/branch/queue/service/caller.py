"""The window's call button (the caller device linked to a counter), decided at the centre
while the branch edge's uplink is live: a live ``caller.call_next`` runs the same call as
staff's call-next for the counter the device is linked to, once per (device, request_id), and
``caller.serving_done`` finishes the named current ticket. Historical presses (replayed after
an outage) never reach here: the edge served them from its own queue (events.py).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.halls import lock_hall
from backend.branch.models import HallCounter, Ticket
from backend.branch.queue.pushes import queue_changed
from backend.branch.queue.service.calls import call_next_at
from backend.branch.queue.serving import end_current, open_shift
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.context import Actor
from backend.platform.idempotency import IdempotencyKey

log = logging.getLogger(__name__)

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
    _snap, _finished, called = call_next_at(
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
