"""``finedge bench ledger``: single-leg transfers per second through the ledger service.

For each database (SQLite in a temp file; PostgreSQL in a scratch database created and dropped,
skipped with a note on stderr when unreachable) and each request size (1 and 100 transfers per
request, one transaction per request through ``run_in_transaction``), the ledger is timed against
a baseline measured in the same run: plain SQLAlchemy Core INSERTs of the same rows into a table
of the same shape (columns, unique keys, indexes, foreign keys), one transaction per request.
Ledger and baseline requests alternate, so a noisy machine slows both alike.

``run(options)`` returns one row per (db, batch) in the contract's bench format. Options:
``n`` (transfers per measurement, default 3000 for batches of 100 and n/10 for batches of 1;
``quick``: 500),
``batches`` (default [1, 100]), ``dbs`` (default ["sqlite", "postgresql"]), ``pg_url`` (an
admin URL on the server; default FINEDGE_BENCH_PG_URL or postgres@127.0.0.1:5432/test),
``revision`` (migrate the scratch databases to this revision; default head).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    insert,
)

from backend import ledger
from backend.ledger import TransferSpec
from backend.platform import migrate
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.db import (
    BigIntPK,
    MoneyType,
    UTCDateTime,
    make_engine,
    run_in_transaction,
)
from bench.wiring import session_factory as bench_sessions

BASELINE = "plain SQLAlchemy Core INSERT of the same rows"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ACCOUNTS = 10
ACTOR = Actor(user_id=None, username="bench", role="teller", org_id=None)


def run(options: dict | None = None) -> list[dict]:
    options = dict(options or {})
    n = int(options.get("n", 500 if options.get("quick") else 3000))
    batches = [int(b) for b in options.get("batches", [1, 100])]
    dbs = list(options.get("dbs", ["sqlite", "postgresql"]))
    pg_url = options.get("pg_url") or os.environ.get("FINEDGE_BENCH_PG_URL") or DEFAULT_PG_URL
    revision = options.get("revision", "head")
    results = []
    for db in dbs:
        with _database(db, pg_url, revision) as url:
            if url is None:
                continue
            for batch in batches:
                count = n if batch > 1 else max(n // 10, 1)
                results.append(_measure(url, db, batch, count))
    return results


@contextmanager
def _database(db: str, pg_url: str, revision: str = "head") -> Iterator[str | None]:
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="finedge-bench-") as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            migrate.upgrade(url, revision)
            yield url
        return
    if db != "postgresql":
        raise ValueError(f"unknown database {db!r}: sqlite or postgresql")
    try:
        import psycopg

        admin = pg_url.replace("postgresql+psycopg", "postgresql")
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except Exception as exc:  # unreachable or refused: skip with a note, no row
        print(f"bench ledger: PostgreSQL skipped ({exc})".strip(), file=sys.stderr)
        yield None
        return
    name = f"finedge_bench_{uuid.uuid4().hex[:10]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url, revision)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _baseline_table(metadata: MetaData) -> Table:
    """The shape of ledger_transfers under another name (its own constraint names)."""
    Table("ledger_accounts", metadata, Column("id", BigIntPK, primary_key=True))  # FK target
    fk = "ledger_accounts.id"
    own = "bench_baseline_transfers.id"
    return Table(
        "bench_baseline_transfers",
        metadata,
        Column("id", BigIntPK, primary_key=True),
        Column("transfer_id", String(80), nullable=False, unique=True),
        Column("kind", String(16), nullable=False),
        Column("debit_account_id", BigIntPK, ForeignKey(fk), nullable=False, index=True),
        Column("credit_account_id", BigIntPK, ForeignKey(fk), nullable=False, index=True),
        Column("amount", MoneyType(), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("code", String(40), nullable=False),
        Column("reference", String(200)),
        Column("pending_id", BigIntPK, ForeignKey(own), unique=True),
        Column("reversal_of_id", BigIntPK, ForeignKey(own), unique=True),
        Column("timeout_s", Integer),
        Column("expires_at", UTCDateTime()),
        Column("batch_id", String(80), index=True),
        Column("created_at", UTCDateTime(), nullable=False, index=True),
        Column("created_by", String(80), nullable=False),
        Column("created_by_user_id", Integer),
        CheckConstraint("amount > 0"),
        CheckConstraint("debit_account_id <> credit_account_id"),
    )


def _measure(url: str, db: str, batch: int, n: int) -> dict:
    engine = make_engine(url)
    try:
        factory = bench_sessions(engine)
        baseline = _baseline_table(MetaData())
        baseline.create(engine, checkfirst=True)
        accounts = _open_accounts(factory, f"b{batch}")
        rng = random.Random(batch)
        requests = [
            [
                (*rng.sample(accounts, 2), Decimal(rng.randint(1, 99_999)) / 100)
                for _ in range(batch)
            ]
            for _ in range(max(n // batch, 1))
        ]
        warmup = requests[:2]
        ours = base = 0.0
        for i, legs in enumerate(warmup + requests):
            tag = f"{batch}-{i}"
            t0 = time.perf_counter()
            _ledger_request(factory, tag, legs)
            t1 = time.perf_counter()
            _baseline_request(engine, baseline, tag, legs)
            t2 = time.perf_counter()
            if i >= len(warmup):
                ours, base = ours + (t1 - t0), base + (t2 - t1)
        count = len(requests) * batch
        with factory() as session:
            report = ledger.verify(session)
        if not report.ok:
            raise AssertionError(f"ledger out of balance after the bench: {report.differences}")
    finally:
        engine.dispose()
    value, baseline_value = count / ours, count / base
    return {
        "bench": "ledger",
        "metric": "transfers_per_s",
        "value": round(value, 1),
        "unit": "1/s",
        "baseline": BASELINE,
        "baseline_value": round(baseline_value, 1),
        "ratio": round(value / baseline_value, 3),
        "params": {"db": db, "batch": batch, "n": count},
    }


def _open_accounts(factory, prefix: str) -> list[int]:
    def work(session) -> list[int]:
        funding = ledger.open_account(
            session, ACTOR, code=f"{prefix}:funding", name="funding", kind="internal"
        )
        ids = []
        for i in range(ACCOUNTS):
            account = ledger.open_account(
                session, ACTOR, code=f"{prefix}:{i}", name=f"deposit {i}", kind="deposit"
            )
            ledger.transfer(
                session,
                ACTOR,
                transfer_id=f"{prefix}:fund:{i}",
                debit_account_id=funding.id,
                credit_account_id=account.id,
                amount="1000000000.00",
                code="funding",
            )
            ids.append(account.id)
        return ids

    return run_in_transaction(factory, work)


def _ledger_request(factory, tag: str, legs) -> None:
    specs = [
        TransferSpec.single(f"l{tag}-{k}", d, c, amount, "bench")
        for k, (d, c, amount) in enumerate(legs)
    ]
    run_in_transaction(factory, lambda s: ledger.execute_batch(s, ACTOR, specs))


def _baseline_request(engine, table: Table, tag: str, legs) -> None:
    now = utcnow()
    rows = [
        {
            "transfer_id": f"b{tag}-{k}",
            "kind": "single",
            "debit_account_id": d,
            "credit_account_id": c,
            "amount": amount,
            "currency": "CNY",
            "code": "bench",
            "reference": None,
            "pending_id": None,
            "reversal_of_id": None,
            "timeout_s": None,
            "expires_at": None,
            "batch_id": None if len(legs) == 1 else tag,
            "created_at": now,
            "created_by": ACTOR.username,
            "created_by_user_id": None,
        }
        for k, (d, c, amount) in enumerate(legs)
    ]
    with engine.begin() as conn:
        conn.execute(insert(table), rows)


if __name__ == "__main__":
    import json

    for row in run():
        print(json.dumps(row))
