"""Ingestion on SQLite and PostgreSQL: idempotent loads, updates, malformed records rejected
with a reason while the rest loads, entity resolution across spellings, source differences,
graph edges, and the file and HTTP adapters end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.platform.context import SYSTEM
from backend.platform.db import make_engine
from backend.risk.intake.adapters import FileFeedAdapter, HttpFeedAdapter
from backend.risk.intake.ingest import ingest_records, load_feed
from backend.risk.models import (
    Enterprise,
    EnterpriseAlias,
    FeedRun,
    Person,
    RiskEdge,
    RiskEvent,
    RiskSignal,
    SourceFact,
)
from backend.risk.queries.enterprises import source_differences
from tests.integration.test_risk_support import code, event
from tests.wiring import recording_emitter, wired_factory

A, B = code(1), code(2)


@pytest.fixture
def lite(sqlite_url):
    """SQLite only, for behaviour that does not depend on the database's constraints
    (the constraint-sensitive tests take ``session``: SQLite and PostgreSQL)."""
    engine = make_engine(sqlite_url)
    with wired_factory(engine)() as session:
        yield session
    engine.dispose()


def profile(credit_code: str, name: str, record_id: str, **data) -> dict:
    return {
        "record_id": record_id,
        "type": "profile",
        "credit_code": credit_code,
        "name": name,
        "time": "2024-01-01",
        "data": data,
    }


def count(session, model) -> int:
    return session.scalar(select(func.count(model.id)))


def known(session, *codes: str) -> None:
    """The registry (the master of who exists) knows these enterprises: only its profiles
    create enterprises; other sources' records naming an unknown code are held for review."""
    ingest_records(
        session,
        SYSTEM,
        "registry",
        [profile(c, f"测试企业{c[-4:]}有限公司", f"reg-{c}") for c in codes],
        evaluate=False,
    )


def test_loading_the_same_feed_twice_changes_nothing(session):
    records = [
        profile(
            A,
            "华鑫科技（上海）有限公司",
            "p-a",
            registered_capital="50000000.00",
            status="in_business",
        ),
        event("c-1", A, "lawsuit_defendant", 20, data={"amount": "800000.00"}),
        event("c-2", A, "enforcement", 10),
        event("c-3", B, "dishonest_debtor", 5, name="泰达贸易有限公司"),
    ]
    first = ingest_records(session, SYSTEM, "court", records, create_unknown=True)
    session.commit()
    assert (first.received, first.accepted, first.duplicates, len(first.rejected)) == (4, 4, 0, 0)
    assert first.enterprises_created == 2  # an explicit create_unknown load
    assert first.signals["raised"] >= 2  # enforcement (strong), dishonest debtor (hard)
    before = {m: count(session, m) for m in (Enterprise, RiskEvent, RiskSignal, SourceFact)}
    second = ingest_records(session, SYSTEM, "court", records)
    session.commit()
    assert (second.accepted, second.duplicates, second.updated) == (0, 4, 0)
    assert second.signals.get("raised", 0) == 0
    assert {m: count(session, m) for m in before} == before
    assert count(session, FeedRun) == 2


def test_a_corrected_record_updates_its_event(lite):
    known(lite, A)
    ingest_records(
        lite, SYSTEM, "court", [event("c-1", A, "lawsuit_defendant", 20, data={"amount": "1.00"})]
    )
    report = ingest_records(
        lite, SYSTEM, "court", [event("c-1", A, "lawsuit_defendant", 20, data={"amount": "2.00"})]
    )
    lite.commit()
    assert (report.accepted, report.updated) == (0, 1)
    stored = lite.scalar(select(RiskEvent).where(RiskEvent.external_id == "c-1"))
    assert stored.revision == 2 and stored.data == {"amount": "2.00"}
    # the same id from another source is another event
    other = ingest_records(lite, SYSTEM, "regulator", [event("c-1", A, "administrative_penalty")])
    assert other.accepted == 1


