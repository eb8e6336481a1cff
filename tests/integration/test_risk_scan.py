"""The full scan (progress, report, contagion, idempotence), the scheduled jobs (feed refresh
from a configured folder, the demo ticker), the seeder and the Neo4j export."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.platform.context import SYSTEM
from backend.platform.db import make_engine
from backend.risk import jobs
from backend.risk.graph.neo4j_export import export_cypher
from backend.risk.intake.ingest import ingest_records
from backend.risk.models import Enterprise, EnterpriseTag, Person, RiskEdge, RiskSignal, ScanRun
from backend.risk.monitoring.scan import full_scan
from backend.risk.seed import seed_risk
from backend.seed import SeedOptions
from tests.integration import test_risk_support as support
from tests.integration.test_risk_support import SEEDED_ENTERPRISES, code, event
from tests.wiring import recording_emitter, wired_factory

risk_url = support.risk_url  # fixture


@pytest.fixture
def seeded(risk_url):
    engine = make_engine(risk_url)
    factory = wired_factory(engine)
    yield factory
    engine.dispose()


@pytest.fixture
def lite(sqlite_url):
    engine = make_engine(sqlite_url)
    with wired_factory(engine)() as session:
        yield session
    engine.dispose()


def test_full_scan_reports_progress_and_is_idempotent(seeded):
    seen = []
    with seeded() as s:
        run = full_scan(
            s, chunk_size=50, progress=lambda phase, done, total: seen.append((phase, done, total))
        )
        assert run.status == "ok" and run.done == run.total == SEEDED_ENTERPRISES
        assert [p for p, _d, _t in seen if p == "assess"][-1] == "assess"
        assert ("reconcile", SEEDED_ENTERPRISES, SEEDED_ENTERPRISES) in seen
        assert [d for p, d, _t in seen if p == "reconcile"] == [0, 50, 100, 150, 200]
        report = run.report
        assert report["enterprises"] == SEEDED_ENTERPRISES and report["ruleset_version"] == "3"
        assert report["signals"]["raised"] == 0  # the seed already scanned: nothing new
        assert report["guarantee_circles"] >= 1 and report["edges"] > 0
        assert set(report["levels_now"]) <= {"none", "weak", "medium", "strong", "hard"}
        again = full_scan(s)
        assert again.report["signals"]["raised"] == again.report["signals"]["escalated"] == 0
        assert s.scalar(select(func.count(ScanRun.id))) == 3  # the seed's, and these two
        tagged = s.scalar(select(func.count(func.distinct(EnterpriseTag.enterprise_id))))
        assert tagged == SEEDED_ENTERPRISES  # everyone has at least an operating-status tag


def test_contagion_reaches_the_guarantor_of_a_troubled_borrower(lite):
    guarantor, borrower, stranger = code(31), code(32), code(33)
    edges = [
        {
            "record_id": "g1",
            "type": "edge",
            "kind": "guarantee",
            "from": {"credit_code": guarantor},
            "to": {"credit_code": borrower},
            "amount": "5000000.00",
            "time": "2024-01-01",
        },
    ]
    profiles = [
        {
            "record_id": f"p{c}",
            "type": "profile",
            "credit_code": c,
            "name": f"企业{c[-4:]}",
            "time": "2024-01-01",
            "data": {"registered_capital": "10000000.00"},
        }
        for c in (guarantor, borrower, stranger)
    ]
    ingest_records(lite, SYSTEM, "registry", profiles + edges)
    ingest_records(lite, SYSTEM, "court", [event("d1", borrower, "dishonest_debtor", 3)])
    live = recording_emitter()
    run = full_scan(lite, live=live)
    assert run.report["contagion_findings"] == 1
    ents = {e.credit_code: e for e in lite.scalars(select(Enterprise))}
    contagion = lite.scalar(select(RiskSignal).where(RiskSignal.origin == "contagion"))
    assert contagion.enterprise_id == ents[guarantor].id
    # 1.0 x 0.9 (borrower -> guarantor) x 0.85 decay = 0.765: strong by score, but rules v3
    # cap contagion at medium (the related risk reaches the model as a feature instead)
    assert contagion.level == "medium"
    assert contagion.evidence["origin"] == ents[borrower].id and contagion.evidence["hops"] == 1
    assert ents[guarantor].graph_metrics["related_risk"] == pytest.approx(0.765)
    assert ents[stranger].risk_level is None
    assert any(d["origin"] == "contagion" for _e, d, _r in live.sent)


def test_refresh_job_loads_configured_feeds(lite, tmp_path, monkeypatch):
    folder = tmp_path / "court"
    folder.mkdir()
    (folder / "day1.jsonl").write_text(
        json.dumps(event("j1", code(41), "lawsuit_defendant", 2)) + "\n{broken\n", encoding="utf-8"
    )
    config = tmp_path / "feeds.yaml"
    missing = tmp_path / "missing"
    config.write_text(
        "feeds:\n"
        f"  - {{source: court, adapter: file, path: '{folder}', schedule: daily}}\n"
        f"  - {{source: news, adapter: file, path: '{missing}', schedule: sentiment}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FINEDGE_RISK_FEEDS", str(config))
    registry = {"record_id": "p41", "type": "profile", "credit_code": code(41)}
    ingest_records(
        lite, SYSTEM, "registry", [{**registry, "name": "某某公司", "time": "2024-01-01"}]
    )
    now = datetime.now(UTC)
    daily = jobs.refresh_daily(lite, now)
    assert daily["loaded"] == [
        {
            "source": "court",
            "batches": 1,
            "failed_batches": 0,
            "accepted": 1,
            "updated": 0,
            "rejected": 1,
            "queued": 0,
        }
    ]
    assert jobs.refresh_daily(lite, now)["loaded"][0]["batches"] == 0  # unchanged file: skipped
    sentiment = jobs.refresh_sentiment(lite, now)
    assert sentiment["failed"][0]["source"] == "news"
    assert jobs.demo_ticker(lite, now) == {"skipped": "not the demo environment"}


def test_jobs_are_registered_with_their_schedules():
    from backend.bootstrap import collect_areas, job_registry

    registry = job_registry(collect_areas())
    specs = {name: spec for name, spec in registry.jobs.items() if name.startswith("risk.")}
    assert specs["risk.refresh_sentiment"].every_s == 7200
    assert specs["risk.refresh_daily"].cron == {"hour": 1, "minute": 30}
    assert specs["risk.full_scan"].cron == {"hour": 3, "minute": 0}
    assert {"risk.train_challengers", "risk.demo_ticker"} <= set(specs)


def test_demo_ticker_makes_signals_in_the_demo(seeded, monkeypatch):
    monkeypatch.setenv("FINEDGE_ENV", "demo")
    with seeded() as s:
        result = jobs.demo_ticker(s, datetime.now(UTC) + timedelta(seconds=1))
        assert result["source"] in ("news", "court") and result["enterprise_id"]


def test_seeding_again_changes_nothing_and_zero_means_no_risk_data(seeded):
    with seeded() as s:
        assert seed_risk(s, SeedOptions(enterprises=SEEDED_ENTERPRISES, progress=False)) == {
            "risk": {"already_seeded": SEEDED_ENTERPRISES}
        }
        assert seed_risk(s, SeedOptions(enterprises=0)) == {}


def test_neo4j_export_writes_every_node_and_relationship(seeded):
    out = io.StringIO()
    with seeded() as s:
        counts = export_cypher(s, out, batch=50)
        assert counts["enterprises"] == s.scalar(select(func.count(Enterprise.id)))
        assert counts["persons"] == s.scalar(select(func.count(Person.id)))
        assert counts["relationships"] == s.scalar(select(func.count(RiskEdge.id)))
    text = out.getvalue()
    assert text.count(";\n") == counts["statements"]
    assert "MERGE (a)-[r:GUARANTEES]->(b)" in text and "CREATE CONSTRAINT enterprise_id" in text
    assert "UNWIND [{id: " in text  # Cypher maps: bare keys, JSON-quoted strings


def test_the_first_model_is_champion_only_when_it_beats_the_baseline(seeded, monkeypatch):
    from backend.risk.ml import registry
    from backend.risk.models import RiskModel

    real = registry.validate_out_of_time

    def below_baseline(*args, **kwargs):
        result = real(*args, **kwargs)
        for _model, metrics in result["results"]:
            metrics["oot_auc"] = metrics["baseline_oot_auc"]
            metrics["beats_baseline"] = False
        return result

    with seeded() as s:
        for row in s.scalars(select(RiskModel)):
            row.status = "retired"  # as if no model had ever been trained
        monkeypatch.setattr(registry, "validate_out_of_time", below_baseline)
        report = registry.train_from_database(s, SYSTEM)
        assert {m["status"] for m in report["models"]} == {"challenger"}
        assert "does not beat the rule-level baseline" in report["not_champion_because"]
        assert registry.champion(s) is None
        monkeypatch.setattr(registry, "validate_out_of_time", real)
        again = registry.train_from_database(s, SYSTEM)
        best = max(again["models"], key=lambda m: m["oot_auc"])
        assert best["oot_auc"] > best["baseline_oot_auc"]
        assert best["status"] == "champion" and "not_champion_because" not in again


def test_training_without_enough_history_says_what_is_missing(lite):
    from backend.platform.errors import BusinessRuleViolation
    from backend.risk.ml import registry

    with pytest.raises(BusinessRuleViolation, match="no events to learn from"):
        registry.train_from_database(lite, SYSTEM)
    profile = {"record_id": "p51", "type": "profile", "credit_code": code(51), "name": "某甲公司"}
    ingest_records(lite, SYSTEM, "registry", [{**profile, "time": "2024-01-01"}])
    ingest_records(lite, SYSTEM, "court", [event("l1", code(51), "lawsuit_defendant", 200)])
    with pytest.raises(BusinessRuleViolation) as exc:
        registry.train_from_database(lite, SYSTEM)
    message = exc.value.message
    assert "6.6 months of events" in message and "0 snapshot(s)" in message
    assert "needs 4 snapshots 30 days apart, i.e. 14.8 months" in message


def test_a_model_trained_on_another_feature_list_is_not_used(seeded):
    from backend.platform.errors import BusinessRuleViolation
    from backend.risk.ml import registry
    from backend.risk.models import RiskModel
    from backend.risk.scoring.features import FEATURE_NAMES, NETWORK_FEATURES

    with seeded() as s:
        row, _model = registry.champion(s)
        old = [n for n in FEATURE_NAMES if n not in NETWORK_FEATURES[1:]]  # before the network
        row.feature_names = old
        s.flush()
        assert registry.champion(s) is None  # the scan scores with rules and contagion only
        challenger = s.scalar(select(RiskModel).where(RiskModel.status == "challenger"))
        challenger.feature_names = old
        with pytest.raises(BusinessRuleViolation, match="another feature set"):
            registry.promote(s, SYSTEM, challenger.id)
