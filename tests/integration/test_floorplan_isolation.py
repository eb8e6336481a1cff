"""Dealer isolation on every floor-plan endpoint: another dealer's objects are 404 (never 403,
so their existence does not leak) and never appear in lists; OEMs see the cars they shipped,
supervisors the cars in their yards, bank staff everything."""

from __future__ import annotations

from sqlalchemy import select

from backend.floorplan.models import Alert, Warehouse
from backend.identity import service as identity
from backend.identity.models import Org
from tests.integration import test_floorplan_support as support
from tests.integration.test_floorplan_support import Api, deposit, financed_cars, snapshot

api = support.api  # fixture


def _dealer1_world(api: Api) -> dict:
    deposit(api, "DEALER1", "500000.00")
    bill, vins = financed_cars(api, "dealer1", ["100000.00", "100000.00"])
    audit = api.ok(
        api.post(
            "supervisor1",
            "/audits",
            {"warehouse_id": _yard(api, "DEALER1"), "sample_ratio": "0.1"},
        ),
        201,
    )
    with api.session() as s:
        alert = s.scalar(
            select(Alert.id).where(Alert.dealer_org_id == api.org_id("DEALER1")).limit(1)
        )
    shipment = api.ok(api.get("dealer1", f"/vehicles/{vins[0]}"))["shipment_id"]
    line = api.ok(api.get("dealer1", "/credit-lines"))["items"][0]["id"]
    return {
        "dealer": api.org_id("DEALER1"),
        "bill": bill["id"],
        "vins": vins,
        "audit": audit["id"],
        "alert": alert,
        "shipment": shipment,
        "line": line,
    }


def _yard(api: Api, code: str) -> int:
    with api.session() as s:
        return s.scalar(select(Warehouse.id).where(Warehouse.dealer_org_id == api.org_id(code)))


def test_another_dealers_objects_are_not_found_on_every_endpoint(api: Api):
    w = _dealer1_world(api)
    vin, d = w["vins"][0], w["dealer"]
    assert w["alert"] is not None  # the demo seed's aging alerts
    probes = [
        ("get", f"/vehicles/{vin}", None),
        ("post", f"/vehicles/{vin}/redeem", {"mode": "full"}),
        ("post", f"/vehicles/{vin}/release-before-repay", None),
        ("post", f"/vehicles/{vin}/curtailment/pay", None),
        ("post", "/redemptions", {"vins": [vin], "mode": "full"}),
        ("get", f"/dealers/{d}/summary", None),
        ("post", f"/dealers/{d}/margin/top-up", {"amount": "1.00"}),
        ("post", f"/dealers/{d}/margin/withdraw", {"amount": "1.00"}),
        ("get", f"/bills/{w['bill']}", None),
        ("post", f"/bills/{w['bill']}/repay", None),
        ("get", f"/credit-lines/{w['line']}", None),
        ("get", f"/shipments/{w['shipment']}", None),
        ("post", f"/shipments/{w['shipment']}/arrive", None),
        ("get", f"/audits/{w['audit']}", None),
        ("post", f"/audits/{w['audit']}/checks", {"vin": vin}),
        ("post", f"/audits/{w['audit']}/close", None),
        ("get", f"/alerts/{w['alert']}", None),
        ("post", f"/alerts/{w['alert']}/acknowledge", None),
    ]
    before = snapshot(api)
    for method, path, body in probes:
        r = api.get("dealer2", path) if method == "get" else api.post("dealer2", path, body)
        assert r.status_code == 404, (path, r.status_code, r.get_json())
    assert snapshot(api) == before

    def listed(user: str, path: str) -> list:
        return api.ok(api.get(user, path))["items"]

    assert listed("dealer2", f"/vehicles?dealer_id={d}") == []
    assert vin not in {v["vin"] for v in listed("dealer2", "/vehicles?limit=200")}
    assert w["bill"] not in {b["id"] for b in listed("dealer2", "/bills?limit=200")}
    assert {a["dealer_id"] for a in listed("dealer2", "/alerts?limit=200")} <= {
        api.org_id("DEALER2")
    }
    assert w["shipment"] not in {s["id"] for s in listed("dealer2", "/shipments?limit=200")}
    assert [c["dealer_id"] for c in listed("dealer2", "/credit-lines")] == [api.org_id("DEALER2")]
    assert w["audit"] not in {a["id"] for a in listed("dealer2", "/audits")}
    yards = api.ok(api.get("dealer2", "/warehouses"))["items"]
    assert {y["dealer_id"] for y in yards} == {api.org_id("DEALER2")}


