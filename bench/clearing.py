"""``finedge bench clearing``: signed clearing instructions per second through the HTTP
interface, against the ledger's own batch rate in the same run.

A scratch SQLite database (or FINEDGE_BENCH_DATABASE_URL) is migrated and seeded with the
identity and clearing demo (CCH1, TRD01..TRD10 funded); the app is served by werkzeug (threaded,
HTTP/1.1 keep-alive) in a thread on a free 127.0.0.1 port. The clearing-house simulator
(``backend.clearing.sim``) then sends a day of ``n`` valid instructions (orders, partial
bargains, cancels, deliveries) in signed batches of ``batch`` over one connection: each
batch is one request whose signature and nonce are checked (a transaction of their own), and
each instruction is an idempotency lookup, the account row locked, the order row, one ledger
batch (void and re-hold, or the delivery's transfers) and an audit record, in the request's
transaction, and ends with the reconciliation upload (must match). The run also reports the
asset pool's bill acceptance p99 (and p50) against an authenticated GET of the pool
(``bench.assetpool``).

Baseline: the same number of ledger holds through ``ledger.execute_batch`` directly (no HTTP,
no clearing bookkeeping), in batches of the same size, one transaction per batch, on the same
database: what the ledger alone can do. The ratio (ours / baseline) says what signing, HTTP,
JSON and the clearing bookkeeping cost on top of the money movement; the client and server
share one process (and the GIL), which also limits the HTTP figure.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from backend import ledger
from backend.clearing import queries
from backend.clearing.accounts import bank_accounts
from backend.clearing.models import ClearingHouse, TraderAccount
from backend.clearing.seed import DEMO_SECRET
from backend.clearing.sim import Opening, Simulator, UrlTransport
from backend.ledger import TransferSpec
from backend.platform import migrate
from backend.platform.clock import utcnow
from backend.platform.config import Config
from backend.platform.context import SYSTEM
from backend.platform.db import session_scope
from bench.assetpool import acceptance_rows

TIME_LIMIT_S = {"quick": 120, "full": 900}
BASELINE = "ledger.execute_batch holds, same batch size and database, no HTTP"
BASELINE_PER_LEG = "ledger holds, one execute_batch each (as each instruction), same database"


def _serve(app):
    from werkzeug.serving import WSGIRequestHandler, make_server

    class KeepAlive(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, *args, **kwargs):
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAlive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _baseline(factory, n: int, batch: int, *, per_leg: bool) -> float:
    """Ledger holds per second, ``batch`` to a transaction: in one ``execute_batch`` each, or
    (``per_leg``) one ``execute_batch`` per hold, as each instruction makes its own."""
    with session_scope(factory) as s:
        accounts = s.scalars(select(TraderAccount).order_by(TraderAccount.id)).all()
        settlement = bank_accounts(s, SYSTEM)["settlement"].id
        ids = [a.ledger_account_id for a in accounts]
    started = time.perf_counter()
    done = 0
    k = 0
    while done < n:
        size = min(batch, n - done)
        with session_scope(factory) as s:
            specs = []
            for _ in range(size):
                k += 1
                specs.append(
                    TransferSpec.hold(
                        f"bench:{int(per_leg)}:h{k}",
                        ids[k % len(ids)],
                        settlement,
                        Decimal("1.00"),
                        "bench_hold",
                    )
                )
            if per_leg:
                for spec in specs:
                    ledger.execute_batch(s, SYSTEM, [spec])
            else:
                ledger.execute_batch(s, SYSTEM, specs)
        done += size
    return n / (time.perf_counter() - started)


def run(options: dict) -> list[dict]:
    from backend.app import create_app
    from backend.bootstrap import collect_areas
    from backend.seed import seed

    quick = bool(options.get("quick"))
    n = int(options.get("n", 200 if quick else 3000))
    batch = int(options.get("batch", 20))
    tmp = Path(tempfile.mkdtemp(prefix="finedge-bench-clearing-"))
    url = options.get("database_url") or os.environ.get("FINEDGE_BENCH_DATABASE_URL")
    url = url or f"sqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    config = Config.from_env(database_url=url)
    app = create_app(config)
    runtime = app.extensions["finedge"].runtime
    factory = app.extensions["finedge"].session_factory
    areas = [a for a in collect_areas() if a.name in ("identity", "clearing")]
    started = time.perf_counter()
    with session_scope(factory) as s:
        seed(s, config, areas=areas)
    seed_s = time.perf_counter() - started
    server, thread = _serve(app)
    try:
        with session_scope(factory) as s:
            house = s.scalar(select(ClearingHouse).where(ClearingHouse.code == "CCH1"))
            openings = {
                k: Opening(*v) for k, v in queries.openings(s, house.id, utcnow().date()).items()
            }
        transport = UrlTransport(f"http://127.0.0.1:{server.server_port}")
        sim = Simulator(transport, "CCH1", DEMO_SECRET, batch=batch)
        summary = sim.run_day(openings, instructions=n, seed=11, prefix="BENCH")
        transport.close()
        base_rate = _baseline(factory, n, batch, per_leg=False)
        leg_rate = _baseline(factory, n, batch, per_leg=True)
        with session_scope(factory) as s:
            verified = ledger.verify(s).ok
    finally:
        server.shutdown()
        thread.join(10)
        runtime.stop()
    rate = summary.per_s
    params = {
        "instructions": summary.sent,
        "applied": summary.applied,
        "refused": summary.refused,
        "batch": batch,
        "requests": summary.requests,
        "reconciliation": summary.reconciliation.get("status"),
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "server": "werkzeug threaded, HTTP/1.1, in a thread of the benchmark's process",
        "seed_s": round(seed_s, 2),
        "ledger_verify_ok": verified,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "limits": "per instruction: row lock, order row, ledger batch (void + hold, or the "
        "delivery's transfers), audit record, idempotency lookup; per request: HMAC, nonce "
        "insert (own transaction), JSON; client and server share one process",
    }

    def row(baseline: str, base: float) -> dict:
        return {
            "bench": "clearing",
            "metric": "signed_instructions_per_s",
            "value": round(rate, 2),
            "unit": "1/s",
            "baseline": baseline,
            "baseline_value": round(base, 2),
            "ratio": round(rate / base, 3),
            "params": params,
        }

    # the second figure: p99 of a pool bill acceptance against an authenticated GET,
    # measured by the asset pool's benchmark on a database of its own in the same run
    pool_rows = [
        {**r, "bench": "clearing", "metric": f"pool_bill_{r['metric']}"}
        for r in acceptance_rows(quick, database_url=options.get("database_url"))
    ]
    return [row(BASELINE, base_rate), row(BASELINE_PER_LEG, leg_rate), *pool_rows]
