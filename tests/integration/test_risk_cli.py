"""``finedge risk signals`` (a table or JSON lines, filtered) and ``finedge jobs run NAME
--as-of`` (a job as of a past moment, for replays); bad input is one line on stderr and a
non-zero exit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend.cli import main
from backend.platform.context import SYSTEM
from backend.platform.db import make_engine
from backend.risk.intake.ingest import ingest_records
from backend.risk.models import ScanRun
from tests.integration.test_risk_support import code, event
from tests.wiring import wired_factory

A = code(301)


@pytest.fixture
def world(sqlite_url, monkeypatch):
    """An enterprise with a hard signal (dishonest debtor) and a medium one (a large lawsuit)."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    engine = make_engine(sqlite_url)
    with wired_factory(engine)() as s:
        ingest_records(
            s,
            SYSTEM,
            "registry",
            [
                {
                    "record_id": "p",
                    "type": "profile",
                    "credit_code": A,
                    "name": "华鑫科技有限公司",
                    "time": "2024-01-01",
                }
            ],
        )
        ingest_records(s, SYSTEM, "court", [event("d-1", A, "dishonest_debtor", 2)])
        s.commit()
    yield engine
    engine.dispose()


def test_risk_signals_lists_filters_and_prints_json(world):
    runner = CliRunner()
    table = runner.invoke(main, ["risk", "signals"])
    assert table.exit_code == 0, table.output
    assert "JUD-DISHONEST" in table.output and "hard" in table.output
    assert table.output.strip().endswith("signal(s)")
    lines = runner.invoke(main, ["risk", "signals", "--json", "--enterprise", A]).output
    rows = [json.loads(line) for line in lines.splitlines()]
    assert rows and all(r["credit_code"] == A for r in rows)
    assert {"id", "level", "status", "origin", "rule_id", "reason", "raised_at"} <= set(rows[0])
    hard = [r for r in rows if r["level"] == "hard"]
    by_id = runner.invoke(
        main,
        [
            "risk",
            "signals",
            "--json",
            "--level",
            "hard",
            "--enterprise",
            str(hard[0]["enterprise_id"]),
        ],
    )
    assert [json.loads(line)["id"] for line in by_id.output.splitlines()] == [r["id"] for r in hard]
    assert runner.invoke(main, ["risk", "signals", "--json", "--origin", "model"]).output == ""
    later = runner.invoke(main, ["risk", "signals", "--json", "--since", "2099-01-01"])
    assert later.exit_code == 0 and later.output == ""
    assert (
        runner.invoke(main, ["risk", "signals", "--json", "--limit", "1"]).output.count("\n") == 1
    )
    for bad in (["--enterprise", "999999"], ["--since", "yesterday"], ["--level", "scary"]):
        result = runner.invoke(main, ["risk", "signals", *bad])
        assert result.exit_code != 0, bad
        assert result.output.strip().count("\n") <= 1 or "Usage" in result.output, bad


def test_jobs_run_as_of_runs_the_job_at_that_moment(world):
    runner = CliRunner()
    result = runner.invoke(
        main, ["jobs", "run", "risk.full_scan", "--as-of", "2025-06-30T12:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["outcome"] == "ok" and out["result"]["as_of"] == "2025-06-30T12:00:00Z"
    with wired_factory(world)() as s:
        scan = s.scalar(select(ScanRun).order_by(ScanRun.id.desc()))
        assert scan.started_at == datetime(2025, 6, 30, 12, tzinfo=UTC)
    day = runner.invoke(main, ["jobs", "run", "risk.full_scan", "--as-of", "2025-07-01"])
    assert json.loads(day.output)["result"]["as_of"] == "2025-07-01T00:00:00Z"
    for bad in ("2025-07-01T00:00:00", "soon"):
        refused = runner.invoke(main, ["jobs", "run", "risk.full_scan", "--as-of", bad])
        assert refused.exit_code != 0 and "--as-of" in refused.output
