"""``finedge marketing train-uplift``: the held-out table of every learner against random
targeting, the model registered (champion first, then challengers), ``--json``; and the
one-line failures (no results yet, an unknown campaign): exit 2."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from backend.cli import main
from backend.marketing.models import UpliftModel
from tests.integration.marketing_uplift_support import planted_campaign


def test_train_uplift_from_the_command_line(make_app, sqlite_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    app = make_app(sqlite_url, seeded=False)
    runner = CliRunner()
    result = runner.invoke(main, ["marketing", "train-uplift"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1

    factory = app.extensions["finedge"].session_factory
    with factory() as s:
        planted_campaign(s, n=1_500, seed=51, code="RENEW-CLI")
        s.commit()
    result = runner.invoke(main, ["marketing", "train-uplift", "--campaign", "NOPE"])
    assert result.exit_code == 2 and "NOPE" in result.stderr

    result = runner.invoke(main, ["marketing", "train-uplift", "--seed", "4"])
    assert result.exit_code == 0, result.stderr
    for name in ("t_learner", "x_learner", "s_learner", "AUUC", "random", "RENEW-CLI"):
        assert name in result.stdout
    result = runner.invoke(main, ["marketing", "train-uplift", "--method", "x_learner", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "challenger" and report["method"] == "x_learner"
    assert report["n_held_out"] == 450 and report["trained_on"] == ["RENEW-CLI"]
    assert set(report["compared"]) == {"x_learner"}
    with factory() as s:
        rows = s.execute(select(UpliftModel.version, UpliftModel.status)).all()
    assert sorted(rows) == [(1, "champion"), (2, "challenger")]
