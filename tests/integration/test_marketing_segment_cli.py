"""``finedge marketing segment-size``: the preview from the command line (as text and as one
JSON object, the definition inline or from a file), and the one-line refusals with exit 2."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from backend.cli import main
from backend.marketing import synth
from backend.marketing.load import load_clients

AS_OF = date(2026, 6, 1)
MID = {"field": "tier", "op": "in", "value": ["affluent", "wealth"]}


@pytest.fixture
def loaded(make_app, sqlite_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    app = make_app(sqlite_url, seeded=False)  # only these clients (the seed has its own)
    frame = synth.clients(150, seed=8)
    with app.extensions["finedge"].session_factory() as s:
        load_clients(s, frame, as_of=AS_OF)
        s.commit()
    return frame


def test_segment_size(loaded, tmp_path):
    runner = CliRunner()
    expected = int(loaded["tier"].isin(["affluent", "wealth"]).sum())
    args = ["marketing", "segment-size", "--as-of", "2026-06-01", "--definition"]
    result = runner.invoke(main, [*args, json.dumps(MID), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["size"] == expected and out["kind"] == "rule" and out["as_of"] == "2026-06-01"
    assert sum(out["by_tier"].values()) == expected
    path = tmp_path / "rule.json"
    path.write_text(json.dumps({"not": MID}), encoding="utf-8")
    result = runner.invoke(main, [*args, f"@{path}"])
    assert result.exit_code == 0, result.output
    assert f"rule segment as of 2026-06-01: {150 - expected} clients" in result.stdout


@pytest.mark.parametrize(
    "definition, message",
    [
        ('{"field": "tier", "op": "in"', "not valid JSON"),
        ('{"field": "age", "op": ">=", "value": NaN}', "non_finite_number"),
        ('{"a": 1, "a": 2}', "duplicate_json_key"),
        ('{"field": "age", "op": ">=", "value": "old"}', "definition.value"),
        ("@/nonexistent/rule.json", "cannot read"),
    ],
)
def test_refusals_are_one_line(sqlite_url, monkeypatch, definition, message):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(main, ["marketing", "segment-size", "--definition", definition])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr
