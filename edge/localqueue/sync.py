"""The centre's view of the edge's tickets (``queue.sync``), applied to the local queue.

The centre tells the edge what its staff did with the edge's tickets (``queue.sync`` on the
edge's ``queue/sync`` topic: called, recalled, finished, no-show, transferred, cancelled), so
that a client the centre called is no longer waiting here: the offline queue never calls them
again and positions count only who truly waits. Precedence is by time: every ticket keeps the
time of the last change the edge knows of (``changed_at``: its own issue, call and finish by the
edge clock, or the centre's ``at``); a centre entry applies only when it is newer, and a ticket
finished (done, no-show, cancelled, expired) is never reopened. Repeated, late or reordered
messages therefore change nothing, and the edge's own later offline events win. Applying one
emits nothing (no echo to the centre).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from edge.localqueue.tickets import FINISHED, SYNC_STATUSES
from edge.protocol import ProtocolError, format_ts, parse_ts
from edge.queue_rules import SERVICES
from edge.store import EdgeStore

SYNC_KEY = "queue_sync"
UNKNOWN_KEPT = 50


@dataclass(frozen=True)
class CentreTicket:
    """One of the edge's tickets as the centre has it (an entry of ``queue.sync``): its status,
    service and counter after its last change at the centre, made at ``at``. The ticket is
    named by its number and the edge's own ``issued_at`` (numbers restart every day)."""

    ticket_no: str
    issued_at: datetime
    status: str
    at: datetime
    service: str | None = None
    counter_id: str | None = None

    @classmethod
    def from_dict(cls, entry: object) -> CentreTicket:
        """ValueError for an entry this edge cannot use (a bad shape, or a status or service
        it does not know: a newer centre)."""
        if not isinstance(entry, Mapping):
            raise ValueError("each ticket must be an object")
        ticket_no, status = entry.get("ticket_no"), entry.get("status")
        service, counter_id = entry.get("service"), entry.get("counter_id")
        if not isinstance(ticket_no, str) or not 0 < len(ticket_no) <= 12:
            raise ValueError("ticket_no must be a short string")
        if status not in SYNC_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        if service is not None and service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        if counter_id is not None and (
            not isinstance(counter_id, str | int) or isinstance(counter_id, bool)
        ):
            raise ValueError("counter_id must be a string or null")
        issued_at = parse_ts(entry.get("issued_at"), field_name="issued_at")
        at = parse_ts(entry.get("at"), field_name="at")
        counter = str(counter_id)[:64] if counter_id not in (None, "") else None
        return cls(ticket_no, issued_at, str(status), at, service, counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket_no": self.ticket_no,
            "issued_at": format_ts(self.issued_at),
            "status": self.status,
            "service": self.service,
            "counter_id": self.counter_id,
            "at": format_ts(self.at),
        }


@dataclass(frozen=True)
class QueueSync:
    """The data of a ``queue.sync`` message, ``{"at", "full", "tickets": [...]}``. A bad shape
    is a ValueError (the message is refused); an entry this edge cannot use is skipped and
    counted in ``refused``. Each entry stands on its own: pages, repeats and any order apply
    the same."""

    tickets: tuple[CentreTicket, ...]
    full: bool = False
    at: datetime | None = None
    refused: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueueSync:
        tickets, full, at = data.get("tickets"), data.get("full", False), data.get("at")
        if not isinstance(tickets, list):
            raise ValueError("tickets must be a list")
        if not isinstance(full, bool):
            raise ValueError("full must be a boolean")
        parsed: list[CentreTicket] = []
        refused = 0
        for entry in tickets:
            try:
                parsed.append(CentreTicket.from_dict(entry))
            except ValueError:
                refused += 1
        when = parse_ts(at, field_name="at") if at is not None else None
        return cls(tuple(parsed), full, when, refused)


