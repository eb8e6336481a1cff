"""Who may act for a dealer (backend/floorplan/agency.py): the dealer's own users for their own
org; a teller only with the dealer's instruction (``on_behalf``), recorded in the act's audit
record, in a ``floorplan.acted_on_behalf`` record the dealer reads and on the ledger transfer;
rm, approver and admin never (segregation of duties). And a redemption needs an explicit body:
no body repays nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.ledger.models import Transfer
from backend.platform.audit import AuditRecord
from tests.integration import test_floorplan_support as support
from tests.integration.test_floorplan_support import (
    Api,
    assert_books_balance,
    deposit,
    financed_cars,
    snapshot,
)

api = support.api  # fixture

MANDATE = {"reason": "dealer at the counter", "instruction_ref": "SLIP-0001"}


def _refused(response, status: int, code: str) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def world(api: Api):
    deposit(api, "DEALER1", "900000.00")
    _, vins = financed_cars(api, "dealer1", ["100000.00", "100000.00", "100000.00"])
    dealer = api.org_id("DEALER1")
    api.ok(api.post("dealer1", f"/dealers/{dealer}/margin/top-up", {"amount": "50000.00"}), 201)
    return dealer, vins


@pytest.mark.parametrize("user", ["rm1", "approver1", "admin"])
def test_bank_staff_other_than_a_teller_never_act_for_a_dealer(api: Api, world, user):
    dealer, vins = world
    before = snapshot(api)
    for body in ({"mode": "full"}, {"mode": "full", "on_behalf": MANDATE}):
        _refused(api.post(user, f"/vehicles/{vins[0]}/redeem", body), 403, "forbidden")
    _refused(api.post(user, "/redemptions", {"vins": vins[:2], "mode": "full"}), 403, "forbidden")
    for path in ("/margin/withdraw", "/margin/top-up"):
        for body in ({"amount": "1.00"}, {"amount": "1.00", "on_behalf": MANDATE}):
            _refused(api.post(user, f"/dealers/{dealer}{path}", body), 403, "forbidden")
    _refused(api.post(user, f"/vehicles/{vins[0]}/release-before-repay"), 403, "forbidden")
    _refused(api.post(user, f"/vehicles/{vins[0]}/curtailment/pay"), 403, "forbidden")
    assert snapshot(api) == before


def test_a_teller_acts_for_a_dealer_only_on_its_instruction_and_it_is_recorded(api: Api, world):
    dealer, vins = world
    before = snapshot(api)
    error = _refused(
        api.post("teller1", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}),
        403,
        "on_behalf_required",
    )
    assert "on_behalf" in error["details"]
    _refused(
        api.post("teller1", f"/dealers/{dealer}/margin/withdraw", {"amount": "1.00"}),
        403,
        "on_behalf_required",
    )
    half = {"mode": "full", "on_behalf": {"reason": "at the counter", "instruction_ref": " "}}
    _refused(api.post("teller1", f"/vehicles/{vins[0]}/redeem", half), 400, "invalid_on_behalf")
    assert snapshot(api) == before

    car = api.ok(
        api.post("teller1", f"/vehicles/{vins[0]}/redeem", {"mode": "full", "on_behalf": MANDATE})
    )
    assert car["status"] == "redeemed"
    moved = api.ok(
        api.post(
            "teller1",
            f"/dealers/{dealer}/margin/withdraw",
            {"amount": "10.00", "on_behalf": {**MANDATE, "instruction_ref": "SLIP-0002"}},
        ),
        201,
    )

    with api.session() as s:
        redeemed = s.scalar(
            select(AuditRecord).where(
                AuditRecord.action == "floorplan.vehicle_redeemed", AuditRecord.object_id == vins[0]
            )
        )
        assert redeemed.actor_username == "teller1"
        assert redeemed.after["on_behalf"] == {"dealer_id": dealer, **MANDATE}
        payment = s.scalar(select(Transfer).where(Transfer.transfer_id == f"fp:redeem:{vins[0]}"))
        assert payment.created_by == "teller1"
        withdrawal = s.scalar(select(Transfer).where(Transfer.transfer_id == moved["transfer_id"]))
        assert withdrawal.created_by == "teller1" and withdrawal.reference == "SLIP-0002"

    # the dealer reads what was done in its name; another dealer cannot even see the list
    acts = api.ok(api.get("dealer1", f"/dealers/{dealer}/acts-on-behalf"))
    assert set(acts) == {"items", "next_cursor"}
    assert [a["act"] for a in acts["items"]] == ["margin_withdrawal", "redeem"]
    withdraw_act, redeem_act = acts["items"]
    assert redeem_act["object_ids"] == [vins[0]] and redeem_act["agent_username"] == "teller1"
    assert f"fp:redeem:{vins[0]}" in redeem_act["transfer_ids"]
    assert redeem_act["instruction_ref"] == "SLIP-0001" and redeem_act["agent_role"] == "teller"
    assert withdraw_act["transfer_ids"] == [moved["transfer_id"]]
    assert withdraw_act["instruction_ref"] == "SLIP-0002"
    assert api.ok(api.get("rm1", f"/dealers/{dealer}/acts-on-behalf"))["items"] == acts["items"]
    _refused(api.get("dealer2", f"/dealers/{dealer}/acts-on-behalf"), 404, "dealer_not_found")
    assert_books_balance(api)


def test_a_dealer_acts_for_itself_only(api: Api, world):
    dealer, vins = world
    before = snapshot(api)
    _refused(
        api.post("dealer1", f"/vehicles/{vins[0]}/redeem", {"mode": "full", "on_behalf": MANDATE}),
        400,
        "on_behalf_not_allowed",
    )
    _refused(
        api.post("dealer2", f"/dealers/{dealer}/margin/withdraw", {"amount": "1.00"}),
        404,
        "dealer_not_found",
    )
    _refused(
        api.post("dealer2", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}),
        404,
        "vehicle_not_found",
    )
    assert snapshot(api) == before
    # its own acts leave no act-on-behalf record
    api.ok(api.post("dealer1", f"/vehicles/{vins[0]}/redeem", {"mode": "full"}))
    assert api.ok(api.get("dealer1", f"/dealers/{dealer}/acts-on-behalf"))["items"] == []


def test_a_redemption_without_a_body_repays_nothing(api: Api, world):
    _, vins = world
    before = snapshot(api)
    path = f"/api/v1/floorplan/vehicles/{vins[0]}/redeem"
    no_body = api.client.post(path, headers=api.headers("dealer1"))
    error = _refused(no_body, 400, "validation_error")
    assert "mode" in str(error["details"])
    _refused(api.post("dealer1", f"/vehicles/{vins[0]}/redeem", {}), 400, "validation_error")
    _refused(api.post("dealer1", "/redemptions", {"vins": vins[:1]}), 400, "validation_error")
    assert snapshot(api) == before
    assert api.ok(api.get("dealer1", f"/vehicles/{vins[0]}"))["status"] == "in_stock"