def test_malformed_records_are_rejected_with_reasons_while_the_rest_loads(session):
    known(session, A)
    records = [
        event("ok-1", A, "news", 1, data={"sentiment": -0.9}, title="资金链紧张"),
        {
            "record_id": "bad-1",
            "kind": "news",
            "credit_code": "914403001922038217",
            "time": "2025-01-01",
        },
        "not even an object",
        event("bad-2", A, "news", 1, data={"sentiment": "very bad"}),
        event("ok-2", A, "news", 2, data={"sentiment": 0.3}),
        event("ok-2", A, "news", 3, data={"sentiment": 0.1}),  # same id, other content
        {
            **event("bad-3", A, "news", 1, data={"sentiment": 0.1}),
            "credit_code": None,
            "name": "无名公司",
        },
    ]
    report = ingest_records(session, SYSTEM, "news", records)
    session.commit()
    assert report.accepted == 2
    reasons = {(r.index, r.reason) for r in report.rejected}
    assert reasons == {
        (1, "invalid_credit_code"),
        (2, "not_an_object"),
        (3, "invalid_data"),
        (5, "duplicate_record_id"),
    }
    # a name matching nobody is held for review, not only rejected
    assert [(q.index, q.reason) for q in report.queued] == [(6, "unresolved_enterprise")]
    run = session.get(FeedRun, report.feed_run_id)
    assert run.rejected == 4 and len(run.rejections["items"]) == 4
    assert run.rejections["queued"] == 1
    assert all(item["message"] for item in run.rejections["items"])


def test_entity_resolution_across_spellings(session):
    ingest_records(session, SYSTEM, "registry", [profile(A, "华鑫科技（上海）有限公司", "p-a")])
    # the rating agency spells it with half-width brackets, and gives the code
    ingest_records(
        session,
        SYSTEM,
        "rating_agency",
        [profile(A, "Huaxin Tech (Shanghai) Co., Ltd.", "r-a", registered_capital="5000000.00")],
    )
    # news carry only a name, in either spelling
    records = [
        {
            **event("n-1", A, "news", data={"sentiment": -0.5}),
            "credit_code": None,
            "name": "华鑫科技(上海)有限公司 ",
        },
        {
            **event("n-2", A, "news", data={"sentiment": -0.5}),
            "credit_code": None,
            "name": "HUAXIN TECH (SHANGHAI) CO LTD",
        },
    ]
    report = ingest_records(session, SYSTEM, "news", records)
    session.commit()
    assert report.accepted == 2 and not report.rejected
    ent = session.scalar(select(Enterprise).where(Enterprise.credit_code == A))
    assert (
        session.scalar(select(func.count(RiskEvent.id)).where(RiskEvent.enterprise_id == ent.id))
        == 2
    )
    assert session.scalar(select(func.count(EnterpriseAlias.id))) == 1
    assert count(session, Enterprise) == 1


def test_registry_is_master_and_sources_that_disagree_are_shown(lite):
    ingest_records(
        lite,
        SYSTEM,
        "registry",
        [
            profile(
                A,
                "华鑫科技有限公司",
                "p-a",
                registered_capital="50000000.00",
                industry="technology",
            )
        ],
    )
    ingest_records(
        lite,
        SYSTEM,
        "rating_agency",
        [
            profile(
                A, "华鑫科技有限公司", "r-a", registered_capital="5000000.00", industry="Technology"
            )
        ],
    )
    lite.commit()
    ent = lite.scalar(select(Enterprise).where(Enterprise.credit_code == A))
    assert str(ent.registered_capital) == "50000000.00"  # the registry wins
    diffs = {d["attribute"]: d for d in source_differences(lite, ent.id)}
    assert set(diffs) == {"registered_capital"}  # names and case-only differences are the same
    assert {v["source"]: v["value"] for v in diffs["registered_capital"]["values"]} == {
        "rating_agency": "5000000.00",
        "registry": "50000000.00",
    }


def test_a_capital_change_event_updates_the_master_and_its_fact(lite):
    ingest_records(
        lite,
        SYSTEM,
        "registry",
        [profile(A, "华鑫科技有限公司", "p-a", registered_capital="50000000.00")],
    )
    ingest_records(
        lite,
        SYSTEM,
        "registry",
        [event("cap-1", A, "capital_change", 3, data={"old": "50000000.00", "new": "20000000.00"})],
    )
    lite.commit()
    ent = lite.scalar(select(Enterprise).where(Enterprise.credit_code == A))
    assert str(ent.registered_capital) == "20000000.00"
    fact = lite.scalar(select(SourceFact).where(SourceFact.attribute == "registered_capital"))
    assert fact.value == "20000000.00"


