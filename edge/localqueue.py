"""The branch's local ticket queue, owned by the edge so that it keeps issuing and calling
tickets while the link to the centre is down, with the hall's own rules (edge/queue_rules.py,
the ones the centre runs through backend/branch/rules.py).

- Tickets: one letter per service and a daily counter (A001, B002, …); issuing is idempotent
  per kiosk request id (a kiosk that repeats its request gets the same ticket). A ticket has a
  category (normal | elderly | vip | appointment) that the kiosk may send with its request.
- Calling: a window calls the waiting ticket with the highest score (waiting time plus the
  category's bonus: priority with aging, so nobody starves) among the services it serves, and
  closes the ticket it was serving. The services come from the hall's counter map (counter id
  → skills and the caller device at the window), synced from the centre as a retained
  ``edge.counters`` message and kept in the edge store. A counter the map does not know serves
  every service; with no map at all (never synced) calls are first come, first served over
  every service, as before the map existed (logged once).
- Position and estimated wait are per service: the tickets of the same service ahead in call
  order, and the work ahead that competes for the same windows (queue_rules.estimate).

Every change is also an event on the edge's own topic (``queue.ticket_issued``,
``queue.ticket_called``, ``queue.ticket_done``), through the outbox, so the centre catches up
after an outage (backend/branch/reconcile.py).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from edge.protocol import ProtocolError, format_ts, parse_ts
from edge.queue_rules import (
    CATEGORIES,
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

COUNTER_MAP_KEY = "hall_counters"
ALL_SERVICES = tuple(SERVICES)
_COLUMNS = (
    "id, ticket_no, service, status, issued_at, request_id, kiosk_id, counter_id, called_at,"
    " category"
)


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
    status: str  # waiting | called | done
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


def _ticket(row: Sequence[Any]) -> tuple[int, Ticket]:
    """A row of ``SELECT {_COLUMNS}`` as (row id, ticket)."""
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


# --------------------------------------------------------------------------- the counter map


@dataclass(frozen=True)
class CounterSkills:
    counter_id: str
    skills: tuple[str, ...]
    caller_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "counter_id": self.counter_id,
            "skills": list(self.skills),
            "caller_id": self.caller_id,
        }


@dataclass(frozen=True)
class CounterMap:
    """The hall's windows as the centre configured them: counter id → the services it serves
    and the caller device at it (the data of the retained ``edge.counters`` message)."""

    version: int
    counters: tuple[CounterSkills, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CounterMap:
        """Parse ``{"version", "counters":[{"counter_id","skills","caller_id"?}]}``; ValueError
        on a bad shape. Unknown service codes in skills are skipped (a newer centre)."""
        version, counters = data.get("version"), data.get("counters")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError("version must be an integer")
        if not isinstance(counters, list):
            raise ValueError("counters must be a list")
        parsed: dict[str, CounterSkills] = {}
        for entry in counters:
            if not isinstance(entry, Mapping):
                raise ValueError("each counter must be an object")
            counter_id, skills = entry.get("counter_id"), entry.get("skills")
            caller_id = entry.get("caller_id")
            if not isinstance(counter_id, str | int) or isinstance(counter_id, bool):
                raise ValueError("counter_id must be a string")
            if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
                raise ValueError("skills must be a list of service codes")
            if caller_id is not None and not isinstance(caller_id, str):
                raise ValueError("caller_id must be a string or null")
            known = tuple(dict.fromkeys(s for s in skills if s in SERVICES))
            parsed[str(counter_id)] = CounterSkills(str(counter_id), known, caller_id or None)
        return cls(version, tuple(parsed.values()))

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "counters": [c.to_dict() for c in self.counters]}

    def get(self, counter_id: str) -> CounterSkills | None:
        return next((c for c in self.counters if c.counter_id == counter_id), None)

    def of_caller(self, caller_id: str) -> CounterSkills | None:
        return next((c for c in self.counters if c.caller_id == caller_id), None)


# --------------------------------------------------------------------------- the queue


class LocalQueue:
    """``service_s``: one mean service time for every service in the estimates (default: each
    service's default from the shared rules)."""

    def __init__(self, store: EdgeStore, *, service_s: float | None = None) -> None:
        self.store = store
        self.mean_service_s = {s: float(service_s) for s in SERVICES} if service_s else {}
        self._log_lock = threading.Lock()
        self._logged: set[str] = set()
        self._map = self._load_map()

    # ------------------------------------------------------------------ the counter map

    def _load_map(self) -> CounterMap | None:
        raw = self.store.kv_get(COUNTER_MAP_KEY)
        if raw is None:
            return None
        try:
            return CounterMap.from_dict(json.loads(raw))
        except (ValueError, TypeError):
            log.warning("local queue: stored counter map unreadable; waiting for a new one")
            return None

    @property
    def counter_map(self) -> CounterMap | None:
        return self._map

    def set_counter_map(self, counter_map: CounterMap) -> bool:
        """Keep the centre's counter map (persisted: the edge may restart offline); whether it
        changed anything."""
        if self._map is not None and self._map == counter_map:
            return False
        self.store.kv_set(COUNTER_MAP_KEY, json.dumps(counter_map.to_dict(), sort_keys=True))
        self._map = counter_map
        with self._log_lock:
            self._logged.clear()
        return True

    def _once(self, key: str, message: str, *args: object) -> None:
        with self._log_lock:
            if key in self._logged:
                return
            self._logged.add(key)
        log.warning(message, *args)

    def counter_for(self, caller_id: str, counter_id: object = None) -> str:
        """The window a caller's "call next" is for: the ``counter_id`` it sends when the map
        knows it, else the counter the map links to that caller device, else what it sent (or
        the device id)."""
        sent = str(counter_id) if isinstance(counter_id, str | int) and counter_id != "" else None
        cmap = self._map
        if cmap is not None and (sent is None or cmap.get(sent) is None):
            linked = cmap.of_caller(caller_id)
            if linked is not None:
                return linked.counter_id
        return sent or caller_id

    def skills_for(self, counter_id: str) -> tuple[str, ...] | None:
        """The services ``counter_id`` serves; None without a map (first come, first served)."""
        cmap = self._map
        if cmap is None:
            self._once(
                "no-map",
                "local queue: no counter map synced from the centre yet; calling first come,"
                " first served over every service",
            )
            return None
        counter = cmap.get(counter_id)
        if counter is None:
            self._once(
                f"unknown:{counter_id}",
                "local queue: counter %r is not in the centre's counter map (v%d); it serves"
                " every service",
                counter_id,
                cmap.version,
            )
            return ALL_SERVICES
        return counter.skills

    # ------------------------------------------------------------------ order and estimates

    @staticmethod
    def _item(row_id: int, ticket: Ticket) -> QueueItem:
        try:
            queued_at = parse_ts(ticket.issued_at)
        except ProtocolError:  # never written by this module; keep the ticket callable
            queued_at = datetime.min.replace(tzinfo=UTC)
        return QueueItem(row_id, ticket.service, ticket.category, 0, queued_at, "waiting")

    def _ranked(self, waiting: list[tuple[int, Ticket]], now: datetime) -> list[QueueItem]:
        """Waiting tickets in call order: by score with a map, by arrival without."""
        items = [self._item(row_id, t) for row_id, t in waiting]
        return order(items, now) if self._map is not None else items

    def _windows(self, db: Any) -> list[tuple[str, Sequence[str]]]:
        """(status, skills) of the windows the edge serves, for the estimates: the map's
        counters with a caller device (all of them when none has one); without a map, every
        window that called today, each serving everything."""
        cmap = self._map
        if cmap is not None:
            linked = [c for c in cmap.counters if c.caller_id] or list(cmap.counters)
            return [("open", c.skills) for c in linked]
        windows = db.execute(
            "SELECT count(DISTINCT counter_id) FROM tickets WHERE counter_id IS NOT NULL"
            " AND day = (SELECT max(day) FROM tickets)"
        ).fetchone()[0]
        return [("open", ALL_SERVICES)] * max(1, windows)

    def _waiting(self, db: Any) -> list[tuple[int, Ticket]]:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM tickets WHERE status = 'waiting' ORDER BY id"  # noqa: S608
        ).fetchall()
        return [_ticket(row) for row in rows]

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
        """(ticket, created): a repeated request id returns its first ticket."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        category = check_category(category)
        day = now.date().isoformat()
        with self.store.transaction() as db:
            if request_id is not None:
                row = db.execute(
                    f"SELECT {_COLUMNS} FROM tickets WHERE request_id = ?",  # noqa: S608
                    (request_id,),
                ).fetchone()
                if row is not None:
                    return self._with_position(db, *_ticket(row), now), False
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
                " day, category) VALUES (?, ?, ?, ?, 'waiting', ?, ?, ?)",
                (ticket_no, service, request_id, kiosk_id, format_ts(now), day, category),
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
        with self.store.transaction() as db:
            done_row = db.execute(
                f"SELECT {_COLUMNS} FROM tickets WHERE status = 'called'"  # noqa: S608
                " AND counter_id = ? ORDER BY id DESC LIMIT 1",
                (counter_id,),
            ).fetchone()
            done = None
            if done_row is not None:
                done_id, finished = _ticket(done_row)
                db.execute("UPDATE tickets SET status = 'done' WHERE id = ?", (done_id,))
                done = replace(finished, status="done")
            waiting = self._waiting(db)
            if skills is None:
                chosen = waiting[0][0] if waiting else None
            else:
                items = [self._item(row_id, t) for row_id, t in waiting]
                choice = choose_next(items, skills, now)
                chosen = choice.id if choice is not None else None
            if chosen is None:
                return None, done
            ticket = next(t for row_id, t in waiting if row_id == chosen)
            called_at = format_ts(now)
            db.execute(
                "UPDATE tickets SET status = 'called', counter_id = ?, called_at = ? WHERE id = ?",
                (counter_id, called_at, chosen),
            )
            return replace(
                ticket, status="called", counter_id=counter_id, called_at=called_at
            ), done

    def waiting(self) -> list[Ticket]:
        """Waiting tickets in the order they were issued."""
        with self.store.transaction() as db:
            return [t for _row_id, t in self._waiting(db)]
