"""The edge's durable local state: one SQLite file per branch edge.

- ``outbox``: every uplink on its way to the centre, in arrival order (the autoincrement id is
  the order). A row leaves when the centre's receipt names its envelope id (the ingest stored
  it), or, with a centre that sends no receipts, when the central broker acknowledged it
  (PUBACK); so an edge restart or a long outage loses nothing; replays are marked historical.
- ``registry``: the branch's devices as last synced from the centre (type, status, password
  hash, edge key, password sealed for this edge), so the edge can start and admit devices
  while the centre is unreachable.
- ``tickets``: the local queue (edge/localqueue/), with each ticket's category, its ``day``
  (the branch's local day it was issued on; rows written before that fix keep their UTC day)
  and the time of its last change the edge knows of (``changed_at``: its own, or the centre's
  ``queue.sync``).
- ``kv``: small counters (the edge's own seq, the queue's daily numbers per local day, registry
  version) and the hall's counter map and timezone as last synced from the centre.

Writes are group-committed: one transaction per ``group_rows`` rows or ``group_s`` seconds,
whichever comes first (the forwarder also commits what is due on every turn), because a commit
per message made the outbox the edge's bottleneck (about 1,000 messages/s here). WAL with
``synchronous=NORMAL``: a committed row survives a crash of the edge process; the rows of the
last ``group_s`` (20 ms) and a power cut's last commits may not. ``group_rows=1`` and
``synchronous="FULL"`` trade throughput for that.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _private(path: Path) -> None:
    """The edge's database holds device secrets and its sealing key: missing directories are
    made 0700, the file (and so its -wal/-shm, which SQLite creates with the file's mode) 0600;
    files an older edge created 0644 are tightened."""
    for directory in reversed([p for p in (path.parent, *path.parent.parents) if not p.exists()]):
        directory.mkdir(mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for side in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        if side.exists() and side.stat().st_mode & 0o077:
            side.chmod(0o600)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    channel TEXT NOT NULL,
    envelope_id TEXT,
    historical INTEGER NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_outbox_envelope_id ON outbox (envelope_id);
CREATE TABLE IF NOT EXISTS registry (
    device_id TEXT PRIMARY KEY,
    device_type TEXT NOT NULL,
    status TEXT NOT NULL,
    password_hash TEXT,
    edge_key TEXT,
    password_sealed TEXT
);
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_no TEXT NOT NULL,
    service TEXT NOT NULL,
    request_id TEXT UNIQUE,
    kiosk_id TEXT,
    status TEXT NOT NULL,
    counter_id TEXT,
    issued_at TEXT NOT NULL,
    called_at TEXT,
    day TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT 'normal',
    changed_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_tickets_status ON tickets (status, id);
CREATE INDEX IF NOT EXISTS ix_tickets_ticket_no ON tickets (ticket_no);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Columns added after a release: (table, column, definition), added in place to an existing
# edge database when it opens (SQLite's ADD COLUMN is atomic and keeps every row).
_ADDED_COLUMNS = (
    ("outbox", "envelope_id", "TEXT"),  # receipts
    ("tickets", "category", "TEXT NOT NULL DEFAULT 'normal'"),  # the hall's priority rules
    ("tickets", "changed_at", "TEXT"),  # the centre's queue.sync (precedence by time)
    ("registry", "password_sealed", "TEXT"),  # a dynsec branch Mosquitto's device accounts
)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    channel: str
    historical: bool
    enqueued_at: float
    envelope_id: str | None = None


@dataclass(frozen=True)
class RegistryEntry:
    device_id: str
    device_type: str
    status: str
    password_hash: str | None = None
    edge_key: str | None = None  # hex
    # The device's MQTT password sealed for this edge (edge/sealing.py), for a branch
    # Mosquitto's dynamic security accounts; None from an older centre.
    password_sealed: str | None = None

    @property
    def admitted(self) -> bool:
        return self.status != "retired"

    def to_dict(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "device_type": self.device_type,
            "status": self.status,
            "password_hash": self.password_hash,
            "edge_key": self.edge_key,
            "password_sealed": self.password_sealed,
        }


class EdgeStore:
    """Thread-safe: one connection, one lock (the edge's writes are small and serial)."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "NORMAL",
        group_rows: int = 256,
        group_s: float = 0.02,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be NORMAL or FULL")
        self.path = Path(path)
        _private(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA busy_timeout=5000")
        # A forwarded row is overwritten with zeros when deleted, not left in a free page: the
        # outbox carries what must not outlive its delivery (a door camera's face encodings).
        self._db.execute("PRAGMA secure_delete=ON")
        for table, column, ddl in _ADDED_COLUMNS:  # an edge database from an older version
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if columns and column not in columns:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")
        self._db.executescript(_SCHEMA)
        self._count = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        self.group_rows, self.group_s = max(1, group_rows), group_s
        self._tx_open, self._tx_rows, self._tx_since = False, 0, 0.0

    def close(self) -> None:
        with self._lock:
            self._commit()
            self._db.close()

    # ------------------------------------------------------------------ group commit (lock held)

    def _begin(self) -> None:
        if not self._tx_open:
            self._db.execute("BEGIN")
            self._tx_open, self._tx_rows, self._tx_since = True, 0, time.monotonic()

    def _commit(self) -> None:
        if self._tx_open:
            self._db.execute("COMMIT")
            self._tx_open = False

    def _maybe_commit(self) -> None:
        if self._tx_open and (
            self._tx_rows >= self.group_rows or time.monotonic() - self._tx_since >= self.group_s
        ):
            self._commit()

    def flush(self) -> None:
        """Commit what is pending now."""
        with self._lock:
            self._commit()

    def flush_if_due(self) -> None:
        with self._lock:
            self._maybe_commit()

    # ------------------------------------------------------------------ outbox

    def append(
        self,
        topic: str,
        payload: bytes,
        channel: str,
        *,
        historical: bool,
        envelope_id: str | None = None,
    ) -> int:
        with self._lock:
            self._begin()
            cursor = self._db.execute(
                "INSERT INTO outbox (topic, payload, channel, historical, enqueued_at, envelope_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (topic, payload, channel, int(historical), time.time(), envelope_id),
            )
            self._count += 1
            self._tx_rows += 1
            self._maybe_commit()
            return int(cursor.lastrowid or 0)

    def peek(self, limit: int, after_id: int = 0) -> list[OutboxRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, channel, historical, enqueued_at, envelope_id"
                " FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [OutboxRow(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5], r[6]) for r in rows]

    def delete_envelopes(self, envelope_ids: list[str]) -> int:
        """Remove the rows of these envelope ids (the centre's receipt)."""
        deleted = 0
        with self._lock:
            self._begin()
            for start in range(0, len(envelope_ids), 500):
                chunk = envelope_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                deleted += self._db.execute(
                    f"DELETE FROM outbox WHERE envelope_id IN ({marks})",  # noqa: S608 (only ?s)
                    chunk,
                ).rowcount
            self._count = max(0, self._count - deleted)
            self._maybe_commit()
        return deleted

    def delete_through(self, row_id: int) -> int:
        with self._lock:
            self._begin()
            deleted = self._db.execute("DELETE FROM outbox WHERE id <= ?", (row_id,)).rowcount
            self._count = max(0, self._count - deleted)
            self._maybe_commit()
            return deleted

    def mark_historical(self) -> None:
        """Everything still waiting becomes a replay (after a restart or an outage)."""
        with self._lock:
            self._commit()
            self._db.execute("UPDATE outbox SET historical = 1 WHERE historical = 0")

    def mark_envelope_historical(self, envelope_id: str) -> bool:
        """Mark one waiting row historical (a press the edge served itself); False when the
        row is no longer in the outbox (the centre, or in PUBACK mode the broker, has it)."""
        with self._lock:
            self._begin()
            changed = self._db.execute(
                "UPDATE outbox SET historical = 1 WHERE envelope_id = ?", (envelope_id,)
            ).rowcount
            self._commit()
            return changed > 0

    def drop_oldest_telemetry(self, count: int) -> int:
        with self._lock:
            self._commit()
            deleted = self._db.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE channel = 'telemetry'"
                " ORDER BY id LIMIT ?)",
                (count,),
            ).rowcount
            self._count = max(0, self._count - deleted)
            return deleted

    @property
    def pending(self) -> int:
        return self._count

    # ------------------------------------------------------------------ registry

    def registry(self) -> dict[str, RegistryEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT device_id, device_type, status, password_hash, edge_key, password_sealed"
                " FROM registry"
            ).fetchall()
        return {r[0]: RegistryEntry(*r) for r in rows}

    def replace_registry(self, entries: Iterable[RegistryEntry], version: int) -> None:
        with self._lock:
            self._commit()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM registry")
                self._db.executemany(
                    "INSERT INTO registry (device_id, device_type, status, password_hash,"
                    " edge_key, password_sealed) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            e.device_id,
                            e.device_type,
                            e.status,
                            e.password_hash,
                            e.edge_key,
                            e.password_sealed,
                        )
                        for e in entries
                    ],
                )
                self._kv_set("registry_version", str(version))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ kv and SQL for helpers

    def _kv_set(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def kv_get(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def kv_set(self, key: str, value: str) -> None:
        with self._lock:
            self._commit()
            self._kv_set(key, value)

    def next_counter(self, key: str, *, start: int = 1) -> int:
        """Increment and return a persistent counter (the edge's seq, ticket numbers)."""
        with self._lock:
            self._commit()
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            value = int(row[0]) + 1 if row else start
            self._kv_set(key, str(value))
            return value

    def transaction(self) -> _Transaction:
        """``with store.transaction() as db:`` one atomic unit (the local queue uses it)."""
        return _Transaction(self)


class _Transaction:
    def __init__(self, store: EdgeStore) -> None:
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store._lock.acquire()
        self.store._commit()
        self.store._db.execute("BEGIN IMMEDIATE")
        return self.store._db

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        try:
            self.store._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store._lock.release()
