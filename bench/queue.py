"""``finedge bench queue``: ticket creation at a branch with N tickets already waiting.

A scratch database (PostgreSQL, created and dropped; a temporary SQLite file when PostgreSQL
cannot be reached, said on stderr) is migrated and seeded; branch BR001's four counters open
and N tickets wait (``waiting``: 800, half of them clients' tickets, the rest walk-ins, in
every service and category). Tellers then issue tickets for clients, each in its own
transaction through ``queue.service.issue_ticket``, the pushes going out after the commit
through Socket.IO's Redis message queue as a web process sends them (REDIS_URL, default
redis://127.0.0.1:6379/0; without Redis each push is only encoded as JSON: ``params.emitter``).
Three paths, the tickets issued in each round deleted after it so every round starts at N:

- ours: the change pushed as a delta (queue/delta.py), standings in one pass;
- baseline: the full-picture push every write made before issue 12 (the whole staff picture to
  the branch room and every client's ticket to that client, each estimate by rules.estimate
  over the queue, tickets loaded as ORM objects), the rest of the write unchanged;
- floor: a plain INSERT of a ticket row, one transaction each.

Rate: ``threads`` tellers in a closed loop, the paths alternating in ``rounds`` so a noisy
machine slows each alike. Latency: tickets arriving at ``pace`` a second (5.2, the load under
which the full-picture push had p99 6.3 s) whatever the answers, arrival to answer. Rows:
tickets per second against the full-picture push and against the plain INSERT, p99 latency at
the pace, bytes pushed per ticket. Options: ``quick`` (60 waiting, fewer tickets),
``waiting``, ``issues``, ``old_issues``, ``inserts``, ``threads``, ``rounds``, ``pace``,
``paced``, ``old_paced``, ``pg_url``, ``redis_url``, ``time_limit_s`` (past it the bench stops
with an error; default 600, quick 120). The writes of one branch are serialised by its hall
lock, so one branch's rate is one write at a time, whatever the cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from sqlalchemy import delete, func, insert, select

from backend.branch import rules
from backend.branch.halls import get_hall, local_day
from backend.branch.models import HallCounter, Ticket, TicketSequence
from backend.branch.queue import service as queue
from backend.branch.queue.service import tickets as ticket_service
from backend.branch.queue.snapshot import (
    Snapshot,
    counters_of,
    item,
    mean_service_times,
    services_of,
)
from backend.branch.queue.views import display_board, queue_picture, ticket_view
from backend.branch.runtime import Hall
from backend.identity.models import Org, User
from backend.identity.service import actor_for
from backend.platform import migrate
from backend.platform.after_commit import after_commit
from backend.platform.clock import utcnow
from backend.platform.config import Config
from backend.platform.db import make_engine, session_scope
from backend.platform.live import LiveEmitter, rooms_for
from backend.platform.ports import DeviceLink
from backend.platform.wiring import port
from bench.wiring import session_factory as bench_sessions

B = "BR001"
OURS = "delta push"
BASELINE = "the full-picture push of every write (before issue 12)"
FLOOR = "a plain INSERT of a ticket row, one transaction each"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SERVICES = list(rules.SERVICES)
CATEGORIES = ["normal"] * 7 + ["elderly", "vip", "appointment"]
PACE = 5.2  # tickets a second: the load under which the full-picture push had p99 6.3 s


def run(options: dict | None = None) -> list[dict]:
    options = dict(options or {})
    quick = bool(options.get("quick"))
    size = {
        "waiting": int(options.get("waiting", 60 if quick else 800)),
        "issues": int(options.get("issues", 40 if quick else 240)),
        "old_issues": int(options.get("old_issues", 8 if quick else 40)),
        "inserts": int(options.get("inserts", 40 if quick else 400)),
        "threads": int(options.get("threads", 4 if quick else 8)),
        "rounds": int(options.get("rounds", 2 if quick else 4)),
        "pace": float(options.get("pace", PACE)),
        "paced": int(options.get("paced", 10 if quick else 60)),
        "old_paced": int(options.get("old_paced", 5 if quick else 20)),
    }
    deadline = time.monotonic() + float(options.get("time_limit_s", 120 if quick else 600))
    pg_url = options.get("pg_url") or os.environ.get("FINEDGE_BENCH_PG_URL") or DEFAULT_PG_URL
    redis_url = options.get("redis_url") or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    with _database(pg_url) as (db, url):
        engine = make_engine(url)
        try:
            return _measure(engine, url, db, redis_url, size, deadline)
        finally:
            engine.dispose()


def _measure(engine, url, db, redis_url, size, deadline) -> list[dict]:
    sessions = bench_sessions(engine)
    emitter, emitter_name = _emitter(redis_url)
    hall = Hall(live=emitter, send_command=lambda *_a: None, secret_key="bench-" + "k" * 40)
    teller, clients = _prepare(sessions, url, size)
    wanted = {"ours": "issues", "old": "old_issues", "insert": "inserts"}
    lat: dict[str, list[float]] = {p: [] for p in wanted}
    spent = dict.fromkeys(wanted, 0.0)
    sent = dict.fromkeys(("ours", "old"), 0)
    for _round in range(size["rounds"]):  # alternating: a noisy machine slows each alike
        for path, key in wanted.items():
            n = max(size[key] // size["rounds"], 1)
            with _round_of(sessions, path):
                if path == "insert":
                    task = _inserter(engine)
                else:
                    _issue(sessions, hall, teller, clients.pop())  # warm-up: not measured
                    task = _issuer(sessions, hall, teller, clients)
                before = emitter.bytes
                took, got = _drive(task, n, size["threads"], deadline)
                if path != "insert":
                    sent[path] += emitter.bytes - before
            spent[path] += took
            lat[path] += got
    paced: dict[str, list[float]] = {}
    for path, key in (("ours", "paced"), ("old", "old_paced")):
        with _round_of(sessions, path):
            _issue(sessions, hall, teller, clients.pop())
            task = _issuer(sessions, hall, teller, clients)
            paced[path] = _paced(task, size[key], size["pace"], deadline)
    rate = {p: len(lat[p]) / spent[p] for p in lat}
    per = {p: sent[p] / max(len(lat[p]), 1) for p in sent}
    params = {
        "db": db,
        "waiting": size["waiting"],
        "emitter": emitter_name,
        "threads": size["threads"],
        "issued": len(lat["ours"]),
        "baseline_issued": len(lat["old"]),
        "closed_loop_p50_ms": _ms(statistics.median(lat["ours"])),
        "closed_loop_p99_ms": _ms(_p99(lat["ours"])),
        "baseline_closed_loop_p50_ms": _ms(statistics.median(lat["old"])),
        "baseline_closed_loop_p99_ms": _ms(_p99(lat["old"])),
    }
    at_pace = {
        **params,
        "pace_per_s": size["pace"],
        "paced": len(paced["ours"]),
        "baseline_paced": len(paced["old"]),
        "p50_ms": _ms(statistics.median(paced["ours"])),
        "baseline_p50_ms": _ms(statistics.median(paced["old"])),
    }
    p99 = {p: _p99(paced[p]) * 1000 for p in paced}
    return [
        _row("tickets_per_s", rate["ours"], "1/s", BASELINE, rate["old"], params),
        _row("ticket_p99_ms", p99["ours"], "ms", BASELINE, p99["old"], at_pace, lower=True),
        _row("tickets_per_s", rate["ours"], "1/s", FLOOR, rate["insert"], params),
        _row("pushed_bytes_per_ticket", per["ours"], "B", BASELINE, per["old"], params, lower=True),
    ]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _row(metric, value, unit, baseline, baseline_value, params, *, lower=False) -> dict:
    ratio = (baseline_value / value if lower else value / baseline_value) if value else 0.0
    return {
        "bench": "queue",
        "metric": metric,
        "value": round(value, 2),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(baseline_value, 2),
        "ratio": round(ratio, 3),
        "params": params,
    }


def _p99(values: list[float]) -> float:
    return rules.percentile(values, 99) or 0.0


# --------------------------------------------------------------------------- the hall


def _prepare(sessions, url: str, size: dict) -> tuple:
    """BR001 with its counters open and ``waiting`` tickets; client users for the tickets
    (half of the waiting ones and one per ticket issued)."""
    from backend.seed import SeedOptions, seed

    rng = random.Random(12)
    with session_scope(sessions) as s:
        seed(s, Config.from_env(database_url=url), SeedOptions(progress=False))
    with session_scope(sessions) as s:
        s.query(HallCounter).update({"current_ticket_id": None, "status": "open"})
        s.execute(delete(Ticket).where(Ticket.branch_id == B))
        org_id = s.scalar(select(Org.id).where(Org.code == "CLIENTS"))
        wanted = size["waiting"] // 2 + 4 * size["rounds"] + 2
        wanted += sum(size[k] for k in ("issues", "old_issues", "paced", "old_paced"))
        now = utcnow()
        s.execute(
            insert(User),
            [
                {"username": f"bench-q{i}", "role": "client", "org_id": org_id, "created_at": now}
                for i in range(wanted)
            ],
        )
    with session_scope(sessions) as s:
        clients = list(s.scalars(select(User.id).where(User.username.like("bench-q%"))))
        teller = actor_for(s.scalar(select(User).where(User.username == "teller1")))
        hall_row = get_hall(s, B)
        day, now = local_day(hall_row, utcnow()), utcnow()
        numbers: dict[str, int] = {}
        rows = []
        for i in range(size["waiting"]):
            service = rng.choice(SERVICES)
            prefix = rules.ticket_prefix(service, "staff")
            numbers[prefix] = numbers.get(prefix, 0) + 1
            at = now - timedelta(seconds=rng.uniform(0, 7200))
            rows.append(
                {
                    "branch_id": B,
                    "day": day,
                    "ticket_no": rules.format_ticket_no(prefix, numbers[prefix]),
                    "service": service,
                    "original_service": service,
                    "channel": "staff",
                    "category": rng.choice(CATEGORIES),
                    "boost_s": 0,
                    "status": "waiting",
                    "client_user_id": clients.pop() if i % 2 == 0 else None,
                    "source": "bench",
                    "issued_at": at,
                    "queued_at": at,
                    "arrived_at": at,
                    "updated_at": at,
                }
            )
        if rows:
            s.execute(insert(Ticket), rows)
        s.execute(delete(TicketSequence).where(TicketSequence.branch_id == B))
        for prefix, last in numbers.items():
            s.add(TicketSequence(branch_id=B, day=day, prefix=prefix, last=last))
    return teller, clients


@contextlib.contextmanager
def _round_of(sessions, path: str) -> Iterator[None]:
    """One path's round: the full-picture push swapped in for the baseline, and the tickets
    issued in the round deleted after it (the queue back at N waiting)."""
    with session_scope(sessions) as s:
        mark = s.scalar(select(func.max(Ticket.id))) or 0
    swapped = ticket_service.queue_changed
    if path == "old":
        ticket_service.queue_changed = full_picture_queue_changed
    try:
        yield
    finally:
        ticket_service.queue_changed = swapped
        with session_scope(sessions) as s:
            s.execute(delete(Ticket).where(Ticket.id > mark))


def _issue(sessions, hall: Hall, teller, client_id: int) -> None:
    with session_scope(sessions) as s:
        queue.issue_ticket(s, teller, hall, B, "cash", client_id=client_id, category="normal")


def _issuer(sessions, hall: Hall, teller, clients: list[int]) -> Callable[[int], None]:
    """A teller issuing a ticket for the next client (each its own transaction)."""
    lock = threading.Lock()

    def task(_i: int) -> None:
        with lock:
            client_id = clients.pop()
        _issue(sessions, hall, teller, client_id)

    return task


def _inserter(engine) -> Callable[[int], None]:
    base = uuid.uuid4().hex[:6]

    def task(i: int) -> None:
        at = utcnow()
        with engine.begin() as conn:
            conn.execute(
                insert(Ticket).values(
                    branch_id=B,
                    day="bench",
                    ticket_no=f"X{base}{i}"[:12],
                    service="cash",
                    original_service="cash",
                    channel="staff",
                    category="normal",
                    boost_s=0,
                    status="waiting",
                    source="bench",
                    issued_at=at,
                    queued_at=at,
                    arrived_at=at,
                    updated_at=at,
                )
            )

    return task


def _drive(task: Callable[[int], None], n: int, threads: int, deadline: float):
    """``n`` calls of ``task`` from ``threads`` threads; (seconds, latency of each call)."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    counter = iter(range(n))
    lock = threading.Lock()

    def worker() -> None:
        while not errors:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            if time.monotonic() > deadline:
                errors.append(TimeoutError("bench queue: time limit reached"))
                return
            started = time.perf_counter()
            try:
                task(i)
            except BaseException as exc:  # reported by the caller
                errors.append(exc)
                return
            with lock:
                latencies.append(time.perf_counter() - started)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started, latencies


