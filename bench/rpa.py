"""``finedge bench rpa``: work items per second through the factory's queue with 1 and 4 worker
processes against a bare loop calling the same robot function, and the OCR robot's seconds per
page and field accuracy.

Queue rows: a throwaway SQLite database and a huey SQLite queue (the demo's shape) in a temp
folder; ``finedge rpa worker --workers W`` in a child process; a run of the bench robot
(``bench.rpa_robot:ROBOT``: one CPU-bound step of about 10 ms per item, a stand-in for a
robot's own work) produces N items (quick 48, full 400); the time is from the run's start to
its last item DONE, after a warm-up run so the worker processes are up. The baseline, in the
same run, calls the robot's ``process`` in a plain loop with a session (no queue, no lease, no
heartbeat, no state written). ``ratio`` = queued items/s ÷ bare items/s: the factory's cost
(below 1) and its parallelism (above 1 with several processes, bounded by the 2 cores).

OCR row: ``bench.rpa_ocr.measure_ocr`` over generated pages (quick 6, full 60).
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


def _world(folder: Path):
    from backend.bootstrap import bootstrap
    from backend.platform import migrate
    from backend.platform.config import Config
    from backend.platform.context import SYSTEM
    from backend.platform.db import session_scope
    from backend.rpa import registry

    db_url = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(db_url)
    env = {
        "DATABASE_URL": db_url,
        "FINEDGE_RPA_QUEUE": f"sqlite:///{folder / 'queue.sqlite'}",
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
        runtime, env = _world(Path(tmp))
        try:
            bare = _bare_rate(runtime, n)
            say(f"bare loop: {bare:.1f} items/s")
            for workers in (1, 4):
                rate = _queued_rate(runtime, env, workers, n)
                say(f"queue, {workers} worker process(es): {rate:.1f} items/s")
                rows.append(
                    {
                        "bench": "rpa",
                        "metric": f"items_per_s_{workers}_workers",
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
                            "queue": "huey on SQLite, database SQLite",
                            "cores": os.cpu_count(),
                            "load_avg_1m": round(os.getloadavg()[0], 2),
                        },
                    }
                )
        finally:
            runtime.stop()
    from bench.rpa_ocr import measure_ocr

    pages = 6 if quick else 60
    ocr = measure_ocr(pages, seed=19)
    say(f"OCR: {ocr['s_per_page']:.2f} s/page, field accuracy {ocr['field_accuracy']:.3f}")
    rows.append(
        {
            "bench": "rpa",
            "metric": "ocr_s_per_page",
            "value": round(ocr["s_per_page"], 3),
            "unit": "s",
            "baseline": "none: the accuracy is against the generated pages' true fields",
            "baseline_value": None,
            "ratio": None,
            "params": {"quick": quick, "pages": pages, **ocr},
        }
    )
    return rows
