"""``finedge bench assetpool``: the latency of accepting a new e-bill against a pool over HTTP
(``POST /api/v1/assetpool/pools/{id}/bills`` with an Idempotency-Key, as the mini-program
sends it: risk gate, capacity, fee, the bill issued, audit, all in one call), against an
authenticated ``GET /api/v1/assetpool/pools/{id}`` measured in the same run.

A fresh SQLite database in a temporary directory is migrated and seeded (the demo pools); the
app runs in process behind Flask's test client (no network: the figures are the server's own
work), as core1, on CORE1's pool, whose capacity is raised first with an e-deposit so that
every acceptance is allowed. Requests alternate GET and POST so both see the same machine.
Rows (``ratio`` oriented so that higher is better): ``accept_p99_ms`` and ``accept_p50_ms``,
each with the GET's figure as baseline and ratio = GET / accept (the aim is accept p99 under
1 s; a ratio of 0.2 means the acceptance costs five GETs). ``ledger verify`` runs on the result.

``acceptance_rows(quick)`` is the same as a function (the lead's ``finedge bench clearing``
calls it). Options: ``quick`` (40 acceptances), ``acceptances`` (default 300),
``database_url`` (an empty database to run on instead, e.g. PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

TIME_LIMIT_S = {"quick": 120, "full": 900}


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _run(url: str, acceptances: int) -> dict:
    from sqlalchemy import select

    from backend import ledger
    from backend.app import create_app
    from backend.assetpool.models import Pool
    from backend.identity.models import Org
    from backend.platform import migrate
    from backend.platform.clock import utcnow
    from backend.platform.config import Config
    from backend.platform.db import session_scope
    from backend.seed import SeedOptions, seed

    migrate.upgrade(url)
    config = Config.from_env(database_url=url)
    app = create_app(config)
    try:
        factory = app.extensions["finedge"].session_factory
        with session_scope(factory) as s:
            seed(s, config, SeedOptions(progress=False))
            pool_id = s.scalar(
                select(Pool.id).join(Org, Org.id == Pool.org_id).where(Org.code == "CORE1")
            )
        client = app.test_client()
        r = client.post("/api/v1/auth/token", json={"username": "core1", "password": "core1-demo"})
        headers = {"Authorization": f"Bearer {r.get_json()['access_token']}"}
        base = f"/api/v1/assetpool/pools/{pool_id}"
        maturity = (utcnow() + timedelta(days=200)).date().isoformat()
        r = client.post(
            f"{base}/assets",
            headers=headers,
            json={
                "kind": "edeposit",
                "number": f"BENCH{uuid.uuid4().hex[:12]}",
                "issuer_bank": "ICBC",
                "amount": str(1000 * (acceptances + 10)) + ".00",
                "maturity_date": maturity,
                "pledge": True,
            },
        )
        if r.status_code != 201:
            raise RuntimeError(f"could not raise the capacity: {r.get_json()}")
        bill_due = (utcnow() + timedelta(days=90)).date().isoformat()
        gets, posts = [], []
        for i in range(acceptances + 5):
            t = time.perf_counter()
            r = client.get(base, headers=headers)
            got = time.perf_counter() - t
            if r.status_code != 200:
                raise RuntimeError(f"GET failed: {r.status_code}")
            t = time.perf_counter()
            r = client.post(
                f"{base}/bills",
                headers={**headers, "Idempotency-Key": f"bench-{uuid.uuid4().hex}"},
                json={"payee": f"Supplier {i}", "amount": "1000.00", "maturity_date": bill_due},
            )
            took = time.perf_counter() - t
            if r.status_code != 201:
                raise RuntimeError(f"acceptance failed: {r.status_code} {r.get_json()}")
            if i >= 5:  # warm-up
                gets.append(got * 1000)
                posts.append(took * 1000)
        with factory() as s:
            verified = ledger.verify(s).ok
    finally:
        app.extensions["finedge"].runtime.stop()
    return {"gets": gets, "posts": posts, "verified": verified}


def acceptance_rows(quick: bool, database_url: str | None = None, acceptances: int | None = None):
    """Rows of the contract's format: p99 and p50 of a pool bill acceptance over HTTP (test
    client), each against an authenticated GET of the pool in the same run; ratio = GET / accept
    (higher is better)."""
    n = acceptances or (40 if quick else 300)
    tmp = Path(tempfile.mkdtemp(prefix="finedge-bench-assetpool-"))
    url = database_url or os.environ.get("FINEDGE_BENCH_DATABASE_URL")
    url = url or f"sqlite:///{tmp / 'bench.db'}"
    try:
        got = _run(url, n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    params = {
        "acceptances": n,
        "quick": quick,
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "client": "Flask test client, in process",
        "idempotency_key": True,
        "ledger_verify_ok": got["verified"],
        "accept_mean_ms": round(statistics.fmean(got["posts"]), 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    baseline = "GET /api/v1/assetpool/pools/{id} (authenticated), same app and user"
    rows = []
    for metric, q in (("accept_p99_ms", 0.99), ("accept_p50_ms", 0.5)):
        value, base = _p(got["posts"], q), _p(got["gets"], q)
        rows.append(
            {
                "bench": "assetpool",
                "metric": metric,
                "value": round(value, 2),
                "unit": "ms",
                "baseline": baseline,
                "baseline_value": round(base, 2),
                "ratio": round(base / value, 3),
                "params": params,
            }
        )
    return rows


def run(options: dict) -> list[dict]:
    return acceptance_rows(
        bool(options.get("quick")),
        database_url=options.get("database_url"),
        acceptances=int(options["acceptances"]) if options.get("acceptances") else None,
    )
