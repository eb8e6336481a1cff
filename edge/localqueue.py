"""The branch's local ticket queue, owned by the edge so that it keeps issuing and calling
tickets while the link to the centre is down, with the hall's own rules (edge/queue_rules.py,
the ones the centre runs through backend/branch/rules.py).

- Tickets: one letter per service and a daily counter (A001, B002, …); issuing is idempotent
  per kiosk request id (a kiosk that repeats its request gets the same ticket). A ticket has a
  category (normal | elderly | vip | appointment) that the kiosk may send with its request.
- The day is the branch's LOCAL day, as at the centre (reconcile.py names an edge ticket by
  branch, the local day of its ``issued_at`` and its number): numbers restart at local
  midnight, and each ticket's ``day`` column is that local day. The timezone is the hall's, sent
  by the centre with the counter map (``"timezone"``, an IANA name) and kept in the edge store
  (``hall_timezone``); until one arrives, the edge's configured default (``finedge edge
  --timezone``, Asia/Shanghai). Rows of an older edge database keep the UTC day they were
  written with.
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

The other way round, the centre tells the edge what its staff did with the edge's tickets
(``queue.sync`` on the edge's ``queue/sync`` topic: called, recalled, finished, no-show,
transferred, cancelled; ``apply_sync``), so that a client the centre called is no longer waiting
here: the offline queue never calls them again and positions count only who truly waits.
Precedence is by time: every ticket keeps the time of the last change the edge knows of
(``changed_at``: its own issue, call and finish by the edge clock, or the centre's ``at``); a
centre entry applies only when it is newer, and a ticket finished (done, no-show, cancelled,
expired) is never reopened. Repeated, late or reordered messages therefore change nothing, and
the edge's own later offline events win. Applying one emits nothing (no echo to the centre).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

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
TIMEZONE_KEY = "hall_timezone"
DEFAULT_TIMEZONE = "Asia/Shanghai"
ALL_SERVICES = tuple(SERVICES)
_COLUMNS = (
    "id, ticket_no, service, status, issued_at, request_id, kiosk_id, counter_id, called_at,"
    " category"
)
# Statuses a ticket can have at the edge: its own waiting | called | done, and what the centre
# may report (queue.sync): no_show, cancelled, expired. The finished ones are final.
FINISHED = frozenset({"done", "no_show", "cancelled", "expired"})
SYNC_STATUSES = frozenset({"waiting", "called", *FINISHED})
SYNC_KEY = "queue_sync"
UNKNOWN_KEPT = 50


def load_zone(name: object) -> ZoneInfo:
    """The IANA timezone ``name``; ValueError for anything else (a bad name, or one this
    system's zone database does not have)."""
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        raise ValueError("timezone must be an IANA name such as Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown timezone {name!r}") from None


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
    and the caller device at it, and the hall's timezone (the data of the retained
    ``edge.counters`` message; ``timezone`` is None from a centre that does not send it)."""

    version: int
    counters: tuple[CounterSkills, ...]
    timezone: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CounterMap:
        """Parse ``{"version", "counters":[{"counter_id","skills","caller_id"?}],
        "timezone"?}``; ValueError on a bad shape. Unknown service codes in skills are skipped
        (a newer centre); a timezone name is checked when the queue takes it."""
        version, counters = data.get("version"), data.get("counters")
        timezone = data.get("timezone")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError("version must be an integer")
        if not isinstance(counters, list):
            raise ValueError("counters must be a list")
        if timezone is not None and (not isinstance(timezone, str) or not 0 < len(timezone) <= 64):
            raise ValueError("timezone must be an IANA name or null")
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
        return cls(version, tuple(parsed.values()), timezone)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "counters": [c.to_dict() for c in self.counters],
        }
        if self.timezone is not None:
            data["timezone"] = self.timezone
        return data

    def get(self, counter_id: str) -> CounterSkills | None:
        return next((c for c in self.counters if c.counter_id == counter_id), None)

    def of_caller(self, caller_id: str) -> CounterSkills | None:
        return next((c for c in self.counters if c.caller_id == caller_id), None)


# --------------------------------------------------------------------------- the centre's view


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


def _known_at(changed_at: str | None, issued_at: str, called_at: str | None) -> datetime:
    """When the edge last saw the ticket change (rows from before ``changed_at``: their latest
    own time)."""
    times = []
    for value in (changed_at,) if changed_at else (issued_at, called_at):
        if value:
            with contextlib.suppress(ProtocolError):
                times.append(parse_ts(value))
    return max(times, default=datetime.min.replace(tzinfo=UTC))


# --------------------------------------------------------------------------- the queue


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
        self._log_lock = threading.Lock()
        self._logged: set[str] = set()
        self._default_zone = load_zone(timezone)
        self._zone = self._load_zone()
        self._map = self._load_map()

    # ------------------------------------------------------------------ the local day

    def _load_zone(self) -> ZoneInfo | None:
        """The hall's timezone as last synced from the centre (None: never, or unusable)."""
        name = self.store.kv_get(TIMEZONE_KEY)
        if name is None:
            return None
        try:
            return load_zone(name)
        except ValueError:
            log.warning("local queue: stored timezone %r unknown here; using the default", name)
            return None

    @property
    def timezone(self) -> str:
        """The IANA name of the zone whose local day numbers the tickets now."""
        return str(self._zone or self._default_zone)

    @property
    def timezone_synced(self) -> bool:
        """Whether that zone is the centre's (else the configured default)."""
        return self._zone is not None

    def set_timezone(self, name: str) -> bool:
        """Keep the hall's timezone from the centre (persisted: the edge may restart offline);
        whether it changed. ValueError for a name this edge cannot use (the current one stays).
        A change takes effect with the next ticket: numbers go on under the new local day."""
        zone = load_zone(name)
        if self._zone is not None and str(self._zone) == str(zone):
            return False
        self.store.kv_set(TIMEZONE_KEY, str(zone))
        self._zone = zone
        return True

    def local_day(self, when: datetime) -> str:
        """The branch's local day of ``when`` (naive: UTC), as ``YYYY-MM-DD``."""
        aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return aware.astimezone(self._zone or self._default_zone).date().isoformat()

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
        """Keep the centre's counter map (persisted: the edge may restart offline) and the
        hall's timezone it carries (set_timezone; a map without one keeps the last known); an
        unknown timezone is logged and the map still applies. Whether it changed anything."""
        if counter_map.timezone is not None:
            try:
                self.set_timezone(counter_map.timezone)
            except ValueError as exc:
                self._once(
                    f"timezone:{counter_map.timezone}",
                    "local queue: the centre's timezone not usable here (%s); numbering by %s",
                    exc,
                    self.timezone,
                )
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
        window that called on the latest (local) day, each serving everything."""
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
        """(ticket, created): a repeated request id returns its first ticket. The number is
        the next of ``service`` on the branch's local day of ``now``."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        category = check_category(category)
        day = self.local_day(now)
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
                f"SELECT {_COLUMNS} FROM tickets WHERE status = 'called'"  # noqa: S608
                " AND counter_id = ? ORDER BY id DESC LIMIT 1",
                (counter_id,),
            ).fetchone()
            done = None
            if done_row is not None:
                done_id, finished = _ticket(done_row)
                db.execute(
                    "UPDATE tickets SET status = 'done', changed_at = ? WHERE id = ?",
                    (changed_at, done_id),
                )
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
                f"SELECT {_COLUMNS} FROM tickets WHERE ticket_no = ?"  # noqa: S608
                " ORDER BY id DESC LIMIT 1",
                (ticket_no,),
            ).fetchone()
        return _ticket(row)[1] if row is not None else None

    # ------------------------------------------------------------------ the centre's view

    def apply_sync(self, sync: QueueSync) -> SyncResult:
        """Apply what the centre did with the edge's tickets (``queue.sync``), in one
        transaction. An entry changes a ticket only when it is newer than the last change the
        edge knows of (``changed_at``), and never reopens a finished ticket; the ticket then
        takes the centre's status (a call with its counter and time, a finish, or waiting
        again after a transfer, in the new service) and ``changed_at`` becomes the entry's
        ``at``. Entries for tickets the edge does not have are recorded and otherwise ignored.
        Emits nothing: the centre already knows (no echo)."""
        result = SyncResult(refused=sync.refused)
        unknown: list[CentreTicket] = []
        with self.store.transaction() as db:
            for entry in sync.tickets:
                row = self._find_synced(db, entry)
                if row is None:
                    result.unknown.append(entry.ticket_no)
                    unknown.append(entry)
                    continue
                if self._apply_entry(db, row, entry):
                    result.applied.append(entry.ticket_no)
                else:
                    result.unchanged += 1
            if unknown:
                self._record_unknown(db, unknown)
        if result.applied or result.unknown or result.refused:
            log.info(
                "local queue: centre sync changed %s; %d unchanged, unknown %s, %d unusable",
                result.applied[:10],
                result.unchanged,
                result.unknown[:10],
                result.refused,
            )
        return result

    @staticmethod
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

    @staticmethod
    def _apply_entry(db: Any, row: tuple[Any, ...], entry: CentreTicket) -> bool:
        """Whether the ticket's state changed."""
        row_id, status, service, counter_id, issued_at, called_at, changed_at = row
        if entry.at <= _known_at(changed_at, issued_at, called_at):
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

    @staticmethod
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

    def sync_unknown(self) -> list[dict[str, str]]:
        """The centre's entries for tickets this edge does not have (the last UNKNOWN_KEPT)."""
        raw = self.store.kv_get(SYNC_KEY + "_unknown")
        try:
            return list(json.loads(raw)) if raw else []
        except ValueError:
            return []
