"""The local queue's tickets: the model, its rows in the edge store, and the kiosk's category.

A ticket has one letter per service and a daily number (A001, B002, …), a category (normal |
elderly | vip | appointment) that the kiosk may send with its request, and a status: its own
waiting | called | done at the edge, or what the centre reported (``queue.sync``): no_show,
cancelled, expired. The finished ones are final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edge.protocol import ProtocolError, parse_ts
from edge.queue_rules import CATEGORIES, QueueItem

COLUMNS = (
    "id, ticket_no, service, status, issued_at, request_id, kiosk_id, counter_id, called_at,"
    " category"
)
FINISHED = frozenset({"done", "no_show", "cancelled", "expired"})
SYNC_STATUSES = frozenset({"waiting", "called", *FINISHED})


def check_category(value: object) -> str:
    """The category of a kiosk request: absent (or null) is ``normal``; anything outside
    CATEGORIES is a ValueError (the edge drops the request as a bad payload)."""
    if value is None:
        return "normal"
    if not isinstance(value, str) or value not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
    return value


@dataclass(frozen=True)
class Ticket:
    ticket_no: str
    service: str
    status: str  # waiting | called | done (| no_show | cancelled | expired from the centre)
    issued_at: str
    request_id: str | None = None
    kiosk_id: str | None = None
    counter_id: str | None = None
    called_at: str | None = None
    position: int = 0
    estimated_wait_s: int = 0
    category: str = "normal"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket_no": self.ticket_no,
            "service": self.service,
            "category": self.category,
            "status": self.status,
            "issued_at": self.issued_at,
            "request_id": self.request_id,
            "kiosk_id": self.kiosk_id,
            "counter_id": self.counter_id,
            "called_at": self.called_at,
            "position": self.position,
            "estimated_wait_s": self.estimated_wait_s,
        }


def ticket_from_row(row: Sequence[Any]) -> tuple[int, Ticket]:
    """A row of ``SELECT {COLUMNS}`` as (row id, ticket)."""
    (row_id, ticket_no, service, status, issued_at, request_id, kiosk_id, counter_id) = row[:8]
    called_at, category = row[8], row[9] or "normal"
    ticket = Ticket(
        ticket_no,
        service,
        status,
        issued_at,
        request_id,
        kiosk_id,
        counter_id,
        called_at,
        category=category,
    )
    return row_id, ticket


def queue_item(row_id: int, ticket: Ticket) -> QueueItem:
    """A waiting ticket as the hall's rules see it (edge/queue_rules.py)."""
    try:
        queued_at = parse_ts(ticket.issued_at)
    except ProtocolError:  # never written by this module; keep the ticket callable
        queued_at = datetime.min.replace(tzinfo=UTC)
    return QueueItem(row_id, ticket.service, ticket.category, 0, queued_at, "waiting")
