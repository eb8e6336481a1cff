"""What the centre did with the branch edge's kiosk tickets, for the edge (the downlink of
reconcile.py).

The edge issues kiosk tickets and reports them (reconcile.py); staff then call them at the
centre over HTTP (call-next, recall, no-show, finish, transfer, cancel). The edge must learn of
it, or its offline queue would call those clients again and count them in positions and
estimates. ``edge_ticket_statuses(session, branch_id, edge_id, now)`` answers the centre's state
of the tickets that edge issued:

    [{"ticket_no", "issued_at", "status", "service", "counter_id", "at"}]

``issued_at`` is the edge's own time (reconcile keeps it), so the edge finds its ticket by
number and issue time; ``status`` is the centre's (waiting, called, done, no_show, cancelled,
expired; a transferred client is ``waiting`` in the new ``service``); ``at`` is the ticket's
last change at the centre (``updated_at``), by which the edge orders what it hears
(edge/localqueue.py ``apply_sync``). Tickets of the branch's current and previous local day
changed within SYNC_WINDOW, newest first, at most SYNC_MAX_TICKETS; a ticket still waiting in its
first service and never called says nothing the edge does not know and is left out.

The device hub sends it to the edge (``queue.sync`` on ``fe/v1/{branch}/edge/{edge_id}/queue/
sync``, docs/iot.md); the hall offers it as ``HallForDevices.edge_tickets`` (ports.py), and
``queue.pushes.queue_changed`` tells the hub after each commit (the ``DeviceLink`` port's
``queue_changed``) so a call reaches the edge at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.halls import local_day
from backend.branch.models import BranchHall, Ticket
from backend.platform.clock import ensure_utc
from edge.protocol import format_ts

SYNC_WINDOW = timedelta(hours=12)
SYNC_MAX_TICKETS = 2000


def _entry(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket_no": ticket.ticket_no,
        "issued_at": format_ts(ensure_utc(ticket.issued_at)),
        "status": ticket.status,
        "service": ticket.service,
        "counter_id": ticket.counter_id,
        "at": format_ts(ensure_utc(ticket.updated_at)),
    }


def _pristine(ticket: Ticket) -> bool:
    return (
        ticket.status == "waiting"
        and ticket.first_called_at is None
        and ticket.service == ticket.original_service
    )


def edge_ticket_statuses(
    session: Session, branch_id: str, edge_id: str, now: datetime
) -> list[dict[str, Any]] | None:
    """The centre's state of the kiosk tickets ``edge_id`` issued (see the module); None for a
    branch without a hall (no ticket was ever reconciled there). Reads only."""
    hall = session.scalar(select(BranchHall).where(BranchHall.branch_id == branch_id))
    if hall is None:
        return None
    days = sorted({local_day(hall, now), local_day(hall, now - timedelta(days=1))})
    tickets = session.scalars(
        select(Ticket)
        .where(
            Ticket.branch_id == branch_id,
            Ticket.day.in_(days),
            Ticket.channel == "kiosk",
            Ticket.source == f"edge:{edge_id}"[:80],
            Ticket.updated_at >= now - SYNC_WINDOW,
        )
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(SYNC_MAX_TICKETS)
    )
    return [_entry(t) for t in tickets if not _pristine(t)]
