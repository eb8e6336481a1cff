"""`finedge bench queue` in its quick form: rows in the contract's format, through the CLI on
the machine's PostgreSQL and Redis (or the SQLite and JSON fallbacks, said on stderr), and on
the fallbacks when neither can be reached. No timing is asserted."""

from __future__ import annotations

import json

from click.testing import CliRunner

from backend.bootstrap import benchmarks
from backend.cli import main
from bench import queue as bench_queue

KEYS = {"bench", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "params"}
METRICS = [
    ("tickets_per_s", "1/s", bench_queue.BASELINE),
    ("ticket_p99_ms", "ms", bench_queue.BASELINE),
    ("tickets_per_s", "1/s", bench_queue.FLOOR),
    ("pushed_bytes_per_ticket", "B", bench_queue.BASELINE),
]


def _check(rows: list[dict]) -> None:
    assert [(r["metric"], r["unit"], r["baseline"]) for r in rows] == METRICS
    for row in rows:
        assert set(row) == KEYS and row["bench"] == "queue"
        assert row["value"] > 0 and row["baseline_value"] > 0
        higher_is_better = row["unit"] == "1/s"
        expected = (
            row["value"] / row["baseline_value"]
            if higher_is_better
            else row["baseline_value"] / row["value"]
        )
        assert abs(row["ratio"] - expected) <= 0.01 * max(expected, 1)


def test_quick_bench_through_the_cli():
    assert benchmarks()["queue"] == "bench.queue"
    result = CliRunner().invoke(main, ["bench", "queue", "--json", "--quick"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    _check(rows)
    assert rows[0]["params"]["waiting"] == 60


def test_quick_bench_on_the_fallbacks(capsys):
    rows = bench_queue.run(
        {
            "quick": True,
            "waiting": 12,
            "issues": 6,
            "old_issues": 4,
            "inserts": 6,
            "paced": 3,
            "old_paced": 2,
            "pace": 20,
            "pg_url": "postgresql+psycopg://x@127.0.0.1:9/none",
            "redis_url": "redis://127.0.0.1:9/0",
        }
    )
    _check(rows)
    assert rows[0]["params"]["db"] == "sqlite" and rows[0]["params"]["emitter"] == "json"
    err = capsys.readouterr().err
    assert "PostgreSQL unreachable" in err and "no Redis" in err
