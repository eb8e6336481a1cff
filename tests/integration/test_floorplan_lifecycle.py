"""The floor-plan lifecycle end to end through HTTP, on SQLite and PostgreSQL: credit line by
maker-checker, bill, shipment, intake, redemption (full, margin, batch), release, release
before repay; the books balance after every scenario."""

from __future__ import annotations

from decimal import Decimal

from backend.identity import service as identity
from backend.identity.models import Org
from tests.integration import test_floorplan_support as support
from tests.integration.test_floorplan_support import (
    Api,
    assert_books_balance,
    deposit,
    financed_cars,
)

api = support.api  # fixtures
pg_or_sqlite_api = support.pg_or_sqlite_api


def test_full_lifecycle_through_http(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    dealer_id = api.org_id("DEALER2")
    before = api.ok(api.get("dealer2", f"/dealers/{dealer_id}/summary"))
    deposit(api, "DEALER2", "1000000.00")

    bill, vins = financed_cars(api, "dealer2", ["120000.00", "180000.00", "100000.00"])
    assert bill["status"] == "shipped" and bill["amount"] == "400000.00"
    assert bill["margin"] == "120000.00" and bill["maturity_date"]
    summary = api.ok(api.get("dealer2", f"/dealers/{dealer_id}/summary"))
    assert Decimal(summary["used"]) == Decimal(before["used"]) + 400000
    assert Decimal(summary["frozen"]) == Decimal(before["frozen"]) + 120000
    assert summary["cars_by_status"]["in_stock"]["count"] >= 3
    car = api.ok(api.get("dealer2", f"/vehicles/{vins[0]}"))
    assert car["margin_held"] == "36000.00" and car["days_in_stock"] == 0
    assert car["certificate_status"] == "in_custody"

    # full redemption: the deposit pays, the car's margin is released pro rata
    redeemed = api.ok(api.post("dealer2", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}))
    assert redeemed["status"] == "redeemed" and redeemed["outstanding"] == "0.00"
    after_full = api.ok(api.get("dealer2", f"/dealers/{dealer_id}/summary"))
    assert Decimal(after_full["frozen"]) == Decimal(summary["frozen"]) - 36000
    assert Decimal(after_full["used"]) == Decimal(summary["used"]) - 120000

    # margin redemption: margin above the required ratio pays the car
    api.ok(api.post("dealer2", f"/dealers/{dealer_id}/margin/top-up", {"amount": "200000.00"}), 201)
    by_margin = api.ok(api.post("dealer2", f"/vehicles/{vins[1]}/redeem", {"mode": "margin"}))
    assert by_margin["status"] == "redeemed" and by_margin["redeem_mode"] == "margin"

    # release: only redeemed cars; the certificate leaves custody
    refused = api.post("supervisor1", f"/vehicles/{vins[2]}/release")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "vehicle_not_redeemed"
    out = api.ok(api.post("supervisor1", f"/vehicles/{vins[0]}/release"))
    assert out["status"] == "released" and out["certificate_status"] == "released"
    again = api.post("supervisor1", f"/vehicles/{vins[0]}/release")
    assert again.status_code == 422

    # the supervisor finds the last car gone: out of trust at once, one hard alert
    gone = api.ok(
        api.post("supervisor1", f"/vehicles/{vins[2]}/report-missing", {"note": "gate camera"})
    )
    assert gone["status"] == "out_of_trust"

    # batch redemption of the rest cures it, then the OEM sees the bill it is paid with
    batch = api.ok(api.post("dealer2", "/redemptions", {"vins": [vins[2]], "mode": "full"}))
    assert batch["vehicle_count"] == 1 and batch["vehicles"][0]["status"] == "redeemed"
    assert api.ok(api.get("oem1", f"/bills/{bill['id']}"))["outstanding"] == "0.00"

    # the alerts: the lifecycle raised exactly the out-of-trust one, still open for the bank
    # (a redemption closes routine alerts only); the rest are the seed's aging alerts: its two
    # cars in stock since about 125 days, past the 120-day threshold (medium)
    alerts = api.ok(api.get("dealer2", "/alerts"))["items"]
    mine = [a for a in alerts if a["vin"] in vins]
    assert [(a["kind"], a["severity"], a["status"], a["vin"]) for a in mine] == [
        ("out_of_trust", "hard", "open", vins[2])
    ]
    oot = mine[0]
    assert oot["dealer_id"] == dealer_id and oot["bill_id"] == bill["id"]
    assert oot["data"]["reason"] == "reported gone from the yard by the supervisor: gate camera"
    assert oot["data"]["outstanding"] == "100000.00" and oot["occurrences"] == 1
    seeded = sorted(
        (a["kind"], a["severity"], a["data"]["threshold"]) for a in alerts if a["vin"] not in vins
    )
    assert seeded == [("aging", "medium", 120), ("aging", "medium", 120)]
    assert api.ok(api.get("oem1", f"/alerts/{oot['id']}"))["kind"] == "out_of_trust"
    refused = api.get("dealer1", f"/alerts/{oot['id']}")
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "alert_not_found"
    assert_books_balance(api)


