"""Replay and go-live backfill on a tiny hand-made world (tests/integration/risk_replay_world):
the same deliveries give the same signals (ids and simulated times, SQLite and PostgreSQL
alike), late-published records are seen when they arrive, a backfill marks its signals and
puts nothing in anybody's inbox, and the ``finedge risk replay|backtest`` commands."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backend.identity.models import Org, User
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM
from backend.platform.db import make_engine
from backend.risk.intake.adapters import FileFeedAdapter
from backend.risk.intake.ingest import load_feed
from backend.risk.models import Backtest, InboxItem, RiskEvent, RiskSignal, RulesetState
from backend.risk.replay.engine import backfill, replay
from backend.risk.scoring.rulefile import ruleset_in_force
from tests.integration import risk_replay_world as world
from tests.integration import test_risk_support as support
from tests.wiring import recording_emitter, wired_factory

START, END = world.START, world.END
risk_url = support.risk_url  # fixture: the seeded world (models trained)


@pytest.fixture
def deliveries(tmp_path):
    return world.write_deliveries(tmp_path / "deliveries")


def run(url: str, deliveries, **kwargs):
    engine = make_engine(url)
    try:
        with wired_factory(engine)() as session:
            return replay(session, deliveries, start=START, end=END, **kwargs)
    finally:
        engine.dispose()


def by_rule(lines):
    return {(ln["credit_code"], ln["rule_id"], ln["change"]): ln for ln in lines}


def test_replay_is_deterministic_and_sees_records_when_they_arrive(
    db_url, sqlite_template, tmp_path, deliveries
):
    first = run(db_url, deliveries)
    other = tmp_path / "second.db"
    shutil.copy(sqlite_template, other)
    second = run(f"sqlite:///{other}", deliveries)
    assert first.lines and first.lines == second.lines  # ids and simulated times identical
    assert first.meta == second.meta and first.meta["enterprises"] == world.FIRMS
    assert first.meta["ruleset"] == "3" and first.meta["model"] is None
    assert first.end["days"] == 59 and first.end["enterprises"] == world.FIRMS
    assert first.failures == []
    times = [ln["time"] for ln in first.lines]
    assert times == sorted(times)
    seen = by_rule(first.lines)
    # the enforcement delivered on 01-10 is loaded by the 01:30 job of the next day
    enforcement = seen[(world.code(0), "JUD-ENFORCEMENT", "raised")]
    # one enforcement case alone is medium under rules v3 (no routine event is strong alone)
    assert (enforcement["time"], enforcement["level"]) == ("2025-01-11T01:30:00Z", "medium")
    assert seen[(world.code(0), "JUD-DISHONEST", "raised")]["level"] == "hard"
    # the guarantor of a troubled borrower: contagion, raised by the full scan at 03:00
    contagion = seen[(world.code(1), "CONTAGION", "raised")]
    assert contagion["origin"] == "contagion" and contagion["time"].endswith("T03:00:00Z")
    # the second lawsuit happened on 01-12 but was published on 01-14: three lawsuits are
    # known only once the third arrives (01-20, loaded 01-21)
    assert seen[(world.code(2), "JUD-LAWSUITS", "raised")]["time"] == "2025-01-21T01:30:00Z"
    # two negative news items: a medium signal that expires once they are 30 days old
    expired = seen[(world.code(3), "NEWS-NEGATIVE", "expired")]
    assert expired["time"] > "2025-02-14" and not any(ln["backfill"] for ln in first.lines)


def test_replay_with_a_backfill_and_fewer_scans(sqlite_url, deliveries):
    result = run(sqlite_url, deliveries, backfill_until=date(2025, 1, 31), scan_every_days=7)
    backfilled = [ln for ln in result.lines if ln["backfill"] and ln["change"] == "raised"]
    assert backfilled and {ln["time"] for ln in backfilled} == {"2025-02-01T03:00:00Z"}
    assert result.backfill["signals"] == len(backfilled)
    assert all(ln["time"] >= "2025-02-01T03:00:00Z" for ln in result.lines)
    later = [ln for ln in result.lines if not ln["backfill"] and ln["change"] == "raised"]
    assert {ln["rule_id"] for ln in later} >= {"INT-OVERDUE-30", "TAX-VIOLATION"}


def _approver(session) -> int:
    now = datetime.now(UTC)
    org = Org(code="BANK", name="Bank", kind="bank", created_at=now)
    session.add(org)
    session.flush()
    user = User(username="approver9", role="approver", org_id=org.id, created_at=now)
    session.add(user)
    session.commit()
    return user.id


def test_a_backfill_does_not_flood_inboxes(db_url, deliveries):
    engine = make_engine(db_url)
    emitter = recording_emitter()
    try:
        with wired_factory(engine, live=emitter)() as session:
            approver = _approver(session)
            summary = backfill(session, deliveries, until=date(2025, 1, 31))
            marked = session.scalar(
                select(func.count(RiskSignal.id)).where(RiskSignal.backfill.is_(True))
            )
            assert marked == summary["signals"] >= 4
            assert summary["by_level"]["hard"] >= 1 and summary["failed_files"] == 0
            assert session.scalar(select(func.count(InboxItem.id))) == 0
            assert [e for e in emitter.sent if e[0] == "risk.signal"] == []
            record = session.scalar(
                select(AuditRecord).where(AuditRecord.action == "risk.backfill_loaded")
            )
            assert record is not None and record.after["signals"] == summary["signals"]
            # history is known from its publication (else its source time), not from the load
            late = session.scalar(select(RiskEvent).where(RiskEvent.external_id == "law-2b"))
            assert late.known_at.replace(tzinfo=UTC) == datetime(2025, 1, 14, 12, tzinfo=UTC)
            # after go-live, news is news again: the overdue loan reaches the approver
            folder = deliveries / "2025-02-01"
            load_feed(
                session,
                SYSTEM,
                FileFeedAdapter(folder / "core_banking.jsonl", "core_banking"),
                now=datetime(2025, 2, 2, 1, 30, tzinfo=UTC),
            )
            session.commit()
            items = list(session.scalars(select(InboxItem)))
            assert items and {i.user_id for i in items} == {approver}
            assert all(not session.get(RiskSignal, i.signal_id).backfill for i in items)
            assert any(e[0] == "risk.signal" for e in emitter.sent)
    finally:
        engine.dispose()


def test_the_ruleset_in_force(session):
    assert ruleset_in_force(session).version == "3"  # nothing promoted: the newest file
    session.add(RulesetState(version="1", status="champion"))
    session.flush()
    assert ruleset_in_force(session).version == "1"


def test_cli_replay_backtest_and_save(sqlite_url, deliveries, tmp_path, monkeypatch):
    from backend.cli import main

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    out = tmp_path / "signals.jsonl"
    truth = world.write_truth(tmp_path / "defaults.csv")
    runner = CliRunner()
    args = ["risk", "replay", "--deliveries", str(deliveries), "--from", "2025-01-01"]
    result = runner.invoke(
        main,
        [*args, "--to", "2025-02-28", "--ruleset", "1", "--out", str(out), "--scan-every", "3"],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["type"] == "meta" and rows[0]["ruleset"] == "1"
    assert rows[0]["scan_every_days"] == 3 and rows[-1]["type"] == "end"
    assert rows[-1]["days_per_s"] > 0 and all(r["rule_version"] == "1" for r in rows[1:-1])
    assert "days/s" in result.stderr
    report = runner.invoke(
        main, ["risk", "backtest", "--signals", str(out), "--truth", str(truth), "--json"]
    )
    assert report.exit_code == 0, report.output
    figures = json.loads(report.stdout)
    assert figures["signals"]["defaulters"] == 2 and figures["ruleset"] == "1"
    assert set(figures) >= {"signals", "baseline", "period"}
    text = runner.invoke(main, ["risk", "backtest", "--signals", str(out), "--truth", str(truth)])
    assert "strong or hard (baseline)" in text.stdout
    saved = runner.invoke(
        main,
        ["risk", "backtest", "--signals", str(out), "--truth", str(truth), "--save", "--json"],
    )
    assert saved.exit_code == 0, saved.output
    backtest_id = json.loads(saved.stdout)["saved_backtest_id"]
    engine = make_engine(sqlite_url)
    with wired_factory(engine)() as session:
        row = session.get(Backtest, backtest_id)
        assert (row.subject_kind, row.subject) == ("ruleset", "1")
        assert row.period_from == START and len(row.dataset_sha256) == 64
        assert row.report["signals_sha256"] and row.report["truth_sha256"]
    engine.dispose()
    bad = runner.invoke(main, [*args, "--to", "2024-12-01"])
    assert bad.exit_code != 0 and "--to" in bad.output
    missing = runner.invoke(
        main, [*args, "--to", "2025-01-05", "--ruleset", "9", "--out", str(out)]
    )
    assert missing.exit_code != 0 and "9" in missing.output


def test_cli_replay_with_a_model_of_the_configured_database_and_backfill(
    risk_url, sqlite_url, deliveries, tmp_path, monkeypatch
):
    from backend.cli import main
    from backend.risk.models import RiskModel

    engine = make_engine(risk_url)
    with wired_factory(engine)() as session:
        champion = session.scalar(select(RiskModel).where(RiskModel.status == "champion"))
        spec = f"{champion.name}:{champion.version}"
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", risk_url)
    out = tmp_path / "signals.jsonl"
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["risk", "replay", "--deliveries", str(deliveries), "--from", "2025-01-01", "--to",
         "2025-01-31", "--model", spec, "--scan-every", "7", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert meta["model"] == spec
    unknown = runner.invoke(
        main,
        ["risk", "replay", "--deliveries", str(deliveries), "--from", "2025-01-01", "--to",
         "2025-01-31", "--model", "nope:9", "--out", str(out)],
    )  # fmt: skip
    assert unknown.exit_code != 0 and "nope:9" in unknown.output
    # go-live on the configured database: one summary, nobody's inbox
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    loaded = runner.invoke(
        main, ["risk", "backfill", "--deliveries", str(deliveries), "--until", "2025-01-31"]
    )
    assert loaded.exit_code == 0, loaded.output
    summary = json.loads(loaded.stdout)
    assert summary["signals"] >= 4 and summary["until"] == "2025-01-31"
    engine = make_engine(sqlite_url)
    with wired_factory(engine)() as session:
        assert session.scalar(select(func.count(InboxItem.id))) == 0
    engine.dispose()
