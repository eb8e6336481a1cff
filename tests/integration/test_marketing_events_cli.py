"""``finedge marketing import-transactions`` and ``detect`` on a seeded demo database: a CSV
imported once (again: nothing new), a bad one refused whole with one line and exit 2; the
detector reads the imported rows and finds the planted large inflow."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner
from sqlalchemy import func, select

from backend.cli import main
from backend.marketing.models import Client, MarketingEvent, Transaction


def write(path, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_import_then_detect(make_app, sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    app = make_app(sqlite_url)
    factory = app.extensions["finedge"].session_factory
    with factory() as s:
        mass = s.scalars(select(Client).where(Client.tier == "mass").order_by(Client.id)).first()
        number = mass.client_no
        before = s.scalar(select(func.count()).select_from(Transaction))
    rows = [
        {
            "ref": "CSV-1",
            "client_no": number,
            "at": "2026-12-01T09:00:00Z",
            "amount": "30000.00",
            "kind": "deposit",
            "channel": "counter",
        },
        {
            "ref": "CSV-2",
            "client_no": number,
            "at": "2026-12-01T10:00:00+08:00",
            "amount": "25000.00",
            "kind": "transfer_in",
            "channel": "app",
        },
        {
            "ref": "CSV-3",
            "client_no": number,
            "at": "2026-12-01T11:00:00Z",
            "amount": "-100.50",
            "kind": "card",
            "channel": "pos",
        },
    ]
    good = tmp_path / "feed.csv"
    write(good, rows)
    runner = CliRunner()
    # the seed's feed (the demo campaign's simulated purchases come after its own detection)
    drained = runner.invoke(main, ["marketing", "detect", "--json", "--quiet"])
    assert drained.exit_code == 0, drained.stderr
    first = runner.invoke(main, ["marketing", "import-transactions", "--csv", str(good), "--quiet"])
    assert first.exit_code == 0, first.output + first.stderr
    assert json.loads(first.stdout) == {"rows": 3, "added": 3, "already_there": 0}
    again = runner.invoke(main, ["marketing", "import-transactions", "--csv", str(good), "--quiet"])
    assert json.loads(again.stdout)["added"] == 0

    bad_cases = [
        ({"amount": "1.005"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"at": "2026-12-01 09:00"}, "at"),
        ({"client_no": "C-NOBODY"}, "client_no"),
        ({"kind": "bribe"}, "kind"),
        ({"ref": ""}, "ref"),
    ]
    for change, column in bad_cases:
        bad = tmp_path / "bad.csv"
        write(bad, [{**rows[0], "ref": "NEW-1"}, {**rows[1], "ref": "NEW-2", **change}])
        refused = runner.invoke(main, ["marketing", "import-transactions", "--csv", str(bad)])
        assert refused.exit_code == 2, (change, refused.stdout)
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert "row 3" in refused.stderr and column in refused.stderr, refused.stderr
    (tmp_path / "short.csv").write_text("ref,client_no\nx,y\n", encoding="utf-8")
    short = runner.invoke(
        main, ["marketing", "import-transactions", "--csv", str(tmp_path / "short.csv")]
    )
    assert short.exit_code == 2 and "missing columns" in short.stderr
    missing = runner.invoke(
        main, ["marketing", "import-transactions", "--csv", str(tmp_path / "none.csv")]
    )
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Transaction)) == before + 3

    detected = runner.invoke(main, ["marketing", "detect", "--json", "--quiet"])
    assert detected.exit_code == 0, detected.stderr
    out = json.loads(detected.stdout)
    assert out["rows"] == 3
    with factory() as s:
        event = s.scalars(
            select(MarketingEvent).where(
                MarketingEvent.client_id == mass.id, MarketingEvent.kind == "large_in"
            )
        ).one()
        assert (event.window_key, event.ref) == ("2026-12-01", "CSV-2")
    quiet = runner.invoke(main, ["marketing", "detect", "--quiet"])
    assert quiet.exit_code == 0 and "0 transactions read" in quiet.stdout
    for job in ("marketing.events", "marketing.tags"):
        ran = runner.invoke(main, ["jobs", "run", job])
        assert ran.exit_code == 0, ran.output + ran.stderr
