"""Bad input gets the contract's errors and changes nothing (every table, every ledger balance,
every car and line compared before and after), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.floorplan.models import Vehicle
from tests.integration import test_floorplan_support as support
from tests.integration.test_floorplan_support import (
    Api,
    assert_books_balance,
    deposit,
    financed_cars,
    new_vin,
    snapshot,
)

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture


@pytest.fixture
def world(pg_or_sqlite_api: Api):
    """dealer1 with two cars in stock (one redeemed and released, one not) and an issued bill."""
    api = pg_or_sqlite_api
    deposit(api, "DEALER1", "900000.00")
    bill, vins = financed_cars(api, "dealer1", ["100000.00", "120000.00", "130000.00"])
    api.ok(api.post("dealer1", f"/vehicles/{vins[2]}/redeem", {"mode": "full"}))
    api.ok(api.post("supervisor1", f"/vehicles/{vins[2]}/release"))
    issued = api.ok(api.post("dealer1", "/bills", {"amount": "50000.00", "term_months": 3}), 201)
    api.ok(api.post("rm1", f"/bills/{issued['id']}/issue"))
    with api.session() as s:
        cert = s.scalar(select(Vehicle.certificate_no).where(Vehicle.vin == vins[0]))
    return api, bill, issued, vins, cert


def _cases(bill: dict, issued: dict, vins: list[str], cert: str, dealer1: int, yard: int):
    unknown = new_vin()
    car = {"vin": new_vin(), "model": "X", "price": "50000.00", "certificate_no": "N-1"}
    return [
        # (user, method, path, body, status, code)
        ("dealer1", "get", f"/vehicles/{unknown}", None, 404, "vehicle_not_found"),
        (
            "dealer1",
            "post",
            f"/vehicles/{unknown}/redeem",
            {"mode": "full"},
            404,
            "vehicle_not_found",
        ),
        ("dealer1", "post", "/vehicles/NOT-A-VIN/redeem", {"mode": "full"}, 400, "invalid_vin"),
        (
            "dealer1",
            "post",
            f"/vehicles/{vins[0]}/redeem",
            {"mode": "cash"},
            400,
            "validation_error",
        ),
        ("dealer1", "post", f"/vehicles/{vins[0]}/redeem", {"mode": "full", "x": 1}, 400, None),
        (
            "dealer1",
            "post",
            f"/vehicles/{vins[2]}/redeem",
            {"mode": "full"},
            409,
            "vehicle_already_redeemed",
        ),
        (
            "dealer2",
            "post",
            f"/vehicles/{vins[0]}/redeem",
            {"mode": "full"},
            404,
            "vehicle_not_found",
        ),
        ("oem1", "post", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}, 403, "forbidden"),
        ("supervisor1", "post", f"/vehicles/{vins[0]}/release", None, 422, "vehicle_not_redeemed"),
        (
            "supervisor1",
            "post",
            f"/vehicles/{vins[2]}/release",
            None,
            422,
            "vehicle_already_released",
        ),
        ("dealer1", "post", f"/vehicles/{vins[0]}/release", None, 403, "forbidden"),
        (
            "supervisor1",
            "post",
            f"/vehicles/{vins[0]}/intake",
            {"certificate_no": cert},
            409,
            "vehicle_already_taken_in",
        ),
        ("supervisor1", "post", f"/vehicles/{unknown}/intake", {"certificate_no": "x"}, 404, None),
        (
            "dealer1",
            "post",
            "/bills",
            {"amount": "-5.00", "term_months": 3},
            400,
            "validation_error",
        ),
        (
            "dealer1",
            "post",
            "/bills",
            {"amount": "0.00", "term_months": 3},
            400,
            "validation_error",
        ),
        ("dealer1", "post", "/bills", {"amount": 5.5, "term_months": 3}, 400, "validation_error"),
        ("dealer1", "post", "/bills", {"amount": "1.001", "term_months": 3}, 400, None),
        ("dealer1", "post", "/bills", {"amount": "100.00", "term_months": 4}, 400, None),
        ("teller1", "post", f"/dealers/{dealer1}/deposits", {"amount": "-1.00"}, 400, None),
        ("dealer1", "post", f"/dealers/{dealer1}/margin/top-up", {"amount": "-1.00"}, 400, None),
        ("dealer1", "post", f"/dealers/{dealer1}/margin/withdraw", {"amount": "0"}, 400, None),
        (
            "dealer1",
            "post",
            f"/dealers/{dealer1}/margin/top-up",
            {"amount": "99999999999.00"},
            422,
            "insufficient_deposit",
        ),
        (
            "rm1",
            "post",
            "/credit-line-requests",
            {"dealer_id": dealer1, "limit": "-10.00"},
            400,
            None,
        ),
        (
            "oem1",
            "post",
            "/shipments",
            {"bill_id": issued["id"], "warehouse_id": yard, "vehicles": [{**car, "price": "-1"}]},
            400,
            None,
        ),
        (
            "oem1",
            "post",
            "/shipments",
            {
                "bill_id": issued["id"],
                "warehouse_id": yard,
                "vehicles": [{**car, "price": "40000.00"}],
            },
            422,
            "shipment_total_mismatch",
        ),
        (
            "oem1",
            "post",
            "/shipments",
            {"bill_id": issued["id"], "warehouse_id": yard, "vehicles": [{**car, "vin": vins[0]}]},
            409,
            "vehicle_exists",
        ),
        (
            "oem1",
            "post",
            "/shipments",
            {"bill_id": bill["id"], "warehouse_id": yard, "vehicles": [car]},
            409,
            "bill_already_shipped",
        ),
        (
            "dealer1",
            "post",
            "/shipments",
            {"bill_id": issued["id"], "warehouse_id": yard, "vehicles": [car]},
            404,
            "bill_not_found",
        ),
        ("rm1", "post", f"/bills/{issued['id']}/issue", None, 409, "bill_not_requested"),
        ("dealer1", "post", f"/bills/{issued['id']}/issue", None, 403, "forbidden"),
        (
            "dealer1",
            "post",
            f"/vehicles/{vins[0]}/curtailment/pay",
            None,
            422,
            "no_curtailment_due",
        ),
        ("dealer1", "post", "/redemptions", {"vins": []}, 400, None),
        (
            "dealer1",
            "post",
            "/redemptions",
            {"vins": [vins[0], vins[0]], "mode": "full"},
            400,
            "duplicate_vin",
        ),
        (
            "dealer1",
            "post",
            "/redemptions",
            {"vins": [vins[0], unknown], "mode": "full"},
            404,
            "vehicle_not_found",
        ),
        ("dealer1", "get", "/vehicles?status=flying", None, 400, None),
        ("dealer1", "get", "/vehicles?limit=0", None, 400, None),
    ]


def test_bad_input_is_refused_and_changes_nothing(world):
    api, bill, issued, vins, cert = world
    dealer1 = api.org_id("DEALER1")
    yard = next(
        w["id"]
        for w in api.ok(api.get("admin", "/warehouses"))["items"]
        if w["dealer_id"] == dealer1
    )
    before = snapshot(api)
    for user, method, path, body, status, code in _cases(bill, issued, vins, cert, dealer1, yard):
        r = api.get(user, path) if method == "get" else api.post(user, path, body)
        assert r.status_code == status, (path, body, r.get_json())
        error = r.get_json()["error"]
        assert set(error) == {"code", "message", "details"}
        if code is not None:
            assert error["code"] == code, (path, error)
        assert snapshot(api) == before, (path, body)
    assert_books_balance(api)
