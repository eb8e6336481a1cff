"""Real worker processes (``finedge rpa worker``) on the factory's queue: SQLite database with
huey's SQLite queue (the demo's shape), and PostgreSQL with Redis (production's). A worker
killed mid-item has its item returned after the lease and done once by another; an item past
its timeout kills its worker process, whose consumer starts a fresh one."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.platform.context import SYSTEM
from backend.platform.db import session_scope
from backend.rpa import registry, service
from backend.rpa.models import Alarm, Run, WorkItem
from tests.iot_support import wait_for

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[2]


def _redis_reason() -> str | None:
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/2", socket_timeout=2).ping()
    except Exception as exc:
        return f"no Redis on 127.0.0.1:6379 ({type(exc).__name__})"
    return None


@pytest.fixture
def factory(make_app, db_url, tmp_path):
    if db_url.startswith("sqlite"):
        queue = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    else:
        reason = _redis_reason()
        if reason:
            pytest.skip(reason)
        queue = "redis://127.0.0.1:6379/2"
    app = make_app(db_url, rpa_queue=queue, rpa_lease_s=2.0, rpa_heartbeat_s=0.5, rpa_backoff_s=0.1)
    runtime = app.extensions["finedge"].runtime
    with session_scope(runtime.session_factory) as s:
        registry.deploy(s, SYSTEM, "tests.rpa.robots:ECHO")
        registry.deploy(s, SYSTEM, "tests.rpa.robots:SHORT")
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "FINEDGE_RPA_QUEUE": queue,
        "FINEDGE_RPA_LEASE_S": "2",
        "FINEDGE_RPA_HEARTBEAT_S": "1",
        "FINEDGE_RPA_BACKOFF_S": "1",
        "FINEDGE_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(ROOT),
    }
    workers: list[subprocess.Popen] = []

    def start_worker(n: int = 1) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(workers)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "rpa", "worker", "--workers", str(n)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        workers.append(proc)
        return proc

    yield runtime, start_worker, tmp_path
    for proc in workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if queue.startswith("redis"):
        from backend.rpa.queue import dispatcher_for

        dispatcher_for(runtime.config).huey.flush()


def _item(runtime, item_id) -> WorkItem:
    with runtime.session_factory() as s:
        return s.get(WorkItem, item_id)


def test_a_killed_worker_s_item_is_returned_after_the_lease_and_done_once(factory):
    runtime, start_worker, tmp = factory
    marker = tmp / "marker"
    marker.mkdir()
    first = start_worker()
    with session_scope(runtime.session_factory) as s:
        item = service.queue_item(
            s, SYSTEM, "tst_echo", {"n": 1, "mode": "marker", "marker": str(marker), "seconds": 120}
        )
        s.flush()
        item_id = item.id
    wait_for(lambda: any(marker.iterdir()), 60, "the first worker to start the item")
    os.killpg(first.pid, signal.SIGKILL)  # the consumer and its worker process, mid-item
    first.wait()
    assert _item(runtime, item_id).state == "RESERVED"

    def returned() -> bool:
        runtime.run_job("rpa.reap")
        return _item(runtime, item_id).state == "NEW"

    wait_for(returned, 30, "the reaper to return the item after its lease")
    start_worker()
    wait_for(lambda: _item(runtime, item_id).state == "DONE", 60, "a second worker")
    item = _item(runtime, item_id)
    assert item.attempts == 2 and item.result == {"n": 1, "twice": 2}
    tries = sorted(p.name for p in marker.iterdir())
    assert [t.split("-")[1] for t in tries] == ["1", "2"]
    assert tries[0].split("-")[2] != tries[1].split("-")[2]  # two processes
    with runtime.session_factory() as s:
        run = s.get(Run, item.run_id)
        assert (run.items_done, run.items_failed) == (1, 0)
        assert s.scalar(select(Alarm.kind).where(Alarm.subject == f"item:{item_id}")) == (
            "lease_lost"
        )


def test_an_item_past_its_timeout_kills_its_worker_process(factory):
    runtime, start_worker, tmp = factory
    marker = tmp / "marker"
    marker.mkdir()
    start_worker()
    with session_scope(runtime.session_factory) as s:
        # tst_short: timeout 1 s, one retry; the item hangs on every attempt
        hang = service.queue_item(
            s,
            SYSTEM,
            "tst_short",
            {"n": 1, "mode": "marker", "marker": str(marker), "seconds": 60, "every_attempt": True},
        )
        s.flush()
        hang_id = hang.id
    wait_for(lambda: _item(runtime, hang_id).state == "FAILED", 90, "two timed-out attempts")
    item = _item(runtime, hang_id)
    assert (item.failure_kind, item.failure_code, item.attempts) == ("APPLICATION", "timeout", 2)
    pids = {p.name.split("-")[2] for p in marker.iterdir()}
    assert len(pids) == 2  # the first process was killed; the consumer started another
    with session_scope(runtime.session_factory) as s:
        ok = service.queue_item(s, SYSTEM, "tst_echo", {"n": 4, "mode": "ok"})
        s.flush()
        ok_id = ok.id
    wait_for(lambda: _item(runtime, ok_id).state == "DONE", 60, "the restarted worker")
