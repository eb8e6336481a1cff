"""Partial deliveries and withdrawals through the service, on SQLite and PostgreSQL: the parts
post buyer -> seller with their fees, the rest stays held, refusals change nothing, the log
replays exactly, a withdrawal leaves held funds alone and once per reference, and the day's
reconciliation with a withdrawal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend import ledger
from backend.clearing import service
from backend.clearing.models import Agreement, ClearingOrder, Difference, Funding
from backend.platform.audit import AuditRecord
from backend.platform.context import Actor
from tests.integration.test_clearing_support import NOW, assert_books, make_desk, refused

D = Decimal
DAY = date(2026, 12, 4)


@pytest.fixture
def desk(session):
    return make_desk(session, traders=2)


def _order(desk, ref):
    return desk.session.scalar(select(ClearingOrder).where(ClearingOrder.order_ref == ref))


def test_partial_deliveries_then_the_last_part(desk):
    a, b = desk.numbers
    desk.send(
        desk.instruction("order", a, "O1", "300.00", fee="1.00"),
        desk.instruction("bargain", a, "O1", "300.00", fee="0.00"),
    )
    first = desk.one(
        desk.instruction(
            "delivery", a, "O1", "100.00", fee="0.10", clearing_fee="0.05", counterparty=b
        )
    )
    assert first.status == "applied"
    order = _order(desk, "O1")
    assert (order.status, order.bargained_amount, order.delivered_amount, order.fee_held) == (
        "bargained",
        D("200.00"),
        D("100.00"),
        D("0.67"),
    )
    assert desk.balance(a) == (D("9899.85"), D("200.67"), D("9699.18"))
    assert desk.balance(b)[0] == D("10100.00")
    # more than the undelivered rest: refused with the reason, nothing changes
    before = (desk.balance(a), desk.balance(b))
    too_much = desk.one(desk.instruction("delivery", a, "O1", "200.01", counterparty=b))
    assert (too_much.status, too_much.http_status, too_much.code) == (
        "refused",
        422,
        "delivery_exceeds_bargain",
    )
    desk.seqs[a] -= 1
    assert (desk.balance(a), desk.balance(b)) == before
    assert desk.account(a).next_seq == 4
    for part in ("150.00", "50.00"):
        desk.one(desk.instruction("delivery", a, "O1", part, counterparty=b))
    order = _order(desk, "O1")
    assert (order.status, order.delivered_amount, order.fee_held) == (
        "delivered",
        D("300.00"),
        D("0.00"),
    )
    assert desk.balance(a) == (D("9699.85"), D("0.00"), D("9699.85"))
    assert desk.balance(b)[0] == D("10300.00")
    assert_books(desk.session)


def test_partial_delivery_is_one_batch_and_idempotent_by_id(desk):
    a, b = desk.numbers
    desk.send(
        desk.instruction("order", a, "O1", "100.00"),
        desk.instruction("bargain", a, "O1", "100.00"),
    )
    body = desk.instruction("delivery", a, "O1", "40.00", fee="1.00", counterparty=b)
    assert desk.one(body).status == "applied"
    again = desk.one(dict(body))
    assert (again.status, again.replayed) == ("applied", True)
    assert desk.balance(b)[0] == D("10040.00")
    other = dict(body, amount="41.00")
    assert desk.one(other).code == "instruction_id_reused"
    # the remainder cancelled: the rest of the hold released, the order closed as delivered
    desk.one(desk.instruction("cancel", a, "O1"))
    assert desk.balance(a) == (D("9959.00"), D("0.00"), D("9959.00"))
    assert _order(desk, "O1").status == "delivered"
    assert desk.one(desk.instruction("delivery", a, "O1", "1.00", counterparty=b)).code == (
        "order_already_delivered"
    )
    assert_books(desk.session)


def _trader(desk, number, username="t"):
    account = desk.account(number)
    return Actor(user_id=None, username=username, role="enterprise", org_id=account.trader_org_id)


def test_withdrawal_leaves_held_funds_and_applies_once_per_reference(desk):
    a, b = desk.numbers
    desk.one(desk.instruction("order", a, "O1", "4000.00"))
    account = desk.account(a)
    me = _trader(desk, a)

    def withdraw(amount, reference, actor=me):
        return service.withdraw_account(
            desk.session, actor, account_id=account.id, amount=amount, reference=reference, now=NOW
        )

    assert refused(withdraw, "6000.01", "w1").code == "insufficient_funds"
    assert desk.balance(a) == (D("10000.00"), D("4000.00"), D("6000.00"))
    done = withdraw("6000.00", "w1")
    assert done.amount == D("-6000.00")
    assert withdraw("6000.00", "w1").id == done.id
    assert refused(withdraw, "1.00", "w1").code == "transfer_id_reused"
    assert desk.balance(a) == (D("4000.00"), D("4000.00"), D("0.00"))
    main = ledger.balance_of(desk.session.get(ledger.Account, _main(desk, account)))
    assert main.posted == D("6000.00")
    # another trader's account is not found; bad amounts change nothing
    assert refused(withdraw, "1.00", "w2", _trader(desk, b, "u2")).kind == "not_found"
    for bad in ("NaN", "1e308", "0.001", "-1.00", "0", 10**30):
        assert refused(withdraw, bad, "w3").kind == "validation", bad
    audits = desk.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "clearing.account.withdraw")
    ).all()
    assert len(audits) == 1
    assert desk.session.scalar(select(Funding).where(Funding.amount < 0)).id == done.id
    assert_books(desk.session)


def _main(desk, account):
    return desk.session.get(Agreement, account.agreement_id).main_account_id


def test_a_day_with_a_withdrawal_reconciles_when_told_and_shows_it_when_not(desk, session):
    a, b = desk.numbers
    desk.one(desk.instruction("order", a, "O1", "100.00", trade_date=DAY.isoformat()))
    service.withdraw_account(
        session,
        _trader(desk, a),
        account_id=desk.account(a).id,
        amount="250.00",
        reference="w1",
        now=NOW,
    )
    head = "account_no,balance,held,instruction_count\n"
    told = f"{head}{a},9750.00,100.00,1\n{b},10000.00,0.00,0\n"
    run = service.reconcile(session, _staff(), desk.house, told, business_date=DAY, source="staff")
    assert (run.status, run.differences) == ("matched", 0)
    untold = f"{head}{a},10000.00,100.00,1\n{b},10000.00,0.00,0\n"
    run = service.reconcile(
        session, _staff(), desk.house, untold, business_date=DAY, source="staff"
    )
    (diff,) = session.scalars(select(Difference).where(Difference.reconciliation_id == run.id))
    assert (diff.account_no, diff.field, diff.amount) == (a, "balance", D("250.00"))
    assert (diff.ours, diff.theirs) == ("9750.00", "10000.00")
    assert_books(session)


def _staff():
    return Actor(user_id=None, username="rm-test", role="rm", org_id=None)