def _paced(task: Callable[[int], None], n: int, pace: float, deadline: float) -> list[float]:
    """``n`` calls of ``task`` arriving at ``pace`` a second whatever the answers (each on its
    own thread); the latency of each, arrival to answer."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one(i: int, due: float) -> None:
        try:
            task(i)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
            return
        with lock:
            latencies.append(time.perf_counter() - due)

    started = time.perf_counter()
    workers = []
    for i in range(n):
        due = started + i / pace
        time.sleep(max(0.0, due - time.perf_counter()))
        if time.monotonic() > deadline or errors:
            break
        worker = threading.Thread(target=one, args=(i, due), daemon=True)
        worker.start()
        workers.append(worker)
    for worker in workers:
        worker.join(max(1.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    if len(latencies) < n:
        raise TimeoutError("bench queue: time limit reached")
    return latencies


# --------------------------------------------------------------------------- pushes


class _CountingEmitter(LiveEmitter):
    """Counts the JSON bytes of every push, then hands it to ``inner`` (if any)."""

    def __init__(self, inner: LiveEmitter | None, renderers) -> None:
        super().__init__(renderers)
        self.inner, self.bytes = inner, 0
        self._lock = threading.Lock()

    def send(self, event, payload, *, rooms) -> None:
        size = len(json.dumps(payload, separators=(",", ":")))
        with self._lock:
            self.bytes += size
        if self.inner is not None:
            self.inner.send(event, payload, rooms=rooms)


def _emitter(redis_url: str) -> tuple[_CountingEmitter, str]:
    from backend.bootstrap import collect_areas, live_renderers

    renderers = live_renderers(collect_areas())
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except Exception as exc:
        print(f"bench queue: no Redis ({exc}); pushes are encoded only", file=sys.stderr)
        return _CountingEmitter(None, renderers), "json"
    from backend.roles.live import external_emitter

    return _CountingEmitter(external_emitter(redis_url, renderers), renderers), "socketio+redis"


class _FullPictureSnapshot(Snapshot):
    """The snapshot as it was before issue 12: tickets as ORM objects, and each estimate
    ``rules.estimate`` over the whole queue."""

    @cached_property
    def ranked(self) -> list[rules.QueueItem]:
        return rules.order(self.queued, self.now)

    def estimate(self, ticket) -> rules.Estimate | None:
        if ticket.status not in rules.QUEUED_STATUSES:
            return None
        return rules.estimate(
            item(ticket),
            self.ranked,
            self.counter_pairs,
            self.means,
            self.now,
            busy=self.busy(ticket.service),
            ranked=True,
        )

    def estimate_new(self, service: str) -> rules.Estimate:
        probe = rules.QueueItem(0, service, "normal", 0, self.now, "waiting")
        return rules.estimate(
            probe,
            [*self.queued, probe],
            self.counter_pairs,
            self.means,
            self.now,
            busy=self.busy(service),
        )


def full_picture_queue_changed(session, hall: Hall, branch_id: str, now):
    """``pushes.queue_changed`` as it was before issue 12 (the baseline)."""
    from backend.branch.queue.pushes import active_displays

    row = get_hall(session, branch_id)
    row.queue_version += 1
    row.updated_at = now
    session.flush()
    services = services_of(session, branch_id)
    tickets = list(
        session.scalars(
            select(Ticket).where(
                Ticket.branch_id == branch_id, Ticket.status.in_(rules.OPEN_STATUSES)
            )
        )
    )
    snap = _FullPictureSnapshot(
        now=now,
        tickets=tickets,
        counters=counters_of(session, branch_id),
        services=services,
        means=mean_service_times(session, branch_id, services, now),
    )
    picture = queue_picture(snap, branch_id, row.queue_version)
    hall.emit(session, "queue.update", picture, rooms_for(branches=[branch_id], roles=["admin"]))
    for ticket in snap.tickets:
        if ticket.client_user_id is not None:
            hall.emit(
                session,
                "queue.update",
                {
                    "branch_id": branch_id,
                    "version": row.queue_version,
                    "ticket": ticket_view(ticket, snap),
                },
                rooms_for(users=[ticket.client_user_id]),
            )
    displays = active_displays(session, branch_id) if hall.send_command is not None else []
    if displays:
        hall.show_board(session, branch_id, row.queue_version, display_board(picture), displays)
    link = port(session, DeviceLink)
    after_commit(session, lambda: link.queue_changed(branch_id), key=("edge.queue_sync", branch_id))
    return snap


# --------------------------------------------------------------------------- the database


@contextlib.contextmanager
def _database(pg_url: str) -> Iterator[tuple[str, str]]:
    try:
        import psycopg

        admin = pg_url.replace("postgresql+psycopg", "postgresql")
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except Exception as exc:  # unreachable or refused: SQLite, said on stderr
        print(f"bench queue: PostgreSQL unreachable ({exc}); on SQLite", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="finedge-bench-") as directory:
            url = f"sqlite:///{Path(directory) / 'queue.db'}"
            migrate.upgrade(url)
            yield "sqlite", url
        return
    name = f"finedge_bench_{uuid.uuid4().hex[:10]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        yield "postgresql", url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
