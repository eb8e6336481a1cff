"""The scheduler role: the jobs on their schedules, exactly one active scheduler across machines.

    standby ──(leader lock taken)──> active: APScheduler runs the jobs
       ^                                 │
       └──(lock lost: its connection broke, or stop)──┘  (the jobs stop being triggered)

The leader lock is a PostgreSQL session advisory lock held on a connection of its own for as
long as the scheduler is active; PostgreSQL releases it when that connection ends (the process
died, the network broke), so a standby that retries every ``retry_s`` takes over within
``retry_s`` plus the time the server needs to notice the dead connection (TCP keepalives on
the lock connection keep that under half a minute). On SQLite (one machine) the lock is an
exclusive ``flock`` on a file beside the database. Interval jobs keep their cadence from the
last recorded run (``backend.platform.jobs.start_scheduler``), and every run also takes the
job's own advisory lock (``run_lock``), so no job ever runs twice at once, even during a
hand-over.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.platform.jobs import JobRegistry, advisory_key, start_scheduler

log = logging.getLogger(__name__)

LEADER_LOCK = "finedge-scheduler-leader"
# Keepalives on the lock connection: a dead leader's lock is freed by the server within
# about idle + interval * count seconds (5 + 3 * 3 = 14 s) after its host went silent.
PG_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 3}
PG_KEEPALIVES_COUNT = 3


class LeaderLock:
    """Held by at most one process at a time (see the module)."""

    def __init__(self, engine: Engine, name: str = LEADER_LOCK) -> None:
        self.engine = engine
        self.name = name
        self._conn: Any = None
        self._file: Any = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def try_acquire(self) -> bool:
        if self.held:
            return self.still_held()
        if self.engine.dialect.name == "postgresql":
            return self._try_pg()
        return self._try_file()

    def _try_pg(self) -> bool:
        import psycopg

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(
            url, autocommit=True, keepalives_count=PG_KEEPALIVES_COUNT, **PG_KEEPALIVES
        )
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (advisory_key(self.name),))
        if got.fetchone()[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def _try_file(self) -> bool:
        database = self.engine.url.database or ""
        path = Path(f"{database}.scheduler.lock" if database else "finedge-scheduler.lock")
        handle = open(path, "a+")  # noqa: SIM115  (held open for as long as we lead)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def still_held(self) -> bool:
        """False once the lock connection is gone (the server has freed the lock)."""
        if self._file is not None:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1").fetchone()
            return True
        except Exception:
            log.warning("scheduler: the leader lock's connection is gone")
            self._close_conn()
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(
                    "SELECT pg_advisory_unlock(%s)", (advisory_key(self.name),)
                ).fetchone()
            except Exception:
                log.debug("scheduler: unlock on a broken connection", exc_info=True)
            self._close_conn()
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        try:
            conn.close()
        except Exception:
            log.debug("scheduler: closing the lock connection failed", exc_info=True)


@dataclass
class SchedulerRole:
    """Runs in a thread: waits as standby, leads while it holds the lock, steps down when it
    loses it. ``state`` is ``standby`` or ``active`` (the readiness endpoint shows it)."""

    session_factory: sessionmaker[Session]
    jobs: JobRegistry
    engine: Engine
    retry_s: float = 5.0
    state: str = "standby"
    became_active: int = 0
    checks: int = 0  # leader checks made (a standby's attempts to take the lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _scheduler: Any = None
    _lock: LeaderLock | None = None

    def start(self) -> SchedulerRole:
        self._lock = LeaderLock(self.engine)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="scheduler-leader", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        assert self._lock is not None
        while not self._stop.is_set():
            self.checks += 1
            try:
                if self.state == "standby" and self._lock.try_acquire():
                    self._lead()
                elif self.state == "active" and not self._lock.still_held():
                    self._step_down(wait=False)  # another scheduler may lead already
            except Exception:
                log.exception("scheduler: leader check failed")
            self._stop.wait(self.retry_s)
        self._step_down(wait=True)

    def _lead(self) -> None:
        self._scheduler = start_scheduler(self.session_factory, self.jobs)
        self.state = "active"
        self.became_active += 1
        log.info("scheduler: active (this process runs the jobs)")

    def _step_down(self, *, wait: bool) -> None:
        """Stop triggering jobs (``wait``: let a running one finish), release the lock."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None
        if self._lock is not None:
            self._lock.release()
        if self.state == "active":
            log.info("scheduler: standby")
        self.state = "standby"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None
        self._step_down(wait=True)
