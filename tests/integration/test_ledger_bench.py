"""`finedge bench ledger` in its quick form: rows in the contract's format, PostgreSQL skipped
with a note when unreachable."""

from __future__ import annotations

from backend.bootstrap import benchmarks
from bench import ledger as bench_ledger

KEYS = {"bench", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "params"}


def test_quick_bench_rows_follow_the_contract(capsys):
    assert benchmarks()["ledger"] == "bench.ledger"
    rows = bench_ledger.run(
        {
            "quick": True,
            "dbs": ["sqlite", "postgresql"],
            "pg_url": "postgresql+psycopg://x@127.0.0.1:9/none",
        }
    )
    assert [(r["params"]["db"], r["params"]["batch"]) for r in rows] == [
        ("sqlite", 1),
        ("sqlite", 100),
    ]
    for row in rows:
        assert set(row) == KEYS
        assert (row["bench"], row["metric"], row["unit"]) == ("ledger", "transfers_per_s", "1/s")
        assert row["value"] > 0 and row["baseline_value"] > 0
        assert abs(row["ratio"] - row["value"] / row["baseline_value"]) < 0.01
        assert row["baseline"] == "plain SQLAlchemy Core INSERT of the same rows"
    assert "PostgreSQL skipped" in capsys.readouterr().err
