"""``finedge bench rpa``: work items per second through the factory's queue with 1 and 4 worker
processes against a bare loop calling the same robot function, and the OCR robot's seconds per
page and field accuracy.

Queue rows, per shape: a throwaway SQLite database with a huey SQLite queue (the demo's shape),
and, where this machine has them, a throwaway PostgreSQL database with a Redis queue
(production's); ``finedge rpa worker --workers W`` in a child process; a run of the bench robot
(``bench.rpa_robot:ROBOT``: one CPU-bound step of about 10 ms per item, a stand-in for a
robot's own work) produces N items (quick 48, full 400); the time is from the run's start to
its last item DONE, after a warm-up run so the worker processes are up. The baseline, in the
same run, calls the robot's ``process`` in a plain loop with a session (no queue, no lease, no
heartbeat, no state written). ``ratio`` = queued items/s ÷ bare items/s: the factory's cost
(below 1) and its parallelism (above 1 with several processes, bounded by the 2 cores).

OCR row: ``bench.rpa_ocr.measure_ocr`` over generated pages (quick 6, full 60) against the
bare engine on the same pages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

TIME_LIMIT_S = {"quick": 240, "full": 1500}
ITEM_CPU_S = 0.010


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _shapes(folder: Path):
    """(name, database URL, queue URL, cleanup): the demo's SQLite shape, and production's
    PostgreSQL + Redis when this machine has them (127.0.0.1:5432 trust, :6379)."""
    yield "sqlite", f"sqlite:///{folder / 'bench.db'}", f"sqlite:///{folder / 'queue.sqlite'}", None
    try:
        import psycopg
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/3", socket_timeout=2).ping()
        name = f"finedge_bench_rpa_{os.getpid()}"
        with psycopg.connect(
            "host=127.0.0.1 dbname=test", autocommit=True, connect_timeout=3
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        say(f"no PostgreSQL + Redis here ({type(exc).__name__}): SQLite rows only")
        return

    def drop() -> None:
        import psycopg

        with psycopg.connect("host=127.0.0.1 dbname=test", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    yield ("postgres", f"postgresql+psycopg://127.0.0.1/{name}", "redis://127.0.0.1:6379/3", drop)


def _world(folder: Path, db_url: str, queue: str):
    from backend.bootstrap import bootstrap
    from backend.platform import migrate
    from backend.platform.config import Config
    from backend.platform.context import SYSTEM
    from backend.platform.db import session_scope
    from backend.rpa import registry

    migrate.upgrade(db_url)
    env = {
        "DATABASE_URL": db_url,
        "FINEDGE_RPA_QUEUE": queue,
        "FINEDGE_VAR_DIR": str(folder),
        "FINEDGE_ENV": "demo",
    }
    config = Config.from_env({**os.environ, **env})
    runtime = bootstrap(config, "cli")
    with session_scope(runtime.session_factory) as s:
        registry.deploy(s, SYSTEM, "bench.rpa_robot:ROBOT")
    return runtime, env


def _timed_run(runtime, n: int, timeout_s: float) -> float:
    from backend.platform.context import SYSTEM
    from backend.platform.db import session_scope
    from backend.rpa.models import Run
    from backend.rpa.service import start_run

    started = time.perf_counter()
    with session_scope(runtime.session_factory) as s:
        run = start_run(s, SYSTEM, "bench_work", params={"n": n})
        s.flush()
        run_id = run.id
    while time.perf_counter() - started < timeout_s:
        with runtime.session_factory() as s:
            status = s.scalar(select(Run.status).where(Run.id == run_id))
        if status != "running":
            if status != "done":
                raise RuntimeError(f"bench run ended {status}")
            return time.perf_counter() - started
        time.sleep(0.02)
    raise RuntimeError(f"bench run of {n} items did not finish in {timeout_s:.0f} s")


def _queued_rate(runtime, env: dict, workers: int, n: int) -> float:
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "rpa", "worker", "--workers", str(workers)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _timed_run(runtime, workers * 2, 120)  # warm-up: the processes are up
        took = _timed_run(runtime, n, 600)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return n / took


def _bare_rate(runtime, n: int) -> float:
    from backend.rpa.testing import item_context
    from bench.rpa_robot import ROBOT

    with runtime.session_factory() as s:
        started = time.perf_counter()
        for i in range(n):
            ctx, _ = item_context(s, runtime.config, item_id=i + 1)
            ROBOT.process(ctx, {"n": i})
        return n / (time.perf_counter() - started)


def run(options: dict) -> list[dict]:
    quick = bool(options.get("quick"))
    n = 48 if quick else 400
    rows = []
    with tempfile.TemporaryDirectory(prefix="finedge-bench-rpa-") as tmp:
        for shape, db_url, queue, cleanup in _shapes(Path(tmp)):
            try:
                rows += _queue_rows(Path(tmp), shape, db_url, queue, n, quick)
            finally:
                if cleanup is not None:
                    cleanup()
    rows.append(_ocr_row(quick))
    return rows


def _queue_rows(folder: Path, shape: str, db_url: str, queue: str, n: int, quick: bool):
    rows = []
    runtime, env = _world(folder, db_url, queue)
    try:
        bare = _bare_rate(runtime, n)
        say(f"{shape}: bare loop {bare:.1f} items/s")
        for workers in (1, 4):
            rate = _queued_rate(runtime, env, workers, n)
            say(f"{shape}: queue, {workers} worker process(es): {rate:.1f} items/s")
            rows.append(
                {
                    "bench": "rpa",
                    "metric": f"items_per_s_{workers}_workers_{shape}",
                    "value": round(rate, 2),
                    "unit": "1/s",
                    "baseline": "a bare loop calling the same robot function in one "
                    "process, same run",
                    "baseline_value": round(bare, 2),
                    "ratio": round(rate / bare, 4),
                    "params": {
                        "quick": quick,
                        "items": n,
                        "workers": workers,
                        "item_cpu_s": ITEM_CPU_S,
                        "queue": "huey on SQLite, database SQLite"
                        if shape == "sqlite"
                        else "huey on Redis, database PostgreSQL",
                        "cores": os.cpu_count(),
                        "load_avg_1m": round(os.getloadavg()[0], 2),
                    },
                }
            )
    finally:
        runtime.stop()
        if queue.startswith("redis"):
            from backend.rpa.queue import dispatcher_for

            dispatcher_for(runtime.config).huey.flush()
    return rows


def _raw_engine_s_per_page(pages: int, seed: int) -> float:
    """The OCR engine alone on the same pages (no field extraction, checks or re-reads)."""
    from backend.rpa.ocr import engine, samples

    docs = [
        samples.sample(samples.KINDS[i % 3], seed * 1000 + i, lang=samples.LANGS[(i // 3) % 2])
        for i in range(pages)
    ]
    engine.engine()
    started = time.perf_counter()
    for doc in docs:
        engine.read_lines(doc.image)
    return (time.perf_counter() - started) / pages


def _ocr_row(quick: bool) -> dict:
    from bench.rpa_ocr import measure_ocr

    pages = 6 if quick else 60
    ocr = measure_ocr(pages, seed=19)
    ocr.pop("misses", None)
    raw = _raw_engine_s_per_page(pages, 19)
    say(f"OCR: {ocr['s_per_page']:.2f} s/page, field accuracy {ocr['field_accuracy']:.3f}")
    return {
        "bench": "rpa",
        "metric": "ocr_s_per_page",
        "value": round(ocr["s_per_page"], 3),
        "unit": "s",
        "baseline": "the OCR engine alone on the same pages (rapidocr, no field extraction, "
        "checks or second looks), same run; ratio = engine s/page ÷ robot s/page",
        "baseline_value": round(raw, 3),
        "ratio": round(raw / ocr["s_per_page"], 4),
        "params": {"quick": quick, "pages": pages, **ocr},
    }
