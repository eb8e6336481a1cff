"""The branch's local ticket queue, owned by the edge so that it keeps issuing and calling
tickets while the link to the centre is down. A minimal first version: the full hall queue
(services, priorities, remote tickets, counters' skills) is the hall issue's.

Ticket numbers are one letter per service and a daily counter (A001, B002, …). Issuing is
idempotent per kiosk request id (a kiosk that repeats its request gets the same ticket); calling
takes the oldest waiting ticket and closes the one the window was serving. Every change is also
an event on the edge's own topic (``queue.ticket_issued``, ``queue.ticket_called``,
``queue.ticket_done``), through the outbox, so the centre catches up after an outage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from edge.protocol import format_ts
from edge.store import EdgeStore

SERVICE_PREFIX = {"cash": "A", "account": "B", "loan": "C", "wealth": "D", "corporate": "E"}
DEFAULT_SERVICE_S = 180


@dataclass(frozen=True)
class Ticket:
    ticket_no: str
    service: str
    status: str  # waiting | called | done
    issued_at: str
    request_id: str | None = None
    kiosk_id: str | None = None
    counter_id: str | None = None
    called_at: str | None = None
    position: int = 0
    estimated_wait_s: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket_no": self.ticket_no,
            "service": self.service,
            "status": self.status,
            "issued_at": self.issued_at,
            "request_id": self.request_id,
            "kiosk_id": self.kiosk_id,
            "counter_id": self.counter_id,
            "called_at": self.called_at,
            "position": self.position,
            "estimated_wait_s": self.estimated_wait_s,
        }


class LocalQueue:
    def __init__(self, store: EdgeStore, *, service_s: int = DEFAULT_SERVICE_S) -> None:
        self.store = store
        self.service_s = service_s

    def issue(
        self,
        service: str,
        now: datetime,
        *,
        request_id: str | None = None,
        kiosk_id: str | None = None,
    ) -> tuple[Ticket, bool]:
        """(ticket, created): a repeated request id returns its first ticket."""
        if service not in SERVICE_PREFIX:
            raise ValueError(f"unknown service {service!r}")
        day = now.date().isoformat()
        with self.store.transaction() as db:
            if request_id is not None:
                row = db.execute(
                    "SELECT ticket_no, service, status, issued_at, request_id, kiosk_id,"
                    " counter_id, called_at FROM tickets WHERE request_id = ?",
                    (request_id,),
                ).fetchone()
                if row is not None:
                    return self._with_position(db, Ticket(*row)), False
            key = f"queue:{day}:{service}"
            row = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            number = int(row[0]) + 1 if row else 1
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, str(number)),
            )
            ticket_no = f"{SERVICE_PREFIX[service]}{number:03d}"
            db.execute(
                "INSERT INTO tickets (ticket_no, service, request_id, kiosk_id, status, issued_at,"
                " day) VALUES (?, ?, ?, ?, 'waiting', ?, ?)",
                (ticket_no, service, request_id, kiosk_id, format_ts(now), day),
            )
            ticket = Ticket(ticket_no, service, "waiting", format_ts(now), request_id, kiosk_id)
            return self._with_position(db, ticket), True

    def _with_position(self, db: Any, ticket: Ticket) -> Ticket:
        if ticket.status != "waiting":
            return ticket
        ahead = db.execute(
            "SELECT count(*) FROM tickets WHERE status = 'waiting' AND id <"
            " (SELECT id FROM tickets WHERE ticket_no = ? AND issued_at = ?)",
            (ticket.ticket_no, ticket.issued_at),
        ).fetchone()[0]
        windows = max(
            1,
            db.execute(
                "SELECT count(DISTINCT counter_id) FROM tickets WHERE counter_id IS NOT NULL"
                " AND day = (SELECT max(day) FROM tickets)"
            ).fetchone()[0],
        )
        return replace(
            ticket, position=ahead + 1, estimated_wait_s=int(ahead * self.service_s / windows)
        )

    def call_next(self, counter_id: str, now: datetime) -> tuple[Ticket | None, Ticket | None]:
        """(called ticket or None when nobody waits, ticket finished at that window or None)."""
        with self.store.transaction() as db:
            done_row = db.execute(
                "SELECT id, ticket_no, service, status, issued_at, request_id, kiosk_id,"
                " counter_id, called_at FROM tickets WHERE status = 'called' AND counter_id = ?"
                " ORDER BY id DESC LIMIT 1",
                (counter_id,),
            ).fetchone()
            done = None
            if done_row is not None:
                db.execute("UPDATE tickets SET status = 'done' WHERE id = ?", (done_row[0],))
                done = replace(Ticket(*done_row[1:]), status="done")
            row = db.execute(
                "SELECT id, ticket_no, service, status, issued_at, request_id, kiosk_id,"
                " counter_id, called_at FROM tickets WHERE status = 'waiting' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None, done
            called_at = format_ts(now)
            db.execute(
                "UPDATE tickets SET status = 'called', counter_id = ?, called_at = ? WHERE id = ?",
                (counter_id, called_at, row[0]),
            )
            ticket = Ticket(*row[1:])
            return replace(
                ticket, status="called", counter_id=counter_id, called_at=called_at
            ), done

    def waiting(self) -> list[Ticket]:
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT ticket_no, service, status, issued_at, request_id, kiosk_id, counter_id,"
                " called_at FROM tickets WHERE status = 'waiting' ORDER BY id"
            ).fetchall()
        return [Ticket(*row) for row in rows]
