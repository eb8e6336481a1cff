"""Inventory audits and alerts: present, mismatch, extra and missing cars; out-of-trust
detection (hard alert, risk event, Socket.IO ``vehicle.alert`` to the right rooms only, after
commit); de-duplication; risk-based scheduling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.floorplan.models import InventoryAudit, Vehicle, Warehouse
from backend.floorplan.service import audits, raise_alert
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM
from tests.integration import test_floorplan_support as support
from tests.integration.test_floorplan_support import (
    Api,
    assert_books_balance,
    deposit,
    financed_cars,
    new_vin,
)
from tests.wiring import recording_emitter

api = support.api  # fixtures
risk_calls = support.risk_calls


def _yard(api: Api, dealer_code: str) -> int:
    with api.session() as s:
        return s.scalar(
            select(Warehouse.id).where(Warehouse.dealer_org_id == api.org_id(dealer_code))
        )


def _socket(api: Api, user: str):
    token = api.headers(user)["Authorization"].split()[1]
    client = api.app.extensions["finedge"].socketio.test_client(
        api.app, namespace="/live", auth={"token": token}
    )
    assert client.is_connected("/live")
    return client


def _alerts(client) -> list[dict]:
    return [e["args"][0] for e in client.get_received("/live") if e["name"] == "vehicle.alert"]


def test_audit_finds_present_mismatched_extra_and_missing_cars(api: Api, risk_calls):
    deposit(api, "DEALER2", "500000.00")
    _, vins = financed_cars(api, "dealer2", ["100000.00", "110000.00", "120000.00"])
    sockets = {u: _socket(api, u) for u in ("dealer1", "dealer2", "oem1", "rm1", "supervisor1")}
    opened = api.ok(
        api.post(
            "supervisor1", "/audits", {"warehouse_id": _yard(api, "DEALER2"), "sample_ratio": "1"}
        ),
        201,
    )
    assert opened["status"] == "open" and opened["sample_ratio"] == "1.0000"
    expected = {c["vin"] for c in opened["checks"]}
    assert set(vins) <= expected
    again = api.post("supervisor1", "/audits", {"warehouse_id": _yard(api, "DEALER2")})
    assert again.status_code == 409
    assert (
        api.post("dealer2", f"/audits/{opened['id']}/checks", {"vin": vins[0]}).status_code == 403
    )

    with api.session() as s:
        certs = dict(s.execute(select(Vehicle.vin, Vehicle.certificate_no)).all())
    for vin in sorted(expected - {vins[2], vins[1]}):
        check = api.ok(
            api.post(
                "supervisor1",
                f"/audits/{opened['id']}/checks",
                {
                    "vin": vin,
                    "certificate_no": certs[vin],
                    "location": "row B",
                    "photo_ref": f"oss://audit/{vin}.jpg",
                    "checked_at": utcnow().isoformat(),
                },
            ),
            201,
        )
        assert check["result"] == "present" and check["photo_ref"].endswith(".jpg")
    twice = api.post("supervisor1", f"/audits/{opened['id']}/checks", {"vin": vins[0]})
    assert twice.status_code == 409
    wrong = api.ok(
        api.post(
            "supervisor1",
            f"/audits/{opened['id']}/checks",
            {"vin": vins[1], "certificate_no": "FORGED-1"},
        ),
        201,
    )
    assert wrong["result"] == "mismatch"
    stranger = api.ok(
        api.post("supervisor1", f"/audits/{opened['id']}/checks", {"vin": new_vin()}), 201
    )
    assert stranger["result"] == "extra" and not stranger["expected"]
    for client in sockets.values():
        client.get_received("/live")  # the HTTP requests above committed: drain

    closed = api.ok(api.post("supervisor1", f"/audits/{opened['id']}/close"))
    assert closed["status"] == "closed" and closed["missing_count"] == 1
    assert closed["mismatch_count"] == 1 and closed["extra_count"] == 1
    assert api.ok(api.get("dealer2", f"/vehicles/{vins[2]}"))["status"] == "out_of_trust"
    hard = api.ok(api.get("dealer2", "/alerts?severity=hard"))["items"]
    assert [(a["kind"], a["vin"]) for a in hard] == [("out_of_trust", vins[2])]
    kinds = {a["kind"]: a["severity"] for a in api.ok(api.get("rm1", "/alerts"))["items"]}
    assert kinds["audit_mismatch"] == "strong" and kinds["audit_extra"] == "medium"
    events = [c[1] for c in risk_calls if c[0] == "event"]
    assert [(e["kind"], e["severity"]) for e in events] == [("vehicle_out_of_trust", "critical")]
    assert events[0]["org_id"] == api.org_id("DEALER2")

    pushed = {user: _alerts(client) for user, client in sockets.items()}
    for user in ("dealer2", "oem1", "rm1", "supervisor1"):
        assert [(a["kind"], a["vin"], a["severity"]) for a in pushed[user]] == [
            ("out_of_trust", vins[2], "hard")
        ], user
    assert pushed["dealer1"] == []
    # a check after closing is refused
    late = api.post("supervisor1", f"/audits/{opened['id']}/checks", {"vin": vins[0]})
    assert late.status_code == 409
    detail = api.ok(api.get("dealer2", f"/audits/{opened['id']}"))
    assert {c["result"] for c in detail["checks"]} == {"present", "mismatch", "extra", "missing"}
    assert api.get("dealer1", f"/audits/{opened['id']}").status_code == 404
    assert_books_balance(api)


def test_missing_car_found_again_and_foreign_car_in_yard(api: Api, risk_calls):
    deposit(api, "DEALER1", "500000.00")
    _, mine = financed_cars(api, "dealer1", ["100000.00"])
    _, theirs = financed_cars(api, "dealer2", ["100000.00"])
    first = api.ok(
        api.post(
            "supervisor1", "/audits", {"warehouse_id": _yard(api, "DEALER1"), "sample_ratio": "1"}
        ),
        201,
    )
    api.ok(api.post("supervisor1", f"/audits/{first['id']}/close"))
    assert api.ok(api.get("dealer1", f"/vehicles/{mine[0]}"))["status"] == "out_of_trust"
    second = api.ok(
        api.post(
            "supervisor1", "/audits", {"warehouse_id": _yard(api, "DEALER1"), "sample_ratio": "0.1"}
        ),
        201,
    )
    found = api.ok(api.post("supervisor1", f"/audits/{second['id']}/checks", {"vin": mine[0]}), 201)
    assert found["result"] == "present"
    assert api.ok(api.get("dealer1", f"/vehicles/{mine[0]}"))["status"] == "in_stock"
    foreign = api.ok(
        api.post("supervisor1", f"/audits/{second['id']}/checks", {"vin": theirs[0]}), 201
    )
    assert foreign["result"] == "mismatch"
    # the alert belongs to the car's own dealer, not to the audited yard's
    assert [
        a["vin"] for a in api.ok(api.get("dealer2", "/alerts?kind=audit_mismatch"))["items"]
    ] == [theirs[0]]
    assert api.ok(api.get("dealer1", "/alerts?kind=audit_mismatch"))["items"] == []


def test_scheduler_audits_riskier_dealers_first_and_fully(api: Api, risk_calls):
    deposit(api, "DEALER1", "300000.00")
    financed_cars(api, "dealer1", ["100000.00"])
    now = utcnow()
    with api.session() as s:
        result = audits.schedule_audits(s, SYSTEM, now=now)
        s.commit()
    assert result["opened"] == 2  # both demo yards have cars in stock
    with api.session() as s:
        assert audits.schedule_audits(s, SYSTEM, now=now)["opened"] == 0  # still open
        tiers = dict(
            s.execute(select(InventoryAudit.dealer_org_id, InventoryAudit.risk_tier)).all()
        )
    assert set(tiers.values()) <= {"low", "medium", "high"}
    # close them; a dealer with an out-of-trust car becomes high risk: weekly, every car
    for audit_id in result["audit_ids"]:
        record = api.ok(api.get("supervisor1", f"/audits/{audit_id}"))
        checks = record["checks"]
        if record["dealer_id"] == api.org_id("DEALER1"):
            checks = checks[1:]  # one car is not there
        for check in checks:
            api.ok(
                api.post("supervisor1", f"/audits/{audit_id}/checks", {"vin": check["vin"]}), 201
            )
        api.ok(api.post("supervisor1", f"/audits/{audit_id}/close"))
    with api.session() as s:
        assert audits.schedule_audits(s, SYSTEM, now=now + timedelta(days=6))["opened"] == 0
        later = audits.schedule_audits(s, SYSTEM, now=now + timedelta(days=8))
        s.commit()
    assert later["opened"] == 1
    record = api.ok(api.get("rm1", f"/audits/{later['audit_ids'][0]}"))
    assert record["dealer_id"] == api.org_id("DEALER1")
    assert record["risk_tier"] == "high" and record["sample_ratio"] == "1.0000"


def test_alert_pushes_only_after_commit_and_are_deduplicated(api: Api):
    live = recording_emitter()  # the declared renderers: the push is the HTTP schema's
    dealer = api.org_id("DEALER1")
    kw = {
        "kind": "test",
        "dealer_org_id": dealer,
        "message": "m",
        "dedup_key": "test:1",
    }
    with api.session() as s:
        raise_alert(s, SYSTEM, live, severity="weak", **kw)
        s.rollback()
    assert live.sent == []
    with api.session() as s:
        with pytest.raises(RuntimeError), s.begin_nested():
            raise_alert(s, SYSTEM, live, severity="weak", **{**kw, "dedup_key": "test:inner"})
            raise RuntimeError("savepoint rolled back")
        _, created = raise_alert(s, SYSTEM, live, severity="weak", **kw)
        assert created and live.sent == []
        s.commit()
    assert [e[1]["kind"] for e in live.sent] == ["test"]
    assert live.sent[0][2] == [f"org:{dealer}", "role:admin", "role:rm", "role:approver"]
    with api.session() as s:
        _, created = raise_alert(s, SYSTEM, live, severity="weak", **kw)  # repeat: counted
        assert not created
        _, created = raise_alert(s, SYSTEM, live, severity="strong", **kw)  # escalation: pushed
        s.commit()
    assert [e[1]["severity"] for e in live.sent] == ["weak", "strong"]
    assert live.sent[-1][1]["occurrences"] == 3


def test_supervisor_reports_a_car_gone_and_jobs_push_through_the_app(api: Api, risk_calls):
    from backend.platform.wiring import live_of

    with api.app.extensions["finedge"].session_factory() as session:
        assert live_of(session) is api.app.extensions["finedge"].live
    deposit(api, "DEALER2", "300000.00")
    _, vins = financed_cars(api, "dealer2", ["100000.00"])
    assert api.post("dealer2", f"/vehicles/{vins[0]}/report-missing").status_code == 403
    gone = api.ok(
        api.post("supervisor1", f"/vehicles/{vins[0]}/report-missing", {"note": "gate camera"})
    )
    assert gone["status"] == "out_of_trust"
    again = api.post("supervisor1", f"/vehicles/{vins[0]}/report-missing")
    assert again.status_code == 422
    alert = api.ok(api.get("oem1", f"/alerts?vin={vins[0]}"))["items"][0]
    assert alert["severity"] == "hard" and "gate camera" in alert["message"]
    assert [c[1]["kind"] for c in risk_calls if c[0] == "event"] == ["vehicle_out_of_trust"]
    assert_books_balance(api)
