"""``finedge bench floorplan``: car redemptions per second through the HTTP API on the seed-scale
data set (1 OEM, 50 dealers, 10,000 cars), against an authenticated GET measured in the same run.

A fresh SQLite database in a temporary directory is migrated and seeded; the backend runs in a
child process (werkzeug, threaded, HTTP/1.1 keep-alive) on a free 127.0.0.1 port; N client
threads, each a dealer with its own ``requests.Session``, first read cars
(``GET /api/v1/floorplan/vehicles/{vin}``, the baseline), then redeem them
(``POST .../redeem {"mode": "full"}`` with an Idempotency-Key, as the mini-program sends), then
read again (the baseline is the mean of both reads), then redeem more cars in batches of 10
(``POST /api/v1/floorplan/redemptions``). Rows: redemptions per second, p50 and p99 latency,
each with the GET's figure as baseline and ``ratio`` oriented so that higher is better (so the
p99 row's ratio is GET p99 / redemption p99: at least 0.33 means within 3x), and
cars redeemed per second in batches. ``ledger verify`` runs on the result.

Options: ``quick`` (5 dealers, 500 cars, 4 clients, 80 redemptions, 1 batch per client),
``dealers``, ``cars``, ``clients``, ``redemptions``, ``batches`` (per client, 10 cars each),
``database_url`` (or FINEDGE_BENCH_DATABASE_URL: an empty database, e.g. PostgreSQL, to
migrate, seed and run on instead of the temporary SQLite file).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

from bench.wiring import session_factory as bench_sessions


def serve(database_url: str) -> None:
    """Child process: the backend app on a free port, printed as the first line of stdout."""
    import logging

    from werkzeug.serving import WSGIRequestHandler, make_server

    from backend.app import create_app
    from backend.platform.config import Config

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    class KeepAlive(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, *args, **kwargs):  # one line per request would skew the figures
            return None

    app = create_app(Config.from_env(database_url=database_url))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAlive)
    print(server.server_port, flush=True)
    server.serve_forever()


def _seed(database_url: str, dealers: int, cars: int, clients: int, progress: bool) -> dict:
    from sqlalchemy import select

    from backend.floorplan.models import Vehicle
    from backend.identity import service as identity
    from backend.identity.models import Org, User
    from backend.platform import migrate
    from backend.platform.config import Config
    from backend.platform.context import SYSTEM
    from backend.platform.db import make_engine, session_scope
    from backend.seed import SeedOptions, seed

    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    factory = bench_sessions(engine)
    started = time.perf_counter()
    with session_scope(factory) as s:
        seed(s, Config.from_env(database_url=database_url), SeedOptions(dealers, cars, 0, progress))
    seed_s = time.perf_counter() - started
    users = []
    with session_scope(factory) as s:
        for i in range(1, clients + 1):
            code, username = f"DEALER{i}", f"dealer{i}"
            org = s.scalar(select(Org).where(Org.code == code))
            if s.scalar(select(User.id).where(User.username == username)) is None:
                identity.create_user(
                    s,
                    SYSTEM,
                    username=username,
                    password=f"{username}-demo",
                    role="dealer",
                    org=org,
                )
            vins = s.scalars(
                select(Vehicle.vin)
                .where(Vehicle.dealer_org_id == org.id, Vehicle.status == "in_stock")
                .order_by(Vehicle.id)
            ).all()
            users.append((username, list(vins)))
    engine.dispose()
    return {"seed_s": seed_s, "users": users}


def _verify(database_url: str) -> bool:
    from backend import ledger
    from backend.platform.db import make_engine

    engine = make_engine(database_url)
    try:
        with bench_sessions(engine)() as s:
            return ledger.verify(s).ok
    finally:
        engine.dispose()


def _phase(base: str, work: list[tuple[str, list[str]]], request) -> dict:
    """Every client thread runs its requests back to back; latencies in ms, rate over wall."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(work) + 1)

    def client(token: str, vins: list[str]) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        mine, bad = [], []
        barrier.wait()
        for vin in vins:
            t0 = time.perf_counter()
            r = request(session, base, vin)
            mine.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                bad.append(f"{r.status_code} {r.text[:200]}")
        session.close()
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=client, args=w) for w in work]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "n": len(latencies),
        "rate": len(latencies) / wall,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": errors,
    }


def _get(session, base, vin):
    return session.get(f"{base}/floorplan/vehicles/{vin}", timeout=60)