def test_oem_supervisor_and_bank_see_what_they_should(api: Api):
    w = _dealer1_world(api)
    vin = w["vins"][0]
    for user in ("oem1", "supervisor1", "rm1", "approver1", "admin"):
        assert api.get(user, f"/vehicles/{vin}").status_code == 200, user
    assert api.get("oem1", f"/dealers/{w['dealer']}/summary").status_code == 200
    assert api.get("supervisor1", f"/dealers/{w['dealer']}/summary").status_code == 404
    assert api.get("supervisor1", f"/bills/{w['bill']}").status_code == 404
    assert api.get("client1", f"/vehicles/{vin}").status_code == 404
    assert api.ok(api.get("client1", "/vehicles"))["items"] == []
    everyone = {v["dealer_id"] for v in api.ok(api.get("rm1", "/vehicles?limit=200"))["items"]}
    assert {api.org_id("DEALER1"), api.org_id("DEALER2")} <= everyone

    # another supervisor company and another OEM see none of it
    with api.session() as s:
        sup2 = identity.get_or_create_org(s, "SUP2", "Other Yards Co.", "supervisor")
        oem2 = identity.get_or_create_org(s, "OEM2", "Other Motors", "oem")
        admin = identity.actor_for(
            s.scalar(select(identity.User).where(identity.User.username == "admin"))
        )
        for name, org in (("supervisor2", sup2), ("oem2", oem2)):
            identity.create_user(
                s,
                admin,
                username=name,
                password=f"{name}-demo",
                role=org.kind,
                org=s.get(Org, org.id),
            )
        s.commit()
    for user in ("supervisor2", "oem2"):
        assert api.get(user, f"/vehicles/{vin}").status_code == 404, user
        assert api.ok(api.get(user, "/vehicles"))["items"] == [], user
        assert api.get(user, f"/shipments/{w['shipment']}").status_code == 404, user
    assert api.post("supervisor2", f"/vehicles/{vin}/release").status_code == 404
    assert api.post("supervisor2", f"/audits/{w['audit']}/close").status_code == 404


def test_vin_search_and_aging_filter_keep_to_the_callers_cars(api: Api):
    deposit(api, "DEALER1", "300000.00")
    _, vins = financed_cars(api, "dealer1", ["100000.00"])
    tail = vins[0][-6:].lower()
    mine = api.ok(api.get("dealer1", f"/vehicles?vin={tail}"))["items"]
    assert [v["vin"] for v in mine] == [vins[0]]
    assert api.ok(api.get("dealer2", f"/vehicles?vin={tail}"))["items"] == []
    # the demo seed's aged cars (pledged 128 days ago) against the new one (pledged today)
    aged = api.ok(api.get("dealer1", "/vehicles?min_days=90&limit=200"))["items"]
    assert aged and all(v["days_in_stock"] >= 90 or v["status"] != "in_stock" for v in aged)
    assert vins[0] not in {v["vin"] for v in aged}
    assert {v["dealer_id"] for v in aged} == {api.org_id("DEALER1")}
    everything = api.ok(api.get("dealer1", "/vehicles?min_days=0&limit=200"))["items"]
    assert vins[0] in {v["vin"] for v in everything}
    assert api.get("dealer1", "/vehicles?vin=AB%25").status_code == 400
