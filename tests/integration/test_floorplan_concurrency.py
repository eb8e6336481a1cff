"""Concurrent redemptions of one car have exactly one winner; concurrent redemptions of
different cars of one dealer all succeed (no deadlock, no lost update); SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import func, select

from backend.floorplan.models import CreditLine, Vehicle
from backend.ledger.models import Transfer
from tests.integration import test_floorplan_support as support
from tests.integration.test_floorplan_support import (
    Api,
    assert_books_balance,
    deposit,
    financed_cars,
)

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture

MANDATE = {"reason": "dealer at the counter", "instruction_ref": "SLIP-RACE"}


def _race(api: Api, calls: list[tuple[str, str, dict]]) -> list[int]:
    """Run the POSTs at the same moment, each in its own thread with its own client."""
    for user, _, _ in calls:
        api.headers(user)  # log in before the race
    barrier = threading.Barrier(len(calls))
    statuses: list[int | None] = [None] * len(calls)

    def run(i: int, user: str, path: str, body: dict) -> None:
        client = api.app.test_client()
        barrier.wait()
        r = client.post(f"/api/v1/floorplan{path}", json=body, headers=api.headers(user))
        statuses[i] = r.status_code

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def test_concurrent_redemptions_of_one_car_have_one_winner(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    deposit(api, "DEALER1", "2000000.00")
    dealer_id = api.org_id("DEALER1")
    api.ok(api.post("dealer1", f"/dealers/{dealer_id}/margin/top-up", {"amount": "500000.00"}), 201)
    _, vins = financed_cars(api, "dealer1", ["150000.00", "120000.00"])
    vin = vins[0]
    calls = [
        ("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}),
        ("dealer1", f"/vehicles/{vin}/redeem", {"mode": "margin"}),
        ("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}),
        ("dealer1", "/redemptions", {"vins": [vin, vins[1]], "mode": "full"}),
        ("dealer1", f"/vehicles/{vin}/redeem", {"mode": "margin"}),
        ("teller1", f"/vehicles/{vin}/redeem", {"mode": "full", "on_behalf": MANDATE}),
    ]
    statuses = _race(api, calls)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 409}, statuses
    with api.session() as s:
        legs = s.scalar(
            select(func.count())
            .select_from(Transfer)
            .where(Transfer.transfer_id == f"fp:redeem:{vin}")
        )
        assert legs == 1
        car = s.scalar(select(Vehicle).where(Vehicle.vin == vin))
        assert car.status == "redeemed" and car.outstanding == 0
    assert_books_balance(api)


def test_concurrent_redemptions_of_different_cars_all_apply(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    deposit(api, "DEALER2", "3000000.00")
    prices = ["100000.00", "110000.00", "120000.00", "130000.00", "140000.00"]
    _, vins = financed_cars(api, "dealer2", prices)
    with api.session() as s:
        used_before = s.scalar(
            select(CreditLine.used_amount).where(CreditLine.dealer_org_id == api.org_id("DEALER2"))
        )
    statuses = _race(api, [("dealer2", f"/vehicles/{v}/redeem", {"mode": "full"}) for v in vins])
    assert statuses == [200] * len(vins)
    with api.session() as s:
        used_after = s.scalar(
            select(CreditLine.used_amount).where(CreditLine.dealer_org_id == api.org_id("DEALER2"))
        )
    assert used_before - used_after == sum(Decimal(p) for p in prices)
    assert_books_balance(api)
