"""Champion and challenger with maker-checker over HTTP, on the seeded world: a ruleset or a
model is promoted only with a backtest of the current champion on the same dataset beside its
own; the maker cannot check; approval puts it in force (the full scan uses that ruleset);
the old one-step model promotion points to promotions."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from backend.platform.audit import AuditRecord
from backend.risk.models import Backtest, RiskModel, ScanRun
from backend.risk.monitoring.scan import full_scan
from backend.risk.replay.report import summary
from tests.integration import test_risk_support as support
from tests.integration.test_risk_support import Client, add_user

risk_url = support.risk_url  # fixtures
risk_app = support.risk_app

REPORT = {
    "signals": {
        "warned": {"strong": {"share": 0.6, "share_30_days_ahead": 0.5, "lead_days_median": 70}},
        "false_alarms": {"rate": 0.08},
        "precision_by_level": {"hard": {"precision_12m": 0.7}, "strong": {"precision_12m": 0.3}},
        "alerts_per_week_per_1000": 3.1,
        "auc": {"value": 0.8},
    },
    "baseline": {"auc": {"value": 0.6}},
}
REPORT["summary"] = summary(REPORT)


def backtest(session, kind: str, subject: str, dataset: str = "a" * 64) -> int:
    row = Backtest(
        subject_kind=kind,
        subject=subject,
        dataset="deliveries test 2025-01-01..2025-06-30",
        dataset_sha256=dataset,
        period_from=date(2025, 1, 1),
        period_to=date(2025, 6, 30),
        report=REPORT,
        created_at=datetime.now(UTC),
        created_by="system",
    )
    session.add(row)
    session.commit()
    return row.id


def setup(app) -> Client:
    api = Client(app)
    with api.session() as s:
        add_user(s, "approver2", "approver")
        s.commit()
    return api


def test_ruleset_promotion_needs_the_champions_backtest_and_four_eyes(risk_app):
    api = setup(risk_app)
    rulesets = api.ok(api.get("approver1", "/rulesets"))["items"]
    assert [r["version"] for r in rulesets] == ["3", "2", "1"]
    assert rulesets[0]["status"] == "champion" and rulesets[0]["in_force"]
    assert rulesets[1]["status"] == "challenger" and rulesets[0]["rules"] > 0
    first = api.ok(api.get("approver1", "/rulesets?limit=1"))
    assert [r["version"] for r in first["items"]] == ["3"] and first["next_cursor"]
    rest = api.ok(api.get("approver1", f"/rulesets?limit=2&cursor={first['next_cursor']}"))
    assert [r["version"] for r in rest["items"]] == ["2", "1"] and rest["next_cursor"] is None
    assert api.get("rm1", "/rulesets").status_code == 403
    with api.session() as s:
        challenger = backtest(s, "ruleset", "2")
        elsewhere = backtest(s, "ruleset", "3", dataset="b" * 64)
    body = {
        "subject_kind": "ruleset",
        "subject": "2",
        "challenger_backtest_id": challenger,
        "comment": "fewer false alarms",
    }
    refused = api.post("approver1", "/promotions", body)
    assert refused.status_code == 422, refused.get_json()
    error = refused.get_json()["error"]
    assert error["code"] == "champion_backtest_missing"
    assert error["details"]["champion"] == {"subject_kind": "ruleset", "subject": "3"}
    assert elsewhere  # the champion's backtest on another dataset does not count
    with api.session() as s:
        champion = backtest(s, "ruleset", "3")
    assert api.post("rm1", "/promotions", body).status_code == 403
    mismatch = api.post("approver1", "/promotions", {**body, "challenger_backtest_id": champion})
    assert mismatch.get_json()["error"]["code"] == "backtest_subject_mismatch"
    proposed = api.ok(api.post("approver1", "/promotions", body), 201)
    assert proposed["status"] == "pending" and proposed["proposed_by"] == "approver1"
    assert proposed["champion_backtest"]["id"] == champion
    assert proposed["challenger_backtest"]["summary"]["auc"] == 0.8
    again = api.post("approver1", "/promotions", body)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "promotion_pending"
    pending = api.ok(api.get("approver2", "/promotions?status=pending"))["items"]
    assert [p["id"] for p in pending] == [proposed["id"]]
    pid = proposed["id"]
    own = api.post("approver1", f"/promotions/{pid}/approve", {"comment": "ok"})
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "four_eyes_required"
    assert api.post("rm1", f"/promotions/{pid}/approve", {"comment": "ok"}).status_code == 403
    assert api.post("approver2", f"/promotions/{pid}/approve", {}).status_code == 400
    approved = api.ok(api.post("approver2", f"/promotions/{pid}/approve", {"comment": "agreed"}))
    assert approved["status"] == "approved" and approved["decided_by"] == "approver2"
    assert api.post("admin", f"/promotions/{pid}/reject", {"comment": "x"}).status_code == 409
    rulesets = {r["version"]: r for r in api.ok(api.get("approver1", "/rulesets"))["items"]}
    assert rulesets["2"]["status"] == "champion" and rulesets["2"]["promoted_by"] == "approver2"
    assert rulesets["3"]["status"] == "retired" and not rulesets["3"]["in_force"]
    assert rulesets["2"]["latest_backtest"]["id"] == challenger
    with api.session() as s:
        run = full_scan(s, chunk_size=200)
        assert s.get(ScanRun, run.id).ruleset_version == "2"
        actions = set(
            s.scalars(select(AuditRecord.action).where(AuditRecord.action.like("risk.%")))
        )
        assert {
            "risk.promotion_proposed",
            "risk.promotion_approved",
            "risk.ruleset_promoted",
        } <= actions
    listed = api.ok(api.get("approver1", "/backtests?subject_kind=ruleset&subject=2"))["items"]
    assert [b["id"] for b in listed] == [challenger]
    detail = api.ok(api.get("approver1", f"/backtests/{challenger}"))
    assert detail["report"]["baseline"]["auc"]["value"] == 0.6
    assert api.get("rm1", "/backtests").status_code == 403
    assert api.get("approver1", "/backtests/999999").status_code == 404


def test_model_promotion_through_maker_checker(risk_app):
    api = setup(risk_app)
    with api.session() as s:
        models = list(s.scalars(select(RiskModel).order_by(RiskModel.id)))
        champion = next(m for m in models if m.status == "champion")
        challenger = next(m for m in models if m.status == "challenger")
        mine = backtest(s, "model", str(challenger.id))
        theirs = backtest(s, "model", str(champion.id))
    old = api.post("admin", f"/models/{challenger.id}/promote")
    assert old.status_code == 422
    assert old.get_json()["error"]["code"] == "promotion_required"
    assert old.get_json()["error"]["details"]["use"] == "POST /api/v1/risk/promotions"
    body = {
        "subject_kind": "model",
        "subject": f"{challenger.name}:{challenger.version}",
        "challenger_backtest_id": mine,
        "comment": "better out of time",
    }
    proposed = api.ok(api.post("admin", "/promotions", body), 201)
    assert proposed["subject"] == str(challenger.id)
    assert proposed["champion_backtest"]["id"] == theirs
    rejected = api.ok(
        api.post("approver1", f"/promotions/{proposed['id']}/reject", {"comment": "not yet"})
    )
    assert rejected["status"] == "rejected"
    proposed = api.ok(api.post("admin", "/promotions", body), 201)
    api.ok(api.post("approver2", f"/promotions/{proposed['id']}/approve", {"comment": "go"}))
    statuses = {m["id"]: m["status"] for m in api.ok(api.get("admin", "/models"))["items"]}
    assert statuses[challenger.id] == "champion" and statuses[champion.id] == "retired"
    by_name = api.ok(
        api.get("approver1", f"/backtests?subject_kind=model&subject={body['subject']}")
    )["items"]
    assert [b["id"] for b in by_name] == [mine]
    history = api.ok(api.get("approver1", "/promotions"))["items"]
    assert [p["status"] for p in history] == ["approved", "rejected"]
