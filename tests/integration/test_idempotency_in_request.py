"""Idempotency-Key written in the request's own transaction (``@key_in_request_transaction``,
the floor-plan redemptions): every behaviour of a separately reserved key holds, on SQLite and
PostgreSQL: replay, reuse with another body, a refused request stored, concurrent duplicates
applied once, a server error rolling the key back with the work."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from backend.floorplan.models import Redemption, Vehicle
from backend.ledger.models import Transfer
from backend.platform.idempotency import IdempotencyKey
from tests.integration import test_floorplan_support as support
from tests.integration.test_app_errors import assert_error
from tests.integration.test_floorplan_support import (
    Api,
    assert_books_balance,
    deposit,
    financed_cars,
)

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture


def _car(api: Api) -> str:
    deposit(api, "DEALER1", "2000000.00")
    _, vins = financed_cars(api, "dealer1", ["150000.00"])
    return vins[0]


def _redemptions(api: Api, vin: str) -> int:
    with api.session() as s:
        return s.scalar(
            select(func.count())
            .select_from(Transfer)
            .where(Transfer.transfer_id == f"fp:redeem:{vin}")
        )


def _key(api: Api, key: str) -> IdempotencyKey | None:
    with api.session() as s:
        return s.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))


def test_replay_and_reuse(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    vin = _car(api)
    key = {"Idempotency-Key": "in-req-1"}
    first = api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}, headers=key)
    second = api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}, headers=key)
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert_error(
        api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "margin"}, headers=key),
        409,
        "idempotency_key_reused",
    )
    assert _redemptions(api, vin) == 1
    stored = _key(api, "in-req-1")
    assert stored.state == "done" and stored.status_code == 200
    assert_books_balance(api)


def test_refused_request_is_stored_and_replayed_without_side_effects(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    vin = _car(api)
    api.ok(api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}))
    key = {"Idempotency-Key": "in-req-refused"}
    refused = api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}, headers=key)
    assert_error(refused, 409, "vehicle_already_redeemed")
    replay = api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}, headers=key)
    assert_error(replay, 409, "vehicle_already_redeemed")
    assert replay.headers["Idempotent-Replayed"] == "true"
    stored = _key(api, "in-req-refused")
    assert stored.state == "done" and stored.status_code == 409
    assert _redemptions(api, vin) == 1


def test_concurrent_duplicates_apply_once(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    vin = _car(api)
    headers = {**api.headers("dealer1"), "Idempotency-Key": "in-req-race"}
    results: list[tuple[int, dict, bool]] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        client = api.app.test_client()
        barrier.wait()
        r = client.post(
            f"/api/v1/floorplan/vehicles/{vin}/redeem", json={"mode": "full"}, headers=headers
        )
        results.append((r.status_code, r.get_json(), "Idempotent-Replayed" in r.headers))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 6
    assert {s for s, _, _ in results} <= {200, 409}, results
    for status, body, _ in results:
        if status == 409:  # the first was still running when this one looked
            assert body["error"]["code"] == "idempotency_in_progress"
    answers = [(b, replayed) for s, b, replayed in results if s == 200]
    assert len([b for b, replayed in answers if not replayed]) == 1  # one did the work
    assert len({repr(b) for b, _ in answers}) == 1  # the others saw its answer
    assert _redemptions(api, vin) == 1
    with api.session() as s:
        assert s.scalar(select(func.count()).select_from(Redemption)) == 1
    assert_books_balance(api)


def test_server_error_rolls_the_key_back_with_the_work(pg_or_sqlite_api: Api, monkeypatch):
    from backend.floorplan.service import redemption

    api = pg_or_sqlite_api
    vin = _car(api)
    key = {"Idempotency-Key": "in-req-500"}
    original = redemption.mark_repaid

    def broken(*args, **kwargs):
        original(*args, **kwargs)  # the work is half done when it fails
        raise RuntimeError("database fell over")

    monkeypatch.setattr(redemption, "mark_repaid", broken)
    assert_error(api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}, headers=key), 500)
    assert _key(api, "in-req-500") is None
    assert _redemptions(api, vin) == 0
    with api.session() as s:
        assert s.scalar(select(Vehicle.status).where(Vehicle.vin == vin)) == "in_stock"
    monkeypatch.setattr(redemption, "mark_repaid", original)
    again = api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}, headers=key)
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
    assert _redemptions(api, vin) == 1
    assert_books_balance(api)


def test_refused_after_writes_undoes_the_work_and_keeps_the_answer(
    pg_or_sqlite_api: Api, monkeypatch
):
    """A 4xx raised after the work wrote (ledger legs, the car's row) rolls back to just after
    the key's insert: nothing of the work stays, the refusal is stored and replayed."""
    from backend.floorplan.service import redemption
    from backend.platform.errors import BusinessRuleViolation

    api = pg_or_sqlite_api
    vin = _car(api)
    key = {"Idempotency-Key": "in-req-422"}
    original = redemption.mark_repaid

    def refusing(session, *args, **kwargs):
        original(session, *args, **kwargs)
        session.flush()  # the car's update is in the database's transaction
        raise BusinessRuleViolation("refused late", code="refused_late")

    monkeypatch.setattr(redemption, "mark_repaid", refusing)
    assert_error(
        api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}, headers=key),
        422,
        "refused_late",
    )
    monkeypatch.setattr(redemption, "mark_repaid", original)
    replay = api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"}, headers=key)
    assert_error(replay, 422, "refused_late")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert _redemptions(api, vin) == 0
    with api.session() as s:
        assert s.scalar(select(Vehicle.status).where(Vehicle.vin == vin)) == "in_stock"
        assert s.scalar(select(func.count()).select_from(Redemption)) == 0
    assert_books_balance(api)
    fresh = api.post("dealer1", f"/vehicles/{vin}/redeem", {"mode": "full"})
    assert fresh.status_code == 200
