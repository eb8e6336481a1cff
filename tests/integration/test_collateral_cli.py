"""``finedge collateral train`` and ``evaluate`` on generated sales files in tmp_path: the
held-out table of the ensemble next to the baseline, the model registered (champion first,
then challengers), evaluate through the champion's own mapping; and the one-line failures:
a bad --map, a file missing a mapped column, an unreadable file."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend.cli import main
from backend.collateral.avm.market import TRAIN_MAP, generate_sales
from backend.collateral.models import AvmModel


@pytest.fixture
def blank(make_app, sqlite_url, monkeypatch):
    """An empty registry: the demo's seeded champion removed."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    app = make_app(sqlite_url)
    with app.extensions["finedge"].session_factory() as s:
        for model in s.scalars(select(AvmModel)):
            s.delete(model)
        s.commit()
    return app


def _models(app) -> list[tuple[int, str]]:
    with app.extensions["finedge"].session_factory() as s:
        return [(m.version, m.status) for m in s.scalars(select(AvmModel).order_by(AvmModel.id))]


def test_train_then_evaluate_a_generated_sales_file(blank, tmp_path):
    sales = generate_sales(900, seed=3)
    train_csv = tmp_path / "sales.csv"
    sales.to_csv(train_csv, index=False)
    runner = CliRunner()
    result = runner.invoke(
        main, ["collateral", "train", "--csv", str(train_csv), "--map", TRAIN_MAP]
    )
    assert result.exit_code == 0, result.output + result.stderr
    out = result.stdout
    assert "ensemble" in out and "baseline (OLS)" in out
    for label in ("median ratio", "COD", "PRD", "PRB", "PPE10", "PPE20", "MdAPE"):
        assert label in out
    assert "pass" in out
    assert "fold 1/3" in result.stderr  # progress on standard error
    assert _models(blank) == [(1, "champion")]
    # a second model is a challenger; --json is one object
    result = runner.invoke(
        main, ["collateral", "train", "--csv", str(train_csv), "--map", TRAIN_MAP, "--json"]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "challenger" and report["version"] == 2
    assert report["metrics"]["ensemble"]["n"] == 180
    # evaluate new sales of the same market with the champion, through its mapping
    fresh = tmp_path / "fresh.csv"
    generate_sales(300, seed=4, community_seed=3).to_csv(fresh, index=False)
    result = runner.invoke(main, ["collateral", "evaluate", "--csv", str(fresh), "--json"])
    assert result.exit_code == 0, result.stderr
    study = json.loads(result.stdout)
    assert study["version"] == 1 and study["ensemble"]["n"] == 300
    assert study["ensemble"]["ppe20"] > 80 and set(study["baseline"]["iaao"]) == {
        "median_ratio",
        "cod",
        "prd",
        "prb",
    }
    result = runner.invoke(main, ["collateral", "evaluate", "--csv", str(fresh)])
    assert result.exit_code == 0 and "MdAPE" in result.stdout


def test_bad_maps_and_files_are_one_line_and_a_non_zero_exit(blank, tmp_path):
    sales = generate_sales(120, seed=5)
    runner = CliRunner()
    short = tmp_path / "short.csv"
    sales.drop(columns=["build_year"]).to_csv(short, index=False)
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00\x00not,a\ncsv")
    cases = [
        (["train", "--csv", str(short), "--map", TRAIN_MAP], "build_year"),
        (["train", "--csv", str(short), "--map", "price=price,area=area"], "build_year"),
        (["train", "--csv", str(short), "--map", "price=price,size=area,age=x"], "size"),
        (["train", "--csv", str(tmp_path / "nope.csv"), "--map", TRAIN_MAP], "cannot read"),
        (["train", "--csv", str(garbage), "--map", TRAIN_MAP], "error:"),
        (["evaluate", "--csv", str(short)], "no champion"),
    ]
    for args, says in cases:
        result = CliRunner().invoke(main, ["collateral", *args])
        assert result.exit_code != 0, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), (args, result.stderr)
        assert says in lines[0], (args, lines)
    assert _models(blank) == []
    # evaluate with a champion whose mapped column the file lacks
    full = tmp_path / "full.csv"
    generate_sales(300, seed=6).to_csv(full, index=False)
    assert runner.invoke(main, ["collateral", "train", "--csv", str(full), "--map", TRAIN_MAP])
    result = runner.invoke(main, ["collateral", "evaluate", "--csv", str(short)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: short.csv lacks the mapped column(s) build_year (build_year)"
    ]


def test_a_gb18030_file_with_chinese_headers_trains_and_an_infinite_price_is_skipped(
    blank, tmp_path
):
    """A bank's export in GB18030 with Chinese column names trains and evaluates; a price of
    "inf" is a row without a usable price (skipped and counted), not a model error."""
    sales = generate_sales(300, seed=7)
    names = {"price": "成交价", "area": "面积", "build_year": "建成年份", "community": "小区"}
    sales = sales.rename(columns=names).astype({"成交价": object})
    sales.loc[3, "成交价"] = "inf"
    gb = tmp_path / "成交.csv"
    gb.write_bytes(sales.to_csv(index=False).encode("gb18030"))
    mapping = ",".join(f"{k}={v}" for k, v in names.items())
    runner = CliRunner()
    result = runner.invoke(main, ["collateral", "train", "--csv", str(gb), "--map", mapping])
    assert result.exit_code == 0, result.stderr
    assert "1 rows without a positive price and area skipped" in result.stderr
    assert _models(blank) == [(1, "champion")]
    result = runner.invoke(main, ["collateral", "evaluate", "--csv", str(gb), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)