def test_batch_redemption_is_all_or_nothing(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    deposit(api, "DEALER1", "500000.00")
    _, vins = financed_cars(api, "dealer1", ["100000.00", "150000.00"])
    api.ok(api.post("dealer1", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}))
    both = api.post("dealer1", "/redemptions", {"vins": vins, "mode": "full"})
    assert both.status_code == 409 and both.get_json()["error"]["details"]["vins"] == [vins[0]]
    assert api.ok(api.get("dealer1", f"/vehicles/{vins[1]}"))["status"] == "in_stock"
    result = api.ok(api.post("dealer1", "/redemptions", {"vins": [vins[1]], "mode": "full"}))
    assert result["amount"] == "150000.00" and result["margin_released"] == "45000.00"
    assert_books_balance(api)


def test_margin_redemption_needs_margin_above_the_required_ratio(api: Api):
    dealer_id = api.org_id("DEALER2")
    deposit(api, "DEALER2", "800000.00")
    _, vins = financed_cars(api, "dealer2", ["300000.00"])
    summary = api.ok(api.get("dealer2", f"/dealers/{dealer_id}/summary"))
    free = Decimal(summary["free_margin"])
    if free > 0:  # spend the free margin the demo seed left, so that margin is exactly required
        api.ok(
            api.post("dealer2", f"/dealers/{dealer_id}/margin/withdraw", {"amount": str(free)}),
            201,
        )
    refused = api.post("dealer2", f"/vehicles/{vins[0]}/redeem", {"mode": "margin"})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "insufficient_margin"
    # required margin cannot be withdrawn either: the holds freeze it
    frozen = api.post("dealer2", f"/dealers/{dealer_id}/margin/withdraw", {"amount": "1.00"})
    assert frozen.status_code == 422
    assert api.ok(api.get("dealer2", f"/vehicles/{vins[0]}"))["status"] == "in_stock"
    assert_books_balance(api)


def test_release_before_repay_for_trusted_dealers(api: Api):
    deposit(api, "DEALER1", "500000.00")
    _, vins = financed_cars(api, "dealer1", ["100000.00", "90000.00"])
    not_trusted = api.post(
        "dealer2", "/vehicles/" + _in_stock(api, "dealer2") + "/release-before-repay"
    )
    assert not_trusted.status_code == 422
    assert not_trusted.get_json()["error"]["code"] == "dealer_not_trusted"

    granted = api.ok(api.post("dealer1", f"/vehicles/{vins[0]}/release-before-repay"))
    assert granted["repay_by"] and granted["release_before_repay_amount"] == "100000.00"
    twice = api.post("dealer1", f"/vehicles/{vins[0]}/release-before-repay")
    assert twice.status_code == 409
    out = api.ok(api.post("supervisor1", f"/vehicles/{vins[0]}/release"))
    assert out["status"] == "released_unpaid"
    repaid = api.ok(api.post("dealer1", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}))
    assert repaid["status"] == "released" and repaid["release_before_repay_amount"] == "0.00"
    line = api.ok(api.get("dealer1", "/credit-lines"))["items"][0]
    assert Decimal(line["rbr_used"]) < Decimal(line["rbr_limit"])
    assert_books_balance(api)


