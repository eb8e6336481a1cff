"""``finedge collateral sales-import``, ``ratio-study`` and ``revalue`` on a demo database:
a CSV imported once (again: nothing new), a bad one refused whole with one line and a
non-zero exit, the quarter's study as JSON (the planted move's drift alarm), a revaluation
run's JSON summary, resumed by its key."""

from __future__ import annotations

import csv
import json
from datetime import date

from click.testing import CliRunner
from sqlalchemy import func, select

from backend.cli import main
from backend.collateral.models import MarketSale
from backend.collateral.monitoring.seed import last_quarters, market_sales


def write(path, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_sales_import_study_and_revalue(make_app, sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    app = make_app(sqlite_url)  # the demo seed: its champion
    rows = market_sales(last_quarters(date.today()), 40)
    good, bad = tmp_path / "sales.csv", tmp_path / "bad.csv"
    write(good, rows)
    write(bad, [rows[0], {**rows[1], "floor": 40, "total_floors": 18}])
    runner = CliRunner()
    first = runner.invoke(main, ["collateral", "sales-import", "--csv", str(good)])
    assert first.exit_code == 0, first.output + first.stderr
    assert json.loads(first.stdout) == {
        "received": len(rows),
        "imported": len(rows),
        "already_known": 0,
    }
    again = runner.invoke(main, ["collateral", "sales-import", "--csv", str(good)])
    assert json.loads(again.stdout)["imported"] == 0
    refused = runner.invoke(main, ["collateral", "sales-import", "--csv", str(bad)])
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1 and "row 3" in refused.stderr, refused.stderr
    (tmp_path / "short.csv").write_text("source_ref,city\nx,y\n", encoding="utf-8")
    short = runner.invoke(
        main, ["collateral", "sales-import", "--csv", str(tmp_path / "short.csv")]
    )
    assert short.exit_code == 2 and "missing columns" in short.stderr
    with app.extensions["finedge"].session_factory() as s:
        assert s.scalar(select(func.count()).select_from(MarketSale)) == len(rows)
    quarter = last_quarters(date.today())[-1]
    study = runner.invoke(main, ["collateral", "ratio-study", "--quarter", quarter])
    assert study.exit_code == 0, study.stderr
    out = json.loads(study.stdout)
    assert out["quarter"] == quarter and out["sales"] > 0
    assert "drift_median_ratio" in {a["code"] for a in out["alarms"]}  # the planted move
    assert runner.invoke(main, ["collateral", "ratio-study", "--quarter", "2026Q9"]).exit_code == 2
    run = runner.invoke(main, ["collateral", "revalue", "--run-key", "cli-1"])
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["run_key"] == "cli-1" and summary["status"] == "done"
    resumed = json.loads(
        runner.invoke(main, ["collateral", "revalue", "--run-key", "cli-1"]).stdout
    )
    assert resumed["id"] == summary["id"]
