"""``finedge bench hub-refresh``: what the device hub's refresh costs at B branches × D devices.

A scratch database (PostgreSQL, created and dropped; a temporary SQLite file when PostgreSQL
cannot be reached, said on stderr; ``dbs="both"`` measures on each) gets B branches of D
devices (default 1,000 × 20, the issue's 20,000 devices; quick: 50 × 5), written directly: one
real password hash and encrypted secret shared by all (hashing 20,000 passwords would take
minutes and measures nothing of the refresh), and a hall with two counters (so the counter map
is built, as at a real branch). Each device's branch is announced in the change journal as
provisioning does, an hour ago (the steady state: no bump within the hub's grace window). A
``DeviceHub`` with a recording ``publish`` (no broker) then
does its first pass, and is measured:

- ours: the idle refresh (nothing changed since the last pass): the journal query alone;
- baseline: the pass every refresh made before issue 12, every 5 s: over every branch with
  devices (edge id, registry version, desired configs, counter map, queue sync), caches warm,
  so nothing is published either (the hub's whole pass with what it published kept);
- the refresh after one device's desired configuration changed (ours re-reads that branch),
  against the same baseline.

Rows: SQL statements of a pass (counted by a ``before_cursor_execute`` listener, the
transaction's own BEGIN/COMMIT left out) and its median milliseconds over ``passes`` passes,
each against the baseline. Options: ``branches``, ``devices``, ``passes``, ``dbs``
(``postgresql`` default, falling back to SQLite; ``sqlite``; ``both``), ``pg_url``,
``time_limit_s`` (past it the bench stops with an error; default 600, quick 120).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event, insert, update

from backend.branch.models import BranchHall, HallCounter
from backend.devices import service
from backend.devices.models import Device, device_row
from backend.devices.secretbox import SecretBox
from backend.platform import changes, migrate
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM
from backend.platform.db import make_engine, session_scope
from backend.platform.live import NullEmitter
from backend.roles.hub import DeviceHub, HubSettings
from bench.queue import DEFAULT_PG_URL, _database
from bench.wiring import session_factory as bench_sessions
from edge.credentials import hash_password, mqtt_password_for, new_hmac_secret

KEY = "bench-" + "k" * 42
OURS = "incremental refresh (the change journal)"
BASELINE = "the pass over every branch each refresh made before issue 12"


class TimeLimit(RuntimeError):
    pass


def run(options: dict | None = None) -> list[dict]:
    options = dict(options or {})
    quick = bool(options.get("quick"))
    size = {
        "branches": int(options.get("branches", 50 if quick else 1000)),
        "devices": int(options.get("devices", 5 if quick else 20)),
        "passes": int(options.get("passes", 5 if quick else 20)),
    }
    deadline = time.monotonic() + float(options.get("time_limit_s", 120 if quick else 600))
    pg_url = options.get("pg_url") or os.environ.get("FINEDGE_BENCH_PG_URL") or DEFAULT_PG_URL
    dbs = options.get("dbs", "postgresql")
    rows: list[dict] = []
    for kind in ("postgresql", "sqlite") if dbs == "both" else (dbs,):
        with _scratch(kind, pg_url) as (db, url):
            if dbs == "both" and db != kind:
                continue  # PostgreSQL unreachable: SQLite is measured once
            engine = make_engine(url)
            try:
                rows += _measure(engine, db, size, deadline)
            finally:
                engine.dispose()
    return rows


@contextlib.contextmanager
def _scratch(kind: str, pg_url: str) -> Iterator[tuple[str, str]]:
    if kind == "postgresql":
        with _database(pg_url) as found:
            yield found
        return
    with tempfile.TemporaryDirectory(prefix="finedge-bench-") as directory:
        url = f"sqlite:///{Path(directory) / 'hub.db'}"
        migrate.upgrade(url)
        yield "sqlite", url


def _measure(engine, db: str, size: dict[str, int], deadline: float) -> list[dict]:
    sessions = bench_sessions(engine)
    _populate(sessions, size["branches"], size["devices"])
    hub = DeviceHub(sessions, NullEmitter(), KEY, "mqtt://127.0.0.1:1", HubSettings(leases=False))
    sent: list[str] = []
    hub.publish = lambda topic, payload, qos=1, retain=False, **_kw: sent.append(topic)
    started = time.monotonic()
    hub.refresh()  # the first pass (after a connect): everything published
    first_s = time.monotonic() - started
    published = len(sent)

    def pass_of(baseline: bool) -> tuple[int, float]:
        if time.monotonic() > deadline:
            raise TimeLimit("bench hub-refresh: time limit reached")
        if baseline:  # the whole pass, with what was published kept (nothing to send)
            hub.publisher.owe_whole_pass()
        with statements(engine) as stmts:
            began = time.monotonic()
            hub.refresh()
            took = time.monotonic() - began
        return len(stmts), took

    idle = [pass_of(False) for _ in range(size["passes"])]
    whole = [pass_of(True) for _ in range(max(size["passes"] // 4, 2))]
    changed = []
    for n in range(size["passes"]):
        with session_scope(sessions) as session:
            device_id = f"B{n % size['branches']:05d}-D0"
            service.set_desired(session, SYSTEM, device_id, {"n": n})
        changed.append(pass_of(False))
    params = {
        "db": db,
        "branches": size["branches"],
        "devices_per_branch": size["devices"],
        "passes": size["passes"],
        "first_pass_ms": round(first_s * 1000, 1),
        "first_pass_published": published,
    }
    base_stmts = statistics.median(s for s, _t in whole)
    base_ms = statistics.median(t for _s, t in whole) * 1000
    return [
        _row("idle_refresh_statements", max(s for s, _ in idle), "", base_stmts, params),
        _row(
            "idle_refresh_ms", statistics.median(t for _, t in idle) * 1000, "ms", base_ms, params
        ),
        _row("one_change_refresh_statements", max(s for s, _ in changed), "", base_stmts, params),
        _row(
            "one_change_refresh_ms",
            statistics.median(t for _, t in changed) * 1000,
            "ms",
            base_ms,
            params,
        ),
    ]


def _row(metric: str, value: float, unit: str, baseline_value: float, params: dict) -> dict:
    """Lower is better for every row: the ratio is the baseline's over ours."""
    return {
        "bench": "hub-refresh",
        "metric": metric,
        "value": round(value, 3),
        "unit": unit,
        "baseline": BASELINE,
        "baseline_value": round(baseline_value, 3),
        "ratio": round(baseline_value / value, 3) if value else 0.0,
        "params": params,
    }