def test_edges_are_upserted(session):
    edges = [
        {
            "record_id": "e1",
            "type": "edge",
            "kind": "guarantee",
            "from": {"credit_code": A},
            "to": {"credit_code": B},
            "amount": "3000000.00",
            "time": "2024-01-01",
        },
        {
            "record_id": "e2",
            "type": "edge",
            "kind": "equity",
            "from": {"person_key": "P1", "name": "王伟"},
            "to": {"credit_code": A},
            "share": 0.7,
            "time": "2024-01-01",
        },
    ]
    known(session, A, B)
    first = ingest_records(session, SYSTEM, "registry", edges)
    again = ingest_records(session, SYSTEM, "registry", edges)
    changed = ingest_records(session, SYSTEM, "registry", [{**edges[0], "amount": "4000000.00"}])
    session.commit()
    assert (first.accepted, again.duplicates, changed.updated) == (2, 2, 1)
    assert count(session, RiskEdge) == 2 and count(session, Person) == 1
    guarantee = session.scalar(select(RiskEdge).where(RiskEdge.kind == "guarantee"))
    assert str(guarantee.amount) == "4000000.00"


def test_file_and_http_adapters_load_idempotently(lite, tmp_path):
    known(lite, A)
    path = tmp_path / "court.jsonl"
    lines = [json.dumps(event(f"f-{i}", A, "lawsuit_defendant", i + 1)) for i in range(3)]
    path.write_text("\n".join([*lines[:2], "{oops", lines[2]]) + "\n", encoding="utf-8")
    reports = load_feed(lite, SYSTEM, FileFeedAdapter(path, "court"))
    assert len(reports) == 1 and reports[0].accepted == 3
    assert [(r.reason, r.line) for r in reports[0].rejected] == [("malformed_json", 3)]
    assert load_feed(lite, SYSTEM, FileFeedAdapter(path, "court")) == []  # same checksum

    pages = {
        "https://feed/news": {
            "records": [event("h-1", A, "news", data={"sentiment": 0.2})],
            "next_cursor": "c1",
        },
        "https://feed/news?since=c1": {
            "records": [event("h-2", A, "news", data={"sentiment": 0.1})],
            "next_cursor": None,
        },
        "https://feed/news?since=c1&x": None,
    }
    calls = []

    def fetch(url):
        calls.append(url)
        return pages.get(url, {"records": [], "next_cursor": None})

    reports = load_feed(lite, SYSTEM, HttpFeedAdapter("https://feed/news", "news", fetch=fetch))
    assert [r.accepted for r in reports] == [1, 1]
    lite.commit()
    calls.clear()
    load_feed(lite, SYSTEM, HttpFeedAdapter("https://feed/news", "news", fetch=fetch))
    assert calls == ["https://feed/news?since=c1"]  # resumed from the stored cursor


def test_ingestion_routes_new_signals_after_commit_only(lite):
    known(lite, A)
    lite.commit()
    live = recording_emitter()
    ingest_records(lite, SYSTEM, "court", [event("d-1", A, "dishonest_debtor")], live=live)
    assert live.sent == []
    lite.rollback()
    assert live.sent == []  # rolled back: nobody hears of it
    ingest_records(lite, SYSTEM, "court", [event("d-1", A, "dishonest_debtor")], live=live)
    lite.commit()
    assert [(e, d["rule_id"], d["level"]) for e, d, _rooms in live.sent] == [
        ("risk.signal", "JUD-DISHONEST", "hard")
    ]
    assert live.sent[0][2] == ["role:approver"]  # no RM assigned yet: approvers only


def test_future_time_and_time_zone_in_report(lite):
    future = event("t-1", A, "news", -3, data={"sentiment": 0.1})
    report = ingest_records(
        lite, SYSTEM, "news", [future], now=datetime.now(UTC) - timedelta(days=1)
    )
    assert [r.reason for r in report.rejected] == ["future_time"]
