"""Margin automation and the scheduled jobs, with time moved forward: bill maturity with enough
and with too little margin, curtailment (paid and overdue), aging alerts, release-before-repay
deadlines (out of trust). The books balance after every scenario."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from backend.floorplan.models import Bill, Curtailment, Vehicle
from backend.floorplan.service import settle_bill
from backend.ledger.models import Account
from tests.integration import test_floorplan_support as support
from tests.integration.test_floorplan_support import (
    Api,
    assert_books_balance,
    deposit,
    financed_cars,
    new_dealer,
)

api = support.api  # fixtures
pg_or_sqlite_api = support.pg_or_sqlite_api
risk_calls = support.risk_calls


def _job(api: Api, name: str, at: datetime) -> dict:
    run = api.app.extensions["finedge"].runtime.run_job(name, now=lambda: at)
    assert run.outcome == "ok", run.error
    return run.result


def _maturity(api: Api, bill_id: int) -> datetime:
    with api.session() as s:
        day = s.get(Bill, bill_id).maturity_date
    return datetime.combine(day, time(1), tzinfo=UTC)


def _balance(api: Api, code: str) -> Decimal:
    with api.session() as s:
        a = s.scalar(select(Account).where(Account.code == code))
        return a.credits_posted - a.debits_posted


def test_maturity_with_enough_margin_pays_the_oem_and_redeems_the_rest(
    pg_or_sqlite_api: Api, risk_calls
):
    api = pg_or_sqlite_api
    dealer = new_dealer(api, "DEALERM1")
    deposit(api, "DEALERM1", "400000.00")
    bill, vins = financed_cars(api, "dealerm1", ["100000.00", "200000.00"])
    oem_before = _balance(api, f"fp:org{bill['oem_id']}:deposit")
    api.ok(api.post("dealerm1", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}))
    early = api.post("rm1", f"/bills/{bill['id']}/settle")
    assert early.status_code == 422 and early.get_json()["error"]["code"] == "bill_not_due"

    with api.session() as s:  # this bill only (the job would also settle the demo's bills)
        settle_bill(s, api.actor("rm1"), None, bill["id"], now=_maturity(api, bill["id"]))
        s.commit()
    settled = api.ok(api.get("dealerm1", f"/bills/{bill['id']}"))
    assert settled["status"] == "settled" and settled["shortfall"] == "0.00"
    car = api.ok(api.get("dealerm1", f"/vehicles/{vins[1]}"))
    assert car["status"] == "redeemed" and car["redeem_mode"] == "maturity"
    assert car["margin_applied"] == "60000.00" and car["outstanding"] == "0.00"
    assert _balance(api, f"fp:org{bill['oem_id']}:deposit") - oem_before == Decimal("300000.00")
    with api.session() as s:
        assert s.scalar(select(Account.status).where(Account.code == f"fp:bill{bill['id']}")) == (
            "closed"
        )
    summary = api.ok(api.get("dealerm1", f"/dealers/{dealer}/summary"))
    assert summary["used"] == "0.00" and summary["frozen"] == "0.00"
    # the sweep takes the 30000 margin the redemption freed first, then 110000 of deposit:
    # 400000 - 90000 (margin) - 100000 (redemption) - 110000 = 100000
    assert summary["deposit"] == "100000.00" and summary["margin"] == "0.00"
    assert summary["advance_outstanding"] == "0.00"
    assert not [c for c in risk_calls if c[0] == "event"]
    again = api.post("rm1", f"/bills/{bill['id']}/settle")
    assert again.status_code == 422
    assert_books_balance(api)


def test_maturity_short_of_margin_becomes_an_overdue_advance(pg_or_sqlite_api: Api, risk_calls):
    api = pg_or_sqlite_api
    dealer = new_dealer(api, "DEALERM3")
    deposit(api, "DEALERM3", "90000.00")
    bill, vins = financed_cars(api, "dealerm3", ["100000.00", "200000.00"])
    at = _maturity(api, bill["id"])
    result = _job(api, "floorplan.bill_maturity", at)
    assert result["short"] >= 1
    short = api.ok(api.get("dealerm3", f"/bills/{bill['id']}"))
    assert short["status"] == "overdue" and short["shortfall"] == "210000.00"
    assert short["advance_outstanding"] == "210000.00"
    cars = [api.ok(api.get("dealerm3", f"/vehicles/{v}")) for v in vins]
    assert [c["status"] for c in cars] == ["in_stock", "in_stock"]
    assert [c["advanced"] for c in cars] == ["70000.00", "140000.00"]
    summary = api.ok(api.get("dealerm3", f"/dealers/{dealer}/summary"))
    assert summary["advance_outstanding"] == "210000.00" and summary["used"] == "210000.00"
    alerts = api.ok(api.get("dealerm3", "/alerts?kind=margin_shortfall"))["items"]
    assert len(alerts) == 1 and alerts[0]["severity"] == "strong"
    events = [c[1] for c in risk_calls if c[0] == "event"]
    assert [e["kind"] for e in events] == ["margin_shortfall"]
    assert events[0]["org_id"] == dealer and events[0]["severity"] == "high"

    # the dealer repays the advance car by car; the bill is settled when nothing is owed
    deposit(api, "DEALERM3", "250000.00")
    first = api.ok(api.post("dealerm3", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}))
    assert first["status"] == "redeemed" and first["repaid"] == "70000.00"
    assert api.ok(api.get("dealerm3", f"/bills/{bill['id']}"))["status"] == "overdue"
    api.ok(api.post("dealerm3", f"/vehicles/{vins[1]}/redeem", {"mode": "full"}))
    done = api.ok(api.get("dealerm3", f"/bills/{bill['id']}"))
    assert done["status"] == "settled" and done["advance_outstanding"] == "0.00"
    summary = api.ok(api.get("dealerm3", f"/dealers/{dealer}/summary"))
    assert summary["advance_outstanding"] == "0.00" and summary["used"] == "0.00"
    assert_books_balance(api)


def test_unshipped_bill_is_paid_at_maturity_from_its_margin(api: Api, risk_calls):
    new_dealer(api, "DEALERM4")
    deposit(api, "DEALERM4", "100000.00")
    bill = api.ok(api.post("dealerm4", "/bills", {"amount": "200000.00", "term_months": 3}), 201)
    api.ok(api.post("rm1", f"/bills/{bill['id']}/issue"))
    _job(api, "floorplan.bill_maturity", _maturity(api, bill["id"]))
    paid = api.ok(api.get("dealerm4", f"/bills/{bill['id']}"))
    # margin 60000 + the 40000 left on deposit; the bank advances the other 100000
    assert paid["status"] == "overdue" and paid["shortfall"] == "100000.00"
    assert_books_balance(api)
    deposit(api, "DEALERM4", "100000.00")
    part = api.ok(api.post("dealerm4", f"/bills/{bill['id']}/repay", {"amount": "40000.00"}))
    assert part["advance_outstanding"] == "60000.00" and part["status"] == "overdue"
    too_much = api.post("dealerm4", f"/bills/{bill['id']}/repay", {"amount": "60000.01"})
    assert too_much.status_code == 422
    rest = api.ok(api.post("dealerm4", f"/bills/{bill['id']}/repay"))
    assert rest["status"] == "settled" and rest["outstanding"] == "0.00"
    assert_books_balance(api)


def test_maturity_reminder_a_week_ahead(api: Api):
    new_dealer(api, "DEALERM5")
    deposit(api, "DEALERM5", "100000.00")
    bill, _ = financed_cars(api, "dealerm5", ["100000.00"])
    at = _maturity(api, bill["id"]) - timedelta(days=5)
    assert _job(api, "floorplan.bill_maturity", at)["reminded"] >= 1
    again = _job(api, "floorplan.bill_maturity", at + timedelta(hours=1))
    assert again["reminded"] == 0  # de-duplicated
    alerts = api.ok(api.get("dealerm5", "/alerts?kind=bill_maturing"))["items"]
    assert len(alerts) == 1 and alerts[0]["occurrences"] == 2


def test_curtailment_is_created_collected_or_overdue(api: Api, risk_calls):
    new_dealer(api, "DEALERC1")
    deposit(api, "DEALERC1", "99000.00")
    _, vins = financed_cars(api, "dealerc1", ["100000.00", "150000.00"])
    with api.session() as s:
        pledged = s.scalar(select(Vehicle.pledged_at).where(Vehicle.vin == vins[0]))
    day_91 = pledged + timedelta(days=91)
    created = _job(api, "floorplan.curtailment", day_91)
    assert created["scheduled"]["created"] >= 2
    car = api.ok(api.get("dealerc1", f"/vehicles/{vins[0]}"))
    assert car["curtailment_status"] == "due"
    assert car["curtailment"]["amount"] == "10000.00"
    # the dealer pays the first one early
    paid = api.ok(api.post("dealerc1", f"/vehicles/{vins[0]}/curtailment/pay"))
    assert paid["status"] == "paid"
    assert api.ok(api.get("dealerc1", f"/vehicles/{vins[0]}"))["outstanding"] == "90000.00"
    # the deposit (99000 - 75000 margin - 10000) cannot cover the second (15000) at due date
    # (the demo dealers' cars are curtailed in the same runs: count this dealer's only)
    _job(api, "floorplan.curtailment", day_91 + timedelta(days=11))
    car = api.ok(api.get("dealerc1", f"/vehicles/{vins[1]}"))
    assert car["curtailment_status"] == "overdue"
    overdue = api.ok(api.get("dealerc1", "/alerts?kind=curtailment_overdue"))["items"]
    assert overdue[0]["severity"] == "strong"
    assert [c[1]["kind"] for c in risk_calls if c[0] == "event"] == ["overdue_loan"]
    # once funded, the next run collects it
    deposit(api, "DEALERC1", "20000.00")
    _job(api, "floorplan.curtailment", day_91 + timedelta(days=12))
    with api.session() as s:
        states = s.scalars(
            select(Curtailment.status)
            .join(Vehicle, Vehicle.id == Curtailment.vehicle_id)
            .where(Vehicle.vin.in_(vins))
            .order_by(Curtailment.id)
        ).all()
    assert states == ["paid", "paid"]
    assert api.ok(api.get("dealerc1", f"/vehicles/{vins[1]}"))["outstanding"] == "135000.00"
    assert_books_balance(api)


def test_aging_alerts_at_each_threshold_once(api: Api):
    new_dealer(api, "DEALERA1")
    deposit(api, "DEALERA1", "200000.00")
    _, vins = financed_cars(api, "dealera1", ["100000.00"])
    with api.session() as s:
        pledged = s.scalar(select(Vehicle.pledged_at).where(Vehicle.vin == vins[0]))
    _job(api, "floorplan.aging", pledged + timedelta(days=121))
    _job(api, "floorplan.aging", pledged + timedelta(days=122))
    alerts = api.ok(api.get("dealera1", f"/alerts?vin={vins[0]}"))["items"]
    assert [(a["kind"], a["severity"]) for a in alerts] == [("aging", "medium")]
    _job(api, "floorplan.aging", pledged + timedelta(days=181))
    alerts = api.ok(api.get("dealera1", f"/alerts?vin={vins[0]}"))["items"]
    assert [a["severity"] for a in alerts] == ["strong", "medium"]
    # a redeemed car's routine alerts are closed
    api.ok(api.post("dealera1", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}))
    alerts = api.ok(api.get("dealera1", f"/alerts?vin={vins[0]}"))["items"]
    assert {a["status"] for a in alerts} == {"resolved"}


def test_release_before_repay_deadline_out_of_trust(api: Api, risk_calls):
    dealer = new_dealer(api, "DEALERR1", trusted=True)
    deposit(api, "DEALERR1", "200000.00")
    _, vins = financed_cars(api, "dealerr1", ["100000.00", "80000.00"])
    out = api.ok(api.post("dealerr1", f"/vehicles/{vins[0]}/release-before-repay"))
    api.ok(api.post("supervisor1", f"/vehicles/{vins[0]}/release"))
    lapse = api.ok(api.post("dealerr1", f"/vehicles/{vins[1]}/release-before-repay"))
    due = datetime.fromisoformat(out["repay_by"])
    result = _job(api, "floorplan.release_deadlines", due + timedelta(minutes=1))
    assert result["out_of_trust"] >= 1 and result["lapsed"] >= 1  # (demo cars too)
    gone = api.ok(api.get("dealerr1", f"/vehicles/{vins[0]}"))
    assert gone["status"] == "out_of_trust"
    kept = api.ok(api.get("dealerr1", f"/vehicles/{vins[1]}"))
    assert kept["status"] == "in_stock" and kept["repay_by"] is None
    assert lapse["release_before_repay_amount"] == "80000.00"
    alerts = api.ok(api.get("oem1", f"/alerts?dealer_id={dealer}&severity=hard"))["items"]
    assert [a["kind"] for a in alerts] == ["out_of_trust"]
    events = [c[1] for c in risk_calls if c[0] == "event" and c[1]["org_id"] == dealer]
    assert [(e["kind"], e["severity"]) for e in events] == [("vehicle_out_of_trust", "critical")]
    assert events[0]["data"]["vin"] == vins[0] and events[0]["source"] == "floorplan"
    # the dealer cures it by repaying; the car is out, so it ends released
    cured = api.ok(api.post("dealerr1", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}))
    assert cured["status"] == "released"
    line = api.ok(api.get("dealerr1", "/credit-lines"))["items"][0]
    assert line["rbr_used"] == "0.00"
    # the bank closes the alert after handling it; dealers may only acknowledge
    assert api.post("dealerr1", f"/alerts/{alerts[0]['id']}/resolve").status_code == 403
    api.ok(api.post("dealerr1", f"/alerts/{alerts[0]['id']}/acknowledge"))
    closed = api.ok(api.post("rm1", f"/alerts/{alerts[0]['id']}/resolve", {"note": "repaid"}))
    assert closed["status"] == "resolved"
    assert_books_balance(api)


def test_car_swept_on_its_way_arrives_redeemed(api: Api):
    new_dealer(api, "DEALERM6")
    deposit(api, "DEALERM6", "200000.00")
    bill = api.ok(api.post("dealerm6", "/bills", {"amount": "100000.00", "term_months": 3}), 201)
    api.ok(api.post("rm1", f"/bills/{bill['id']}/issue"))
    yard = next(
        w["id"]
        for w in api.ok(api.get("admin", "/warehouses"))["items"]
        if w["dealer_id"] == bill["dealer_id"]
    )
    vin = support.new_vin()
    car = {"vin": vin, "model": "Late", "price": "100000.00", "certificate_no": f"C-{vin}"}
    api.ok(
        api.post(
            "oem1", "/shipments", {"bill_id": bill["id"], "warehouse_id": yard, "vehicles": [car]}
        ),
        201,
    )
    with api.session() as s:
        settle_bill(s, api.actor("rm1"), None, bill["id"], now=_maturity(api, bill["id"]))
        s.commit()
    assert api.ok(api.get("dealerm6", f"/vehicles/{vin}"))["status"] == "redeemed"
    taken = api.ok(
        api.post(
            "supervisor1", f"/vehicles/{vin}/intake", {"certificate_no": car["certificate_no"]}
        )
    )
    assert taken["status"] == "redeemed" and taken["certificate_status"] == "in_custody"
    twice = api.post("supervisor1", f"/vehicles/{vin}/intake", {"certificate_no": "x"})
    assert twice.status_code == 409
    assert api.ok(api.post("supervisor1", f"/vehicles/{vin}/release"))["status"] == "released"
    assert_books_balance(api)
