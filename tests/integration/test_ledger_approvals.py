"""Maker-checker for large ledger movements (issue 13, item 11): a teller's transfer or hold above
the configured limit waits for a second user with approver rights; the maker cannot approve their
own; the request is idempotent and audited; nothing moves before the approval."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from backend import ledger
from backend.ledger.models import ApprovalRequest, Transfer
from backend.platform.audit import AuditRecord
from backend.platform.config import Config, ConfigError
from backend.platform.context import SYSTEM
from tests.integration.test_ledger_api import api as _api  # noqa: F401  (fixture)
from tests.integration.test_ledger_api import expect

LIMIT = Decimal("500.00")


@pytest.fixture
def api(_api):  # noqa: F811
    ext = _api.app.extensions["finedge"]
    ext.config = ext.config.with_overrides(
        ledger_transfer_approval_limit=LIMIT, ledger_hold_approval_limit=LIMIT
    )
    return _api


def big(api, tid, amount="900.00", debit="funding", credit="DEALER1"):
    return {
        "transfer_id": tid,
        "debit_account_id": api.accounts[debit],
        "credit_account_id": api.accounts[credit],
        "amount": amount,
        "code": "payout",
    }


def balance(api, key) -> Decimal:
    with api.session() as s:
        return ledger.get_balance(s, SYSTEM, api.accounts[key]).posted


def test_a_large_transfer_waits_for_a_different_approver(api):
    before = balance(api, "DEALER1")
    body = expect(api.post("teller1", "/transfers", big(api, "big-1")), 202)
    assert (body["status"], body["maker_username"], body["amount"]) == (
        "pending",
        "teller1",
        "900.00",
    )
    assert balance(api, "DEALER1") == before  # nothing moved yet
    with api.session() as s:
        assert s.scalar(select(Transfer).where(Transfer.transfer_id == "big-1")) is None

    # the same request again: the same waiting request, not a second one
    again = expect(api.post("teller1", "/transfers", big(api, "big-1")), 202)
    assert again["id"] == body["id"]
    # the same id with other fields: refused
    expect(
        api.post("teller1", "/transfers", big(api, "big-1", amount="901.00")),
        409,
        "transfer_id_reused",
    )
    # a teller is no checker; a dealer sees nothing of it
    expect(api.post("teller1", f"/approvals/{body['id']}/approve"), 403, "forbidden")
    expect(api.post("dealer1", f"/approvals/{body['id']}/approve"), 403, "forbidden")
    pending = expect(api.get("approver1", "/approvals"), 200)
    assert [r["transfer_id"] for r in pending["items"]] == ["big-1"]

    done = expect(api.post("approver1", f"/approvals/{body['id']}/approve"), 200)
    assert done["approval"]["status"] == "approved"
    assert done["approval"]["checker_username"] == "approver1"
    assert done["transfer"]["transfer_id"] == "big-1"
    assert balance(api, "DEALER1") == before + Decimal("900.00")
    # decided once; the maker's retry now replays the applied transfer
    expect(
        api.post("approver1", f"/approvals/{body['id']}/approve"), 422, "approval_already_decided"
    )
    replay = expect(api.post("teller1", "/transfers", big(api, "big-1")), 200)
    assert replay["replayed"] is True
    assert balance(api, "DEALER1") == before + Decimal("900.00")
    with api.session() as s:
        actions = [
            (a.action, a.actor_username)
            for a in s.scalars(
                select(AuditRecord)
                .where(AuditRecord.action.like("ledger.%"))
                .order_by(AuditRecord.id)
            )
        ][-3:]
    assert actions == [
        ("ledger.approval_requested", "teller1"),
        ("ledger.transfer", "approver1"),
        ("ledger.approval_approved", "approver1"),
    ]


def test_the_maker_cannot_approve_their_own_request(api):
    # admin has approver rights, but not over a request it made itself
    body = expect(api.post("admin", "/transfers", big(api, "big-own")), 202)
    expect(api.post("admin", f"/approvals/{body['id']}/approve"), 403, "maker_checker_violation")
    expect(api.post("admin", f"/approvals/{body['id']}/reject"), 403, "maker_checker_violation")
    with api.session() as s:
        assert s.get(ApprovalRequest, body["id"]).status == "pending"
        assert s.scalar(select(Transfer).where(Transfer.transfer_id == "big-own")) is None
    # another approver may
    expect(api.post("approver1", f"/approvals/{body['id']}/approve"), 200)


def test_a_large_hold_waits_and_a_rejection_moves_nothing(api):
    before = balance(api, "DEALER1")
    body = expect(
        api.post("teller1", "/holds", big(api, "hold-big", debit="DEALER1", credit="funding")),
        202,
    )
    assert body["kind"] == "pending"
    got = expect(api.post("approver1", f"/approvals/{body['id']}/reject", {"note": "no"}), 200)
    assert (got["approval"]["status"], got["transfer"]) == ("rejected", None)
    with api.session() as s:
        assert s.scalar(select(Transfer).where(Transfer.transfer_id == "hold-big")) is None
        assert ledger.get_balance(s, SYSTEM, api.accounts["DEALER1"]).available == before


def test_within_the_limit_nothing_waits_and_batches_cannot_bypass_it(api):
    expect(api.post("teller1", "/transfers", big(api, "small-1", amount="500.00")), 201)
    body = expect(
        api.post(
            "teller1",
            "/batches",
            {"transfers": [big(api, "b-1", amount="10.00"), big(api, "b-2", amount="500.01")]},
        ),
        422,
        "approval_required",
    )
    assert body["error"]["details"]["index"] == 1
    with api.session() as s:
        assert s.scalar(select(Transfer).where(Transfer.transfer_id == "b-1")) is None


def test_limits_come_from_the_environment():
    config = Config.from_env(
        {
            "FINEDGE_ENV": "test",
            "FINEDGE_LEDGER_TRANSFER_APPROVAL_LIMIT": "250000.00",
            "FINEDGE_LEDGER_HOLD_APPROVAL_LIMIT": "10",
        }
    )
    assert config.ledger_transfer_approval_limit == Decimal("250000.00")
    assert config.ledger_hold_approval_limit == Decimal("10.00")
    assert Config.from_env({"FINEDGE_ENV": "test"}).ledger_transfer_approval_limit == Decimal(
        "1000000.00"
    )
    with pytest.raises(ConfigError, match="FINEDGE_LEDGER_HOLD_APPROVAL_LIMIT"):
        Config.from_env({"FINEDGE_ENV": "test", "FINEDGE_LEDGER_HOLD_APPROVAL_LIMIT": "-1"})