def _redeem(session, base, vin):
    return session.post(
        f"{base}/floorplan/vehicles/{vin}/redeem",
        json={"mode": "full"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=60,
    )


def _redeem_batch(session, base, vins):
    return session.post(
        f"{base}/floorplan/redemptions",
        json={"vins": vins, "mode": "full"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=60,
    )


BATCH = 10


def run(options: dict) -> list[dict]:
    quick = bool(options.get("quick"))
    dealers = int(options.get("dealers", 5 if quick else 50))
    cars = int(options.get("cars", 500 if quick else 10000))
    clients = int(options.get("clients", 4 if quick else 8))
    redemptions = int(options.get("redemptions", 80 if quick else 640))
    per_client = redemptions // clients
    batches = int(options.get("batches", 1 if quick else 2))  # per client, of BATCH cars
    tmp = Path(tempfile.mkdtemp(prefix="finedge-bench-floorplan-"))
    # FINEDGE_BENCH_DATABASE_URL: an empty database to run on instead (e.g. PostgreSQL)
    url = options.get("database_url") or os.environ.get("FINEDGE_BENCH_DATABASE_URL")
    url = url or f"sqlite:///{tmp / 'bench.db'}"
    server = None
    try:
        seeded = _seed(url, dealers, cars, clients, bool(options.get("progress")))
        server = subprocess.Popen(
            [sys.executable, "-c", f"from bench.floorplan import serve; serve({url!r})"],
            stdout=subprocess.PIPE,
            text=True,
        )
        port = server.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError("the benchmark server did not start")
        base = f"http://127.0.0.1:{port}/api/v1"
        work = []
        for username, vins in seeded["users"]:
            need = per_client + batches * BATCH + 1
            if len(vins) < need:
                raise RuntimeError(f"{username} has {len(vins)} cars in stock; need {need}")
            r = requests.post(
                f"{base}/auth/token",
                json={"username": username, "password": f"{username}-demo"},
                timeout=60,
            )
            r.raise_for_status()
            work.append((r.json()["access_token"], vins))
        # warm-up: connections, caches, one redemption per client
        _phase(base, [(t, v[:3]) for t, v in work], _get)
        _phase(base, [(t, v[-1:]) for t, v in work], _redeem)
        batch = [(t, v[:per_client]) for t, v in work]
        get_before = _phase(base, batch, _get)
        redeem = _phase(base, batch, _redeem)
        get_after = _phase(base, batch, _get)
        lots = [
            (t, [v[per_client + i * BATCH : per_client + (i + 1) * BATCH] for i in range(batches)])
            for t, v in work
        ]
        by_batch = _phase(base, lots, _redeem_batch) if batches else None
        errors = get_before["errors"] + redeem["errors"] + get_after["errors"]
        errors += by_batch["errors"] if by_batch else []
        if errors:
            raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
        verified = _verify(url)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
            server.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)
    get_rate = (get_before["rate"] + get_after["rate"]) / 2
    get_p50 = (get_before["p50"] + get_after["p50"]) / 2
    get_p99 = (get_before["p99"] + get_after["p99"]) / 2
    params = {
        "dealers": dealers,
        "cars": cars,
        "clients": clients,
        "redemptions": redeem["n"],
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "server": "werkzeug threaded, HTTP/1.1, separate process",
        "idempotency_key": True,
        "seed_s": round(seeded["seed_s"], 2),
        "ledger_verify_ok": verified,
        # the machine's 1-minute load average at the end (others' work moves the figures)
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    baseline = "GET /api/v1/floorplan/vehicles/{vin} (authenticated), same server and clients"

    def row(metric, value, unit, base_value, ratio):
        return {
            "bench": "floorplan",
            "metric": metric,
            "value": round(value, 2),
            "unit": unit,
            "baseline": baseline,
            "baseline_value": round(base_value, 2),
            "ratio": round(ratio, 3),
            "params": params,
        }

    rows = [
        row("redemptions_per_s", redeem["rate"], "1/s", get_rate, redeem["rate"] / get_rate),
        row("redeem_p50_ms", redeem["p50"], "ms", get_p50, get_p50 / redeem["p50"]),
        row("redeem_p99_ms", redeem["p99"], "ms", get_p99, get_p99 / redeem["p99"]),
    ]
    if by_batch:  # extension: cars redeemed per second through POST /redemptions
        cars_rate = by_batch["rate"] * BATCH
        rows.append(
            row("batch_redeemed_cars_per_s", cars_rate, "1/s", get_rate, cars_rate / get_rate)
        )
        rows[-1]["params"] = {**params, "batch_size": BATCH, "batches": by_batch["n"]}
    return rows
