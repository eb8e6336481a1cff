"""Over HTTP (SQLite and PostgreSQL): the review queue of records naming unknown enterprises
(list, resolve to a known or a new enterprise, reject), an enterprise's aliases (list, delete),
who may do what (approver and admin; an RM and other roles 403), the audit records; and the
feed endpoint's documented 5,000 records per request."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from backend.platform.audit import AuditRecord
from backend.risk.models import Enterprise, RiskEvent
from tests.integration.test_risk_support import Client, code, event

A, C, D, E = code(201), code(203), code(204), code(205)


@pytest.fixture
def api(make_app, db_url):
    return Client(make_app(db_url))


def profile(credit_code: str, name: str) -> dict:
    return {
        "record_id": f"reg-{credit_code}",
        "type": "profile",
        "credit_code": credit_code,
        "name": name,
        "time": "2024-01-01",
        "data": {"registered_capital": "10000000.00"},
    }


def test_the_review_queue_over_http(api):
    api.ok(api.post("admin", "/feeds/registry", {"records": [profile(A, "华鑫科技有限公司")]}))
    nameless = {**event("c-3", A, "news", 1, data={"sentiment": -0.4}), "credit_code": None}
    nameless["name"] = "华鑫科技集团"
    held = api.ok(
        api.post(
            "admin",
            "/feeds/court",
            {
                "records": [
                    event("c-1", C, "enforcement", 3, name="新星实业有限公司"),
                    event("c-2", C, "lawsuit_defendant", 2, name="新星实业有限公司"),
                    nameless,
                ]
            },
        )
    )
    assert (held["accepted"], held["queued"], held["enterprises_created"]) == (0, 3, 0)
    assert [q["reason"] for q in held["queued_items"]] == [
        "unknown_credit_code",
        "unknown_credit_code",
        "unresolved_enterprise",
    ]
    assert api.get("rm1", "/resolution").status_code == 403
    assert api.get("dealer1", "/resolution").status_code == 403
    pending = api.ok(api.get("approver1", "/resolution?status=pending"))["items"]
    assert [i["record_id"] for i in pending] == ["c-1", "c-2", "c-3"]
    first, _second, by_name = pending
    assert first["record"]["kind"] == "enforcement" and first["credit_code"] == C

    assert (
        api.post("rm1", f"/resolution/{first['id']}/resolve", {"create": True}).status_code == 403
    )
    both = api.post(
        "approver1", f"/resolution/{first['id']}/resolve", {"create": True, "enterprise_id": 1}
    )
    assert both.status_code == 400 and both.get_json()["error"]["code"] == "invalid_resolution"
    created = api.ok(api.post("approver1", f"/resolution/{first['id']}/resolve", {"create": True}))
    assert created["created"] and created["resolved_items"] == 2  # c-1 and c-2 (the same code)
    assert created["loaded"]["accepted"] == 2
    again = api.post("approver1", f"/resolution/{first['id']}/resolve", {"create": True})
    assert (
        again.status_code == 409 and again.get_json()["error"]["code"] == "resolution_item_closed"
    )

    ent_a = api.ok(api.get("admin", f"/enterprises?q={A}"))["items"][0]
    named = api.ok(
        api.post("admin", f"/resolution/{by_name['id']}/resolve", {"enterprise_id": ent_a["id"]})
    )
    assert named["loaded"]["accepted"] == 1 and not named["created"]
    aliases = api.ok(api.get("approver1", f"/enterprises/{ent_a['id']}/aliases"))["items"]
    assert [a["name"] for a in aliases] == ["华鑫科技集团"]  # the resolved name is remembered
    assert api.get("approver1", "/resolution").get_json()["items"] == []

    # an unknown code resolved to a firm that has another code: later records follow
    api.ok(
        api.post("admin", "/feeds/court", {"records": [event("c-5", E, "lawsuit_defendant", 2)]})
    )
    item = api.ok(api.get("approver1", "/resolution"))["items"][0]
    api.ok(
        api.post("approver1", f"/resolution/{item['id']}/resolve", {"enterprise_id": ent_a["id"]})
    )
    later = api.ok(
        api.post("admin", "/feeds/court", {"records": [event("c-6", E, "tax_arrears", 1)]})
    )
    assert (later["accepted"], later["queued"]) == (1, 0)

    # reject: a comment is required; the same record sent again stays out
    bad = event("c-4", D, "enforcement", 1)
    api.ok(api.post("admin", "/feeds/court", {"records": [bad]}))
    item = api.ok(api.get("approver1", "/resolution"))["items"][0]
    assert api.post("approver1", f"/resolution/{item['id']}/reject", {}).status_code == 400
    rejected = api.ok(
        api.post("approver1", f"/resolution/{item['id']}/reject", {"comment": "not our client"})
    )
    assert rejected["status"] == "rejected" and rejected["decided_by"] == "approver1"
    resent = api.ok(api.post("admin", "/feeds/court", {"records": [bad]}))
    assert [r["reason"] for r in resent["rejections"]] == ["resolution_rejected"]

    # aliases: readers list, approvers and admins delete (audited); an RM may not
    alias_id = aliases[0]["id"]
    path = f"/enterprises/{ent_a['id']}/aliases/{alias_id}"
    assert api.client.delete(f"/api/v1/risk{path}", headers=api.headers("rm1")).status_code == 403
    gone = api.client.delete(f"/api/v1/risk{path}", headers=api.headers("approver1"))
    assert gone.status_code == 200 and gone.get_json()["name"] == "华鑫科技集团"
    assert api.client.delete(f"/api/v1/risk{path}", headers=api.headers("admin")).status_code == 404
    left = api.ok(api.get("approver1", f"/enterprises/{ent_a['id']}/aliases"))["items"]
    assert "华鑫科技集团" not in {a["name"] for a in left}
    with api.session() as s:
        actions = set(s.scalars(select(AuditRecord.action)))
        assert {
            "risk.resolution_resolved",
            "risk.resolution_rejected",
            "risk.alias_deleted",
        } <= actions
        new = s.scalar(select(Enterprise).where(Enterprise.credit_code == C))
        assert new.name == "新星实业有限公司"
        events = set(
            s.scalars(select(RiskEvent.external_id).where(RiskEvent.enterprise_id == new.id))
        )
        assert events == {"c-1", "c-2"}


def test_the_feed_endpoint_takes_the_documented_5000_records(make_app, sqlite_url):
    api = Client(make_app(sqlite_url))
    api.ok(api.post("admin", "/feeds/registry", {"records": [profile(A, "上海华鑫科技有限公司")]}))
    records = [
        {  # the documented example record (docs/risk.md, "Feed format")
            "record_id": f"CT-2025-{i:05d}",
            "type": "event",
            "credit_code": A,
            "name": "上海华鑫科技有限公司",
            "kind": "news",
            "time": "2025-03-01T08:00:00Z",
            "severity": "low",
            "title": "买卖合同纠纷",
            "data": {"sentiment": 0.1},
        }
        for i in range(5001)
    ]
    body = {"records": records[:5000]}
    assert len(json.dumps(body).encode()) > 1024 * 1024  # over the app-wide limit
    report = api.ok(api.post("admin", "/feeds/court", body))
    assert (report["received"], report["accepted"]) == (5000, 5000)
    too_many = api.post("admin", "/feeds/court", {"records": records})
    assert too_many.status_code == 400
    error = too_many.get_json()["error"]
    assert error["code"] and error["message"] and "records" in error["details"]
