"""``finedge seed --dealers N --cars M``: realistic states, idempotent, books balanced, lines
consistent with the cars; on SQLite and PostgreSQL, and through the CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import func, select

from backend import ledger
from backend.cli import main
from backend.floorplan.models import CreditLine, Vehicle
from backend.platform.config import Config
from backend.platform.db import make_engine, session_scope
from backend.seed import SeedOptions, seed
from tests.integration.test_floorplan_support import assert_line_invariants
from tests.wiring import wired_factory


def test_seed_builds_dealers_and_cars_in_realistic_states_idempotently(db_url):
    engine = make_engine(db_url)
    factory = wired_factory(engine)
    config = Config.from_env(database_url=db_url)
    options = SeedOptions(dealers=6, cars=240, progress=False)
    try:
        with session_scope(factory) as s:
            report = seed(s, config, options)
        assert report["floorplan"]["dealers"] == 6
        assert report["floorplan"]["cars_created"] == 240
        with session_scope(factory) as s:
            again = seed(s, config, options)
        assert again["floorplan"]["cars_created"] == 0
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(Vehicle)) == 240
            states = dict(
                s.execute(select(Vehicle.status, func.count()).group_by(Vehicle.status)).all()
            )
            assert {"in_stock", "redeemed", "released"} <= set(states)
            assert states["in_stock"] > 240 * 0.4
            per_dealer = s.execute(
                select(Vehicle.dealer_org_id, func.count()).group_by(Vehicle.dealer_org_id)
            ).all()
            assert len(per_dealer) == 6 and all(n == 40 for _, n in per_dealer)
            assert s.scalar(select(func.count()).select_from(CreditLine)) == 6
            report = ledger.verify(s)
            assert report.ok, report.to_dict()
            assert_line_invariants(s)
        with session_scope(factory) as s:  # more cars later: only the difference is added
            more = seed(s, config, SeedOptions(dealers=6, cars=300, progress=False))
        assert more["floorplan"]["cars_created"] == 60
        with factory() as s:
            assert ledger.verify(s).ok
            assert_line_invariants(s)
    finally:
        engine.dispose()


def test_cli_seed_scale_options(monkeypatch, sqlite_url):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    runner = CliRunner()
    first = runner.invoke(main, ["seed", "--dealers", "3", "--cars", "45", "--quiet"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output.splitlines()[0])["floorplan"]["cars_created"] == 45
    second = runner.invoke(main, ["seed", "--dealers", "3", "--cars", "45", "--quiet"])
    assert json.loads(second.output.splitlines()[0])["floorplan"]["cars_created"] == 0
    jobs = runner.invoke(main, ["jobs", "list"])
    assert "floorplan.bill_maturity" in jobs.output and "floorplan.audit_schedule" in jobs.output
