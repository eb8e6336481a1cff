"""``finedge bench risk-scan``: enterprises evaluated per second in a full scan.

A synthetic world (default 3,000 enterprises with two years of events and their knowledge
graph; ``--quick``: 300) is loaded through the ordinary ingestion path into a temporary SQLite
database, a champion model trained on a separate synthetic world is registered, and then:

- ours: ``full_scan`` - graph measures and circles for everyone, features, tags and rules in
  chunks, contagion, one batched model call, reconciliation of signals and tags, committed
  chunk by chunk;
- baseline, on a copy of the same database: the live path (``evaluate_enterprises``, what an
  arriving event triggers) called once per enterprise, committing each, over a sample.

Both start from the same state (no signals yet), so both raise the same first signals.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.wiring import session_factory as bench_sessions


def _prepare(path: Path, n: int, seed: int, now: datetime) -> dict[str, Any]:
    from backend.platform import migrate
    from backend.platform.context import SYSTEM
    from backend.platform.db import make_engine, session_scope
    from backend.risk import ml, synthetic
    from backend.risk.intake.ingest import ingest_records
    from backend.risk.ml import registry
    from backend.risk.ml.dataset import build_dataset, snapshot_dates
    from backend.risk.scoring.rulefile import load_ruleset
    from backend.seed import seed_identity

    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = bench_sessions(engine)
    world = synthetic.generate(n, seed=seed, end=now)
    feed = world.feed(until=now)
    started = time.perf_counter()
    records = 0
    with session_scope(factory) as session:
        seed_identity(session, None)
        for source in sorted(feed, key=lambda s: s != "registry"):
            report = ingest_records(
                session, SYSTEM, source, feed[source], adapter="bench", evaluate=False, now=now
            )
            records += report.received
    ingest_seconds = time.perf_counter() - started
    training_world = synthetic.generate(max(300, n // 5), seed=seed + 1, end=now)
    dates = snapshot_dates(training_world.start + timedelta(days=150), now, 30)
    data = build_dataset(
        training_world.histories(), training_world.graph(), load_ruleset(), dates=dates
    )
    model = ml.train(data.X, data.y, "hgb")
    with session_scope(factory) as session:
        registry.register(
            session,
            SYSTEM,
            model,
            status="champion",
            metrics={"test": {}},
            training={"world": "synthetic", "enterprises": len(training_world.enterprises)},
            now=now,
        )
    engine.dispose()
    return {
        "events": sum(len(h.events) for h in world.histories()),
        "edges": len(world.edges),
        "records_loaded": records,
        "ingest_records_per_s": round(records / ingest_seconds, 1),
    }


def _scan(path: Path, now: datetime) -> tuple[float, dict]:
    from backend.platform.db import make_engine
    from backend.risk.monitoring.scan import full_scan

    engine = make_engine(f"sqlite:///{path}")
    with bench_sessions(engine)() as session:
        started = time.perf_counter()
        run = full_scan(session, now=now, commit=True, trigger="bench")
        seconds = time.perf_counter() - started
        report = run.report
    engine.dispose()
    return seconds, report


def _one_by_one(path: Path, now: datetime, sample: int) -> tuple[float, int]:
    from sqlalchemy import select

    from backend.platform.db import make_engine
    from backend.risk.models import Enterprise
    from backend.risk.monitoring.live import evaluate_enterprises

    engine = make_engine(f"sqlite:///{path}")
    factory = bench_sessions(engine)
    with factory() as session:
        ids = list(session.scalars(select(Enterprise.id).order_by(Enterprise.id).limit(sample)))
    started = time.perf_counter()
    for enterprise_id in ids:
        with factory() as session:
            evaluate_enterprises(session, [enterprise_id], now=now)
            session.commit()
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, len(ids)


def run(options: dict) -> list[dict]:
    quick = bool(options.get("quick"))
    n = int(options.get("enterprises") or (300 if quick else 3000))
    sample = int(options.get("sample") or (40 if quick else 300))
    seed = int(options.get("seed") or 7)
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    workdir = Path(tempfile.mkdtemp(prefix="finedge-bench-risk-"))
    try:
        ours_db, baseline_db = workdir / "scan.db", workdir / "baseline.db"
        facts = _prepare(ours_db, n, seed, now)
        shutil.copy(ours_db, baseline_db)
        seconds, report = _scan(ours_db, now)
        base_seconds, evaluated = _one_by_one(baseline_db, now, sample)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rate, base_rate = n / seconds, evaluated / base_seconds
    return [
        {
            "bench": "risk-scan",
            "metric": "enterprises_per_s",
            "value": round(rate, 1),
            "unit": "1/s",
            "baseline": "live path (evaluate_enterprises) once per enterprise, same data, SQLite",
            "baseline_value": round(base_rate, 1),
            "ratio": round(rate / base_rate, 2),
            "params": {
                "enterprises": n,
                "baseline_sample": evaluated,
                "scan_seconds": round(seconds, 2),
                "signals_raised": report["signals"]["raised"],
                "guarantee_circles": report["guarantee_circles"],
                "database": "sqlite (temporary file)",
                "model": "hgb champion",
                "quick": quick,
                **facts,
            },
        }
    ]