@dataclass
class SyncResult:
    """What ``apply_sync`` did: the tickets it changed, the entries that changed nothing (not
    newer than what the edge knows, the same state, or a ticket finished here), the tickets
    this edge does not have (recorded, see ``LocalQueue.sync_unknown``), the unusable ones."""

    applied: list[str] = field(default_factory=list)
    unchanged: int = 0
    unknown: list[str] = field(default_factory=list)
    refused: int = 0


def known_at(changed_at: str | None, issued_at: str, called_at: str | None) -> datetime:
    """When the edge last saw the ticket change (rows from before ``changed_at``: their latest
    own time)."""
    times = []
    for value in (changed_at,) if changed_at else (issued_at, called_at):
        if value:
            with contextlib.suppress(ProtocolError):
                times.append(parse_ts(value))
    return max(times, default=datetime.min.replace(tzinfo=UTC))


def apply_entries(db: Any, sync: QueueSync) -> SyncResult:
    """Apply ``sync`` inside the caller's transaction ``db`` (see LocalQueue.apply_sync)."""
    result = SyncResult(refused=sync.refused)
    unknown: list[CentreTicket] = []
    for entry in sync.tickets:
        row = _find_synced(db, entry)
        if row is None:
            result.unknown.append(entry.ticket_no)
            unknown.append(entry)
            continue
        if _apply_entry(db, row, entry):
            result.applied.append(entry.ticket_no)
        else:
            result.unchanged += 1
    if unknown:
        _record_unknown(db, unknown)
    return result


def _find_synced(db: Any, entry: CentreTicket) -> tuple[Any, ...] | None:
    rows = db.execute(
        "SELECT id, status, service, counter_id, issued_at, called_at, changed_at"
        " FROM tickets WHERE ticket_no = ? ORDER BY id DESC",
        (entry.ticket_no,),
    ).fetchall()
    for row in rows:
        with contextlib.suppress(ProtocolError):
            if parse_ts(row[4]) == entry.issued_at:
                return tuple(row)
    return None


def _apply_entry(db: Any, row: tuple[Any, ...], entry: CentreTicket) -> bool:
    """Whether the ticket's state changed."""
    row_id, status, service, counter_id, issued_at, called_at, changed_at = row
    if entry.at <= known_at(changed_at, issued_at, called_at):
        return False  # not newer than what the edge knows: stale, repeated or our own
    if status in FINISHED:
        return False  # finished at the edge (or already by the centre): final
    new_service = entry.service or service
    new_counter, new_called = counter_id, called_at
    if entry.status == "called":
        new_counter, new_called = entry.counter_id or counter_id, format_ts(entry.at)
    elif entry.status in FINISHED:
        new_counter = entry.counter_id or counter_id
    db.execute(
        "UPDATE tickets SET status = ?, service = ?, counter_id = ?, called_at = ?,"
        " changed_at = ? WHERE id = ?",
        (entry.status, new_service, new_counter, new_called, format_ts(entry.at), row_id),
    )
    return (entry.status, new_service, new_counter, new_called) != (
        status,
        service,
        counter_id,
        called_at,
    )


def _record_unknown(db: Any, entries: list[CentreTicket]) -> None:
    """Keep the last UNKNOWN_KEPT entries the edge did not have (kv ``queue_sync_unknown``),
    for diagnostics: a ticket of a wiped edge database, or of another edge."""
    row = db.execute("SELECT value FROM kv WHERE key = ?", (SYNC_KEY + "_unknown",)).fetchone()
    try:
        kept = json.loads(row[0]) if row else []
    except ValueError:
        kept = []
    for entry in entries:
        item = {"ticket_no": entry.ticket_no, "issued_at": format_ts(entry.issued_at)}
        if item not in kept:
            kept.append(item)
    db.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (SYNC_KEY + "_unknown", json.dumps(kept[-UNKNOWN_KEPT:])),
    )


def sync_unknown(store: EdgeStore) -> list[dict[str, str]]:
    """The centre's entries for tickets this edge does not have (the last UNKNOWN_KEPT)."""
    raw = store.kv_get(SYNC_KEY + "_unknown")
    try:
        return list(json.loads(raw)) if raw else []
    except ValueError:
        return []
