"""``finedge clearing replay``, ``finedge clearing reconcile FILE`` and ``finedge
clearing-sim`` against a live server (werkzeug in a thread) on the demo seed."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend.clearing import queries
from backend.clearing.models import ClearingHouse
from backend.clearing.sim import reconciliation_csv
from backend.cli import main
from backend.platform.clock import utcnow


@pytest.fixture
def demo(make_app, sqlite_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return make_app(sqlite_url)


def _csv(app) -> str:
    with app.extensions["finedge"].session_factory() as s:
        house = s.scalar(select(ClearingHouse).where(ClearingHouse.code == "CCH1"))
        openings = queries.openings(s, house.id, utcnow().date())
    return reconciliation_csv({n: (o[1], o[2], o[3]) for n, o in openings.items()})


def test_replay_and_reconcile_a_file(demo, tmp_path):
    runner = CliRunner()
    replay = runner.invoke(main, ["clearing", "replay", "--json"])
    assert replay.exit_code == 0, replay.output
    assert json.loads(replay.output)["ok"] is True
    good = tmp_path / "CCH1-good.csv"
    good.write_text(_csv(demo), "utf-8")
    day = utcnow().date().isoformat()
    result = runner.invoke(main, ["clearing", "reconcile", str(good), "--date", day])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "matched"
    bad = tmp_path / "CCH1-bad.csv"
    bad.write_text(_csv(demo).replace("TRD05-AU,", "TRD05-AU,1"), "utf-8")
    result = runner.invoke(main, ["clearing", "reconcile", str(bad), "--date", day])
    assert result.exit_code == 1 and json.loads(result.output)["differences"] == 1
    broken = tmp_path / "broken.csv"
    broken.write_text("nonsense\n", "utf-8")
    result = runner.invoke(main, ["clearing", "reconcile", str(broken)])
    assert result.exit_code == 2 and "header" in result.output


def test_clearing_sim_plays_a_day_against_a_live_server(demo):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, demo, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = CliRunner().invoke(
            main,
            [
                "clearing-sim",
                "--url",
                f"http://127.0.0.1:{server.server_port}",
                "--traders",
                "3",
                "--instructions",
                "40",
                "--seed",
                "5",
                "--faults",
                "duplicates,reorder,gaps",
                "--wait",
                "30",
            ],
        )
    finally:
        server.shutdown()
        thread.join(10)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["applied"] == 40 and summary["refused"] == 0
    assert summary["reconciliation"]["status"] == "matched"
    bad = CliRunner().invoke(main, ["clearing-sim", "--faults", "meteor"])
    assert bad.exit_code == 2