def test_credit_line_maker_checker(api: Api):
    with api.session() as s:
        oem = s.get(Org, api.org_id("OEM1"))
        org = identity.get_or_create_org(s, "DEALER9", "Dealer Nine", "dealer", oem)
        s.commit()
        dealer9 = org.id
    body = {"dealer_id": dealer9, "limit": "2000000.00", "margin_ratio": "0.25"}
    assert api.post("dealer1", "/credit-line-requests", body).status_code == 403
    proposal = api.ok(api.post("rm1", "/credit-line-requests", body), 201)
    assert proposal["status"] == "pending" and proposal["maker"] == "rm1"
    dup = api.post("rm1", "/credit-line-requests", body)
    assert dup.status_code == 409
    assert api.post("rm1", f"/credit-line-requests/{proposal['id']}/approve").status_code == 403
    line = api.ok(api.post("approver1", f"/credit-line-requests/{proposal['id']}/approve"))
    assert line["limit"] == "2000000.00" and line["margin_ratio"] == "0.2500"
    decided = api.post("approver1", f"/credit-line-requests/{proposal['id']}/approve")
    assert decided.status_code == 409

    # the maker can never be the checker, not even an admin
    raise_it = api.ok(
        api.post("admin", "/credit-line-requests", {**body, "limit": "3000000.00"}), 201
    )
    own = api.post("admin", f"/credit-line-requests/{raise_it['id']}/approve")
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "maker_checker_violation"
    rejected = api.ok(api.post("approver1", f"/credit-line-requests/{raise_it['id']}/reject"))
    assert rejected["status"] == "rejected"
    assert api.ok(api.get("rm1", f"/credit-lines/{line['id']}"))["limit"] == "2000000.00"
    pending = api.ok(api.get("approver1", "/credit-line-requests?status=pending"))
    assert pending["items"] == []


def test_bill_issuance_enforces_the_line_and_suspension(api: Api):
    dealer_id = api.org_id("DEALER2")
    line = api.ok(api.get("dealer2", "/credit-lines"))["items"][0]
    too_much = Decimal(line["available"]) + 1
    r = api.post("dealer2", "/bills", {"amount": str(too_much), "term_months": 6})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "credit_line_exceeded"
    deposit(api, "DEALER2", "100000.00")
    bill = api.ok(api.post("dealer2", "/bills", {"amount": "100000.00", "term_months": 6}), 201)
    api.ok(api.post("approver1", f"/credit-lines/{line['id']}/suspend", {"note": "risk review"}))
    r = api.post("approver1", f"/bills/{bill['id']}/issue")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "credit_line_suspended"
    api.ok(api.post("approver1", f"/credit-lines/{line['id']}/reactivate"))
    issued = api.ok(api.post("rm1", f"/bills/{bill['id']}/issue"))
    assert issued["status"] == "issued" and issued["term_months"] == 6
    assert api.post("rm1", f"/bills/{bill['id']}/issue").status_code == 409
    assert api.ok(api.get("oem1", "/bills?status=issued"))["items"]
    summary = api.ok(api.get("oem1", f"/dealers/{dealer_id}/summary"))
    assert summary["bills_by_status"]["issued"] >= 1
    assert_books_balance(api)


def test_deposit_needs_a_teller_and_idempotency_key_replays(api: Api):
    dealer_id = api.org_id("DEALER1")
    assert (
        api.post("dealer1", f"/dealers/{dealer_id}/deposits", {"amount": "5.00"}).status_code == 403
    )
    key = {"Idempotency-Key": "dep-1"}
    first = api.post("teller1", f"/dealers/{dealer_id}/deposits", {"amount": "5.00"}, headers=key)
    second = api.post("teller1", f"/dealers/{dealer_id}/deposits", {"amount": "5.00"}, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["transfer_id"] == second.get_json()["transfer_id"]
    assert_books_balance(api)


def _in_stock(api: Api, dealer: str) -> str:
    return api.ok(api.get(dealer, "/vehicles?status=in_stock"))["items"][0]["vin"]