@contextlib.contextmanager
def statements(engine) -> Iterator[list[str]]:
    """The SQL statements the engine runs inside the block (not the transaction's own: the
    SQLite engine issues its BEGIN IMMEDIATE as a statement)."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _populate(sessions, branches: int, devices: int) -> None:
    secret = new_hmac_secret()
    password_hash = hash_password(mqtt_password_for(secret))
    secret_enc = SecretBox(KEY).encrypt(secret)
    now = utcnow()
    for first in range(0, branches, 100):
        names = [f"B{n:05d}" for n in range(first, min(first + 100, branches))]
        rows = [
            device_row(
                f"{b}-D{i}",
                b,
                "lock",
                now,
                password_hash=password_hash,
                hmac_secret_enc=secret_enc,
            )
            for b in names
            for i in range(devices)
        ]
        with session_scope(sessions) as session:
            session.execute(insert(Device), rows)
            session.execute(
                insert(BranchHall), [{"branch_id": b, "updated_at": now} for b in names]
            )
            session.execute(
                insert(HallCounter),
                [
                    {
                        "branch_id": b,
                        "counter_id": str(c),
                        "name": f"Window {c}",
                        "skills": ["cash"],
                        "borrowed_skills": [],
                        "status": "open",
                        "device_id": None,
                        "updated_at": now,
                    }
                    for b in names
                    for c in (1, 2)
                ],
            )
            for b in names:
                changes.touch(session, b, "devices")
    with session_scope(sessions) as session:  # provisioned long ago: out of the grace window
        session.execute(update(changes.BranchChange).values(changed_at=now - timedelta(hours=1)))
    print(f"bench hub-refresh: {branches} branches × {devices} devices written", file=sys.stderr)
