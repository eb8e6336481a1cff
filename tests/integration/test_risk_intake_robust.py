"""Ingestion as vendor files really are (issue 15), on SQLite and PostgreSQL where the database
matters: one failing file never stops the others (a savepoint per file, a failed feed run, the
file quarantined with its reason, not failing again); the same edge twice in one file merges
(the later record wins); GBK/GB18030 files are read; an unknown credit code or a name matching
nobody is held for review instead of creating a phantom enterprise; a wrong alias can be
removed; a released guarantee ends and contagion stops there."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.platform.context import SYSTEM
from backend.platform.db import make_engine
from backend.platform.jobs import run_job
from backend.risk.graph.store import load_graph
from backend.risk.intake import ingest as ingest_module
from backend.risk.intake.adapters import FileFeedAdapter
from backend.risk.intake.ingest import ingest_records, load_feed
from backend.risk.jobs import JOBS
from backend.risk.models import (
    Enterprise,
    EnterpriseAlias,
    FeedRun,
    ResolutionItem,
    RiskEdge,
    RiskEvent,
    RiskSignal,
)
from backend.risk.monitoring.scan import full_scan
from tests.integration.test_risk_support import code, event
from tests.wiring import wired_factory

A, B, C = code(101), code(102), code(103)


@pytest.fixture
def lite(sqlite_url):
    engine = make_engine(sqlite_url)
    with wired_factory(engine)() as session:
        yield session
    engine.dispose()


def profile(credit_code: str, name: str, record_id: str | None = None) -> dict:
    return {
        "record_id": record_id or f"reg-{credit_code}",
        "type": "profile",
        "credit_code": credit_code,
        "name": name,
        "time": "2024-01-01",
        "data": {"registered_capital": "10000000.00"},
    }


def guarantee(record_id: str, src: str, dst: str, amount: str | None, time: str, **kw) -> dict:
    record = {
        "record_id": record_id,
        "type": "edge",
        "kind": "guarantee",
        "from": {"credit_code": src},
        "to": {"credit_code": dst},
        "time": time,
        **kw,
    }
    if amount is not None:
        record["amount"] = amount
    return record


def jsonl(*records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def count(session, model, *where) -> int:
    return session.scalar(select(func.count(model.id)).where(*where))


# --- one bad file never stops the others --------------------------------------------------


def test_a_file_that_crashes_is_quarantined_and_the_other_feeds_are_kept(
    session_factory, tmp_path, monkeypatch
):
    """Reproduces the daily job of the issue: an IntegrityError while loading one registry file
    rolled back every feed of the run (the court's enforcement record was lost) and failed
    again every day while the file stayed.  Now only that file is rolled back."""
    registry, court, jail = tmp_path / "registry", tmp_path / "court", tmp_path / "jail"
    registry.mkdir()
    court.mkdir()
    (registry / "a_profiles.jsonl").write_text(
        jsonl(profile(A, "华鑫科技有限公司"), profile(B, "泰达贸易有限公司")), encoding="utf-8"
    )
    (registry / "b_edges.jsonl").write_text(
        jsonl(guarantee("g-1", A, B, "3000000.00", "2024-02-01")), encoding="utf-8"
    )
    (court / "court.jsonl").write_text(
        jsonl(event("ct-1", A, "enforcement", 2, data={"amount": "900000.00"})), encoding="utf-8"
    )
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "feeds:\n"
        f"  - {{source: registry, adapter: file, path: '{registry}', schedule: daily,"
        f" quarantine: '{jail}'}}\n"
        f"  - {{source: court, adapter: file, path: '{court}', schedule: daily}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FINEDGE_RISK_FEEDS", str(config))

    def crash(*_args, **_kwargs):
        raise IntegrityError("INSERT INTO risk_edges", {}, Exception("UNIQUE constraint failed"))

    monkeypatch.setattr(ingest_module, "ingest_edge", crash)
    run = run_job(session_factory, "risk.refresh_daily", jobs=JOBS)
    assert run.outcome == "ok", run.error
    assert [q["feed_run_id"] is not None for q in run.result["quarantined"]] == [True]
    with session_factory() as s:
        assert count(s, RiskEvent, RiskEvent.external_id == "ct-1") == 1  # the court kept
        assert count(s, Enterprise) == 2  # the registry's good file kept
        assert count(s, RiskEdge) == 0  # the failed file rolled back alone
        failed = s.scalar(select(FeedRun).where(FeedRun.status == "failed"))
        assert failed.error.startswith("load_error: IntegrityError")
        assert failed.quarantined_to == str(jail / "b_edges.jsonl")
    assert not (registry / "b_edges.jsonl").exists()
    reason = (jail / "b_edges.jsonl.reason.txt").read_text(encoding="utf-8")
    assert "reason: load_error" in reason and "IntegrityError" in reason
    again = run_job(session_factory, "risk.refresh_daily", jobs=JOBS)  # does not fail again
    assert again.outcome == "ok" and again.result["quarantined"] == []
    assert [f["batches"] for f in again.result["loaded"]] == [0, 0]


def test_each_bad_file_kind_is_quarantined_with_its_reason(lite, tmp_path):
    ingest_records(lite, SYSTEM, "registry", [profile(A, "华鑫科技有限公司")], evaluate=False)
    folder = tmp_path / "court"
    folder.mkdir()
    (folder / "1_good.jsonl").write_text(
        jsonl(event("ok-1", A, "lawsuit_defendant", 3)), encoding="utf-8"
    )
    (folder / "2_binary.jsonl").write_bytes(b"\xff\xfe\x80\x81 not text at all \xff")
    (folder / "3_truncated.json").write_text('[{"record_id": "x"', encoding="utf-8")
    (folder / "4_object.json").write_text('{"rows": []}', encoding="utf-8")
    (folder / "5_header.csv").write_text("id,when\n1,2024-01-01\n", encoding="utf-8")
    reports = load_feed(lite, SYSTEM, FileFeedAdapter(folder, "court"))
    lite.commit()
    assert [(r.status, (r.error or "").split(":")[0]) for r in reports] == [
        ("ok", ""),
        ("failed", "undecodable"),
        ("failed", "invalid_format"),
        ("failed", "invalid_format"),
        ("failed", "invalid_format"),
    ]
    quarantine = folder / "quarantine"
    moved = sorted(p.name for p in quarantine.iterdir())
    assert moved == sorted(
        [n for n in ("2_binary.jsonl", "3_truncated.json", "4_object.json", "5_header.csv")]
        + [f"{n}.reason.txt" for n in ("2_binary.jsonl", "3_truncated.json")]
        + [f"{n}.reason.txt" for n in ("4_object.json", "5_header.csv")]
    )
    assert "reason: undecodable" in (quarantine / "2_binary.jsonl.reason.txt").read_text()
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == ["1_good.jsonl"]
    runs = {
        r.location.rsplit("/", 1)[-1]: r
        for r in lite.scalars(select(FeedRun).where(FeedRun.source == "court"))
    }
    assert runs["1_good.jsonl"].status == "ok" and runs["1_good.jsonl"].accepted == 1
    assert runs["2_binary.jsonl"].quarantined_to.endswith("quarantine/2_binary.jsonl")
    assert load_feed(lite, SYSTEM, FileFeedAdapter(folder, "court")) == []  # nothing again


def test_gbk_and_gb18030_files_are_read(lite, tmp_path):
    ingest_records(
        lite,
        SYSTEM,
        "registry",
        [profile(A, "华鑫科技（上海）有限公司"), profile(B, "𠀾鑫贸易有限公司")],
        evaluate=False,
    )
    folder = tmp_path / "news"
    folder.mkdir()
    name_only = {**event("n-1", A, "news", 2, data={"sentiment": -0.6}), "credit_code": None}
    name_only["name"], name_only["title"] = "华鑫科技(上海)有限公司", "资金链紧张"
    (folder / "a_gbk.jsonl").write_bytes(jsonl(name_only).encode("gbk"))
    rare = {**event("n-2", B, "news", 2, data={"sentiment": 0.2}), "title": "𠀾鑫扩产"}
    (folder / "b_gb18030.jsonl").write_bytes(jsonl(rare).encode("gb18030"))  # not in GBK
    header = "record_id,credit_code,name,kind,time,title,data\n"
    row = f'n-3,{A},华鑫科技,news,2024-05-01,传闻,"{{""sentiment"": -0.1}}"\n'
    (folder / "c_gbk.csv").write_bytes((header + row).encode("gbk"))
    (folder / "d_bom.jsonl").write_bytes(
        "\ufeff".encode() + jsonl(event("n-4", A, "news", 1, data={"sentiment": 0})).encode()
    )
    reports = load_feed(lite, SYSTEM, FileFeedAdapter(folder, "news"))
    assert [(r.status, r.accepted, len(r.rejected)) for r in reports] == [("ok", 1, 0)] * 4
    titles = set(lite.scalars(select(RiskEvent.title)))
    assert {"资金链紧张", "𠀾鑫扩产", "传闻"} <= titles


# --- duplicate and amended edges in one file ------------------------------------------------


def test_the_same_edge_twice_in_one_file_merges_the_later_wins(session):
    ingest_records(
        session, SYSTEM, "registry", [profile(A, "甲公司"), profile(B, "乙公司")], evaluate=False
    )
    batch = [
        # the amendment comes first in the file but is later in time: it wins
        guarantee("g-amend", A, B, "4500000.00", "2024-03-01"),
        guarantee("g-orig", A, B, "3000000.00", "2024-01-15"),
        guarantee("g-copy", A, B, "3000000.00", "2024-01-15"),  # the same again: a duplicate
    ]
    report = ingest_records(session, SYSTEM, "bank_guarantees", batch)
    session.commit()
    assert (report.accepted, report.updated, report.duplicates) == (1, 1, 1)
    assert not report.rejected
    edge = session.scalar(select(RiskEdge))
    assert str(edge.amount) == "4500000.00"
    assert edge.source_time == datetime(2024, 1, 15, tzinfo=UTC)  # the relation's start


# --- unknown enterprises go to the review queue ---------------------------------------------


def test_unknown_codes_and_names_are_queued_not_created(session):
    ingest_records(session, SYSTEM, "registry", [profile(A, "华鑫科技有限公司")], evaluate=False)
    records = [
        event("c-1", C, "enforcement", 2, name="幽灵公司"),  # unknown code
        event("c-2", C, "lawsuit_defendant", 1, name="幽灵公司"),
        {
            **event("c-3", A, "news", 1, data={"sentiment": -0.3}),
            "credit_code": None,
            "name": "无名公司",
        },
        guarantee("g-1", A, C, "1000000.00", "2024-01-01"),  # an edge to an unknown code
        event("c-4", A, "lawsuit_defendant", 1),
    ]
    report = ingest_records(session, SYSTEM, "court", records)
    session.commit()
    assert report.accepted == 1 and report.enterprises_created == 0
    assert [(q.record_id, q.reason) for q in report.queued] == [
        ("c-1", "unknown_credit_code"),
        ("c-2", "unknown_credit_code"),
        ("c-3", "unresolved_enterprise"),
        ("g-1", "unknown_credit_code"),
    ]
    assert count(session, Enterprise) == 1 and count(session, RiskEdge) == 0
    assert count(session, ResolutionItem, ResolutionItem.status == "pending") == 4
    run = session.get(FeedRun, report.feed_run_id)
    assert run.rejections["queued"] == 4 and run.rejected == 0
    again = ingest_records(session, SYSTEM, "court", records)  # the same records: same items
    assert len(again.queued) == 4 and count(session, ResolutionItem) == 4
    # the registry is the master of who exists: its profile creates C, and the records held
    # for C load at once (their items close as resolved)
    registered = ingest_records(
        session, SYSTEM, "registry", [profile(C, "幽灵公司")], evaluate=False
    )
    session.commit()
    assert registered.released == 3  # c-1, c-2 and the edge g-1
    assert count(session, ResolutionItem, ResolutionItem.status == "resolved") == 3
    assert count(session, RiskEdge) == 1
    ghost = session.scalar(select(Enterprise).where(Enterprise.credit_code == C))
    assert count(session, RiskEvent, RiskEvent.enterprise_id == ghost.id) == 2
    third = ingest_records(session, SYSTEM, "court", records)
    assert (third.accepted, third.duplicates, len(third.queued)) == (0, 4, 1)  # c-3 still held


# --- relations end ----------------------------------------------------------------------------


def test_a_released_guarantee_ends_and_contagion_stops_there(lite):
    guarantor, borrower = A, B
    ingest_records(
        lite,
        SYSTEM,
        "registry",
        [profile(guarantor, "担保公司"), profile(borrower, "借款公司")],
        evaluate=False,
    )
    ingest_records(
        lite, SYSTEM, "registry", [guarantee("g1", guarantor, borrower, "5000000.00", "2024-01-01")]
    )
    # history (a backfill): known from its time, so a scan as of a past day sees it
    ingest_records(
        lite, SYSTEM, "court", [event("d1", borrower, "dishonest_debtor", 30)], backfill=True
    )
    # amount 0 is still no way to release a guarantee
    zero = ingest_records(
        lite, SYSTEM, "registry", [guarantee("g1-0", guarantor, borrower, "0.00", "2024-06-01")]
    )
    assert [r.reason for r in zero.rejected] == ["invalid_edge"]
    ended_on = datetime.now(UTC) - timedelta(days=10)
    release = guarantee(
        "g1-end", guarantor, borrower, None, "2024-06-01", ended=ended_on.date().isoformat()
    )
    released = ingest_records(lite, SYSTEM, "registry", [release])
    lite.commit()
    assert released.updated == 1
    edge = lite.scalar(select(RiskEdge))
    assert edge.ended_at == datetime.combine(ended_on.date(), datetime.min.time(), UTC)
    assert str(edge.amount) == "5000000.00"  # the release need not repeat it
    # the graph as of a moment: before the end the guarantee is there, after it is not, and
    # before it began neither
    assert len(load_graph(lite, as_of=ended_on - timedelta(days=30)).src) == 1
    assert len(load_graph(lite, as_of=datetime.now(UTC)).src) == 0
    assert len(load_graph(lite, as_of=datetime(2023, 12, 1, tzinfo=UTC)).src) == 0
    run = full_scan(lite)
    assert run.report["contagion_findings"] == 0
    assert count(lite, RiskSignal, RiskSignal.origin == "contagion") == 0
    # the same scan as of a day while the guarantee stood does find the contagion
    before = full_scan(lite, now=ended_on - timedelta(days=1))
    assert before.report["contagion_findings"] == 1


def test_a_phantoms_wrong_alias_is_removed_and_the_real_firm_resolves_again(session):
    """The issue's phantom: a vendor sent a real firm's name with another firm's code, so the
    other firm took the name as an alias; once the real firm is registered, its name-only
    records match two enterprises and were rejected, and the alias could not be removed."""
    from backend.platform.errors import PermissionDenied
    from backend.risk.service import delete_alias
    from tests.integration.test_risk_workflow import people

    p = people(session)
    real_name = "鼎盛精密机械有限公司"
    ingest_records(session, SYSTEM, "registry", [profile(C, "某某实业有限公司")], evaluate=False)
    # the news vendor maps the real firm's name to C's code: C takes the name as an alias
    ingest_records(
        session, SYSTEM, "news", [event("n-0", C, "news", 5, name=real_name, data={"sentiment": 0})]
    )
    ingest_records(session, SYSTEM, "registry", [profile(B, real_name)], evaluate=False)
    name_only = {**event("n-1", B, "news", 1, data={"sentiment": -0.7}), "credit_code": None}
    name_only["name"] = real_name
    blocked = ingest_records(session, SYSTEM, "news", [name_only])
    assert [q.reason for q in blocked.queued] == ["ambiguous_name"]
    phantom = session.scalar(select(Enterprise).where(Enterprise.credit_code == C))
    alias = session.scalar(
        select(EnterpriseAlias).where(EnterpriseAlias.enterprise_id == phantom.id)
    )
    assert alias.name == real_name
    with pytest.raises(PermissionDenied):
        delete_alias(session, p["rm1"], phantom.id, alias.id)
    delete_alias(session, p["approver1"], phantom.id, alias.id)
    session.commit()
    loaded = ingest_records(session, SYSTEM, "news", [name_only])
    session.commit()
    real = session.scalar(select(Enterprise).where(Enterprise.credit_code == B))
    assert loaded.accepted == 1 and not loaded.queued
    assert (
        session.scalar(select(RiskEvent.enterprise_id).where(RiskEvent.external_id == "n-1"))
        == real.id
    )
    item = session.scalar(select(ResolutionItem).where(ResolutionItem.record_id == "n-1"))
    assert item.status == "resolved" and item.enterprise_id == real.id
    # the vendor's wrong pairing again does not give the phantom the real firm's name back
    ingest_records(
        session, SYSTEM, "news", [event("n-2", C, "news", 1, name=real_name, data={"sentiment": 0})]
    )
    assert count(session, EnterpriseAlias, EnterpriseAlias.enterprise_id == phantom.id) == 0


def test_an_http_feed_stops_at_its_failed_page_and_resumes_there(lite, monkeypatch):
    from backend.risk.intake.adapters import HttpFeedAdapter

    ingest_records(
        lite, SYSTEM, "registry", [profile(A, "甲公司"), profile(B, "乙公司")], evaluate=False
    )
    pages = {
        "https://feed/g": {
            "records": [event("h-1", A, "news", 1, data={"sentiment": 0.1})],
            "next_cursor": "c1",
        },
        "https://feed/g?since=c1": {
            "records": [guarantee("h-2", A, B, "1000000.00", "2024-01-01")],
            "next_cursor": "c2",
        },
        "https://feed/g?since=c2": {"records": [], "next_cursor": None},
    }
    calls = []

    def fetch(url):
        calls.append(url)
        return pages[url]

    def crash(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest_module, "ingest_edge", crash)
    reports = load_feed(lite, SYSTEM, HttpFeedAdapter("https://feed/g", "guarantees", fetch=fetch))
    assert [(r.status, r.accepted) for r in reports] == [("ok", 1), ("failed", 0)]
    assert reports[1].error == "load_error: RuntimeError: disk full"
    assert calls == ["https://feed/g", "https://feed/g?since=c1"]  # stopped at the failure
    lite.commit()
    monkeypatch.undo()
    calls.clear()
    again = load_feed(lite, SYSTEM, HttpFeedAdapter("https://feed/g", "guarantees", fetch=fetch))
    assert calls[0] == "https://feed/g?since=c1"  # resumed at the failed page
    assert [r.accepted for r in again] == [1, 0]
