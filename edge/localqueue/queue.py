"""The branch's local ticket queue, owned by the edge so that it keeps issuing and calling
tickets while the link to the centre is down, with the hall's own rules (edge/queue_rules.py,
the ones the centre runs through backend/branch/rules.py).

- Issuing is idempotent per kiosk request id (a kiosk that repeats its request gets the same
  ticket); the number is the next of the service on the branch's local day (day.py).
- Calling: a window calls the waiting ticket with the highest score (waiting time plus the
  category's bonus: priority with aging, so nobody starves) among the services it serves
  (counters.py), and closes the ticket it was serving.
- Position and estimated wait are per service: the tickets of the same service ahead in call
  order, and the work ahead that competes for the same windows (queue_rules.estimate).
- What the centre did with the edge's tickets applies by time (sync.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from edge.localqueue.counters import ALL_SERVICES, CounterMap, CounterRules
from edge.localqueue.day import DEFAULT_TIMEZONE, LocalDay
from edge.localqueue.sync import QueueSync, SyncResult, apply_entries, sync_unknown
from edge.localqueue.tickets import (
    COLUMNS,
    Ticket,
    check_category,
    queue_item,
    ticket_from_row,
)
from edge.protocol import format_ts
from edge.queue_rules import (
    SERVICES,
    QueueItem,
    choose_next,
    estimate,
    format_ticket_no,
    order,
    service_letter,
)
from edge.store import EdgeStore

log = logging.getLogger(__name__)


class LocalQueue:
    """``service_s``: one mean service time for every service in the estimates (default: each
    service's default from the shared rules). ``timezone``: the IANA zone whose local day
    numbers the tickets until the centre sends the hall's (ValueError when unknown)."""

    def __init__(
        self,
        store: EdgeStore,
        *,
        service_s: float | None = None,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> None:
        self.store = store
        self.mean_service_s = {s: float(service_s) for s in SERVICES} if service_s else {}
        self.day = LocalDay(store, timezone)
        self.counters = CounterRules(store, self.day)

    # ------------------------------------------------------------------ the local day

    @property
    def timezone(self) -> str:
        """The IANA name of the zone whose local day numbers the tickets now."""
        return self.day.timezone

    @property
    def timezone_synced(self) -> bool:
        """Whether that zone is the centre's (else the configured default)."""
        return self.day.timezone_synced

    def set_timezone(self, name: str) -> bool:
        """See LocalDay.set_timezone."""
        return self.day.set_timezone(name)

    def local_day(self, when: datetime) -> str:
        """The branch's local day of ``when`` (naive: UTC), as ``YYYY-MM-DD``."""
        return self.day.of(when)

    # ------------------------------------------------------------------ the counter map

    @property
    def counter_map(self) -> CounterMap | None:
        return self.counters.counter_map

    def set_counter_map(self, counter_map: CounterMap) -> bool:
        """See CounterRules.set_counter_map."""
        return self.counters.set_counter_map(counter_map)

    def counter_for(self, caller_id: str, counter_id: object = None) -> str:
        """See CounterRules.counter_for."""
        return self.counters.counter_for(caller_id, counter_id)

    def skills_for(self, counter_id: str) -> tuple[str, ...] | None:
        """See CounterRules.skills_for."""
        return self.counters.skills_for(counter_id)

    # ------------------------------------------------------------------ order and estimates

    def _ranked(self, waiting: list[tuple[int, Ticket]], now: datetime) -> list[QueueItem]:
        """Waiting tickets in call order: by score with a map, by arrival without."""
        items = [queue_item(row_id, t) for row_id, t in waiting]
        return order(items, now) if self.counter_map is not None else items

    def _windows(self, db: Any) -> list[tuple[str, Sequence[str]]]:
        """(status, skills) of the windows for the estimates: the map's (CounterRules.windows);
        without a map, every window that called on the latest (local) day, each serving
        everything."""
        windows = self.counters.windows()
        if windows is not None:
            return windows
        count = db.execute(
            "SELECT count(DISTINCT counter_id) FROM tickets WHERE counter_id IS NOT NULL"
            " AND day = (SELECT max(day) FROM tickets)"
        ).fetchone()[0]
        return [("open", ALL_SERVICES)] * max(1, count)

    def _waiting(self, db: Any) -> list[tuple[int, Ticket]]:
        rows = db.execute(
            f"SELECT {COLUMNS} FROM tickets WHERE status = 'waiting' ORDER BY id"  # noqa: S608
        ).fetchall()
        return [ticket_from_row(row) for row in rows]

    def _with_position(self, db: Any, row_id: int, ticket: Ticket, now: datetime) -> Ticket:
        if ticket.status != "waiting":
            return ticket
        ranked = self._ranked(self._waiting(db), now)
        mine = next((i for i in ranked if i.id == row_id), None)
        if mine is None:
            return ticket
        est = estimate(mine, ranked, self._windows(db), self.mean_service_s, now, ranked=True)
        return replace(ticket, position=est.position, estimated_wait_s=est.estimated_wait_s)

    # ------------------------------------------------------------------ issue and call

    def issue(
        self,
        service: str,
        now: datetime,
        *,
        request_id: str | None = None,
        kiosk_id: str | None = None,
        category: str | None = None,
    ) -> tuple[Ticket, bool]:
        """(ticket, created): a repeated request id returns its first ticket. The number is
        the next of ``service`` on the branch's local day of ``now``."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        category = check_category(category)
        day = self.day.of(now)
        with self.store.transaction() as db:
            if request_id is not None:
                row = db.execute(
                    f"SELECT {COLUMNS} FROM tickets WHERE request_id = ?",  # noqa: S608
                    (request_id,),
                ).fetchone()
                if row is not None:
                    return self._with_position(db, *ticket_from_row(row), now), False
            key = f"queue:{day}:{service}"
            row = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            number = int(row[0]) + 1 if row else 1
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, str(number)),
            )
            ticket_no = format_ticket_no(service_letter(service), number)
            cursor = db.execute(
                "INSERT INTO tickets (ticket_no, service, request_id, kiosk_id, status, issued_at,"
                " day, category, changed_at) VALUES (?, ?, ?, ?, 'waiting', ?, ?, ?, ?)",
                (
                    ticket_no,
                    service,
                    request_id,
                    kiosk_id,
                    format_ts(now),
                    day,
                    category,
                    format_ts(now),
                ),
            )
            ticket = Ticket(
                ticket_no,
                service,
                "waiting",
                format_ts(now),
                request_id,
                kiosk_id,
                category=category,
            )
            return self._with_position(db, int(cursor.lastrowid or 0), ticket, now), True

    def call_next(self, counter_id: str, now: datetime) -> tuple[Ticket | None, Ticket | None]:
        """(called ticket or None when nobody waits that this window serves, ticket finished at
        that window or None). The choice is the shared rules' (queue_rules.choose_next) over
        the window's skills; without a counter map the oldest waiting ticket."""
        skills = self.skills_for(counter_id)
        changed_at = format_ts(now)
        with self.store.transaction() as db:
            done_row = db.execute(
                f"SELECT {COLUMNS} FROM tickets WHERE status = 'called'"  # noqa: S608
                " AND counter_id = ? ORDER BY id DESC LIMIT 1",
                (counter_id,),
            ).fetchone()
            done = None
            if done_row is not None:
                done_id, finished = ticket_from_row(done_row)
                db.execute(
                    "UPDATE tickets SET status = 'done', changed_at = ? WHERE id = ?",
                    (changed_at, done_id),
                )
                done = replace(finished, status="done")
            waiting = self._waiting(db)
            if skills is None:
                chosen = waiting[0][0] if waiting else None
            else:
                items = [queue_item(row_id, t) for row_id, t in waiting]
                choice = choose_next(items, skills, now)
                chosen = choice.id if choice is not None else None
            if chosen is None:
                return None, done
            ticket = next(t for row_id, t in waiting if row_id == chosen)
            called_at = changed_at
            db.execute(
                "UPDATE tickets SET status = 'called', counter_id = ?, called_at = ?,"
                " changed_at = ? WHERE id = ?",
                (counter_id, called_at, changed_at, chosen),
            )
            return replace(
                ticket, status="called", counter_id=counter_id, called_at=called_at
            ), done

    def waiting(self) -> list[Ticket]:
        """Waiting tickets in the order they were issued."""
        with self.store.transaction() as db:
            return [t for _row_id, t in self._waiting(db)]

    def ticket(self, ticket_no: str) -> Ticket | None:
        """The newest ticket with this number (tests, diagnostics)."""
        with self.store.transaction() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM tickets WHERE ticket_no = ?"  # noqa: S608
                " ORDER BY id DESC LIMIT 1",
                (ticket_no,),
            ).fetchone()
        return ticket_from_row(row)[1] if row is not None else None

    # ------------------------------------------------------------------ the centre's view

    def apply_sync(self, sync: QueueSync) -> SyncResult:
        """Apply what the centre did with the edge's tickets (``queue.sync``), in one
        transaction. An entry changes a ticket only when it is newer than the last change the
        edge knows of (``changed_at``), and never reopens a finished ticket; the ticket then
        takes the centre's status (a call with its counter and time, a finish, or waiting
        again after a transfer, in the new service) and ``changed_at`` becomes the entry's
        ``at``. Entries for tickets the edge does not have are recorded and otherwise ignored.
        Emits nothing: the centre already knows (no echo)."""
        with self.store.transaction() as db:
            result = apply_entries(db, sync)
        if result.applied or result.unknown or result.refused:
            log.info(
                "local queue: centre sync changed %s; %d unchanged, unknown %s, %d unusable",
                result.applied[:10],
                result.unchanged,
                result.unknown[:10],
                result.refused,
            )
        return result

    def sync_unknown(self) -> list[dict[str, str]]:
        """The centre's entries for tickets this edge does not have (the last UNKNOWN_KEPT)."""
        return sync_unknown(self.store)
