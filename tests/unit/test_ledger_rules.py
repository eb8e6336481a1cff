"""Pure ledger rules: input validation and the balance arithmetic of each transfer kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.ledger import rules
from backend.platform.errors import BusinessRuleViolation, DomainError, ValidationFailed

D = Decimal
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def acct(i, credits="0", debits="0", *, limit="debit", currency="CNY", status="open"):
    return rules.Balances(
        account_id=i,
        currency=currency,
        status=status,
        debits_posted=D(debits),
        credits_posted=D(credits),
        debits_pending=D(0),
        credits_pending=D(0),
        debits_must_not_exceed_credits=limit == "debit",
        credits_must_not_exceed_debits=limit == "credit",
    )


def code_of(call) -> str:
    with pytest.raises(DomainError) as info:
        call()
    return info.value.code


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.01", D("0.01")), ("1", D("1.00")), (D("1.1"), D("1.10")), (7, D("7.00"))],
)
def test_valid_amounts(value, expected):
    assert rules.validate_amount(value) == expected


@pytest.mark.parametrize(
    "value", ["0", "-0.01", "1.001", 0.5, True, "1e400", "inf", "", None, "10000000000000.00"]
)
def test_invalid_amounts(value):
    with pytest.raises(ValidationFailed) as info:
        rules.validate_amount(value)
    assert info.value.code == "invalid_amount"


@pytest.mark.parametrize("value", ["t1", "A.b:c/d@e#f-g_h", "x" * 64])
def test_valid_transfer_ids(value):
    assert rules.validate_transfer_id(value) == value


@pytest.mark.parametrize("value", ["", "x" * 65, "a b", "h~post", "-lead", None, 12])
def test_invalid_transfer_ids(value):
    assert code_of(lambda: rules.validate_transfer_id(value)) == "invalid_transfer_id"


def test_kinds_flags_and_sides():
    assert rules.default_flags("deposit") == (True, False)
    assert rules.default_flags("margin") == (True, False)
    assert rules.default_flags("cash_in_device") == (False, True)
    assert rules.default_flags("internal") == (False, False)
    assert rules.normal_side("loan") == "debit" and rules.normal_side("deposit") == "credit"
    assert code_of(lambda: rules.validate_flags(True, True)) == "invalid_account_flags"
    assert code_of(lambda: rules.validate_account_kind("x")) == "invalid_account_kind"
    assert code_of(lambda: rules.validate_currency("EURO")) == "invalid_currency"
    assert rules.validate_currency("USD") == "USD"


def test_timeouts():
    assert rules.validate_timeout(None, None) is None
    assert rules.validate_timeout(60, None) == 60
    for timeout, expires in (
        (0, None),
        (True, None),
        ("5", None),
        (10, NOW),
        (None, NOW.replace(tzinfo=None)),
    ):
        assert (
            code_of(lambda t=timeout, e=expires: rules.validate_timeout(t, e)) == "invalid_timeout"
        )


def test_single_moves_posted_totals():
    a, b = acct(1, credits="100"), acct(2)
    rules.apply_single(a, b, D("40.00"), "CNY")
    assert a.totals() == (D(40), D(100), 0, 0) and b.totals() == (0, D(40), 0, 0)
    assert rules.view(a, "deposit") == rules.BalanceView(D(60), D(0), D(60))


def test_refused_leg_leaves_both_copies_unchanged():
    a, b = acct(1, credits="100"), acct(2)
    assert code_of(lambda: rules.apply_single(a, b, D("100.01"), "CNY")) == "insufficient_funds"
    assert a.totals() == (0, D(100), 0, 0) and b.totals() == (0, 0, 0, 0)
    assert code_of(lambda: rules.apply_single(a, b, D(1), "USD")) == "currency_mismatch"
    assert code_of(lambda: rules.apply_single(a, a, D(1), "CNY")) == "accounts_must_differ"
    closed = acct(3, status="closed")
    assert code_of(lambda: rules.apply_single(a, closed, D(1), "CNY")) == "account_closed"
    assert a.totals() == (0, D(100), 0, 0)


def test_pending_counts_against_available_and_post_releases_the_rest():
    a, m = acct(1, credits="100"), acct(2)
    rules.apply_pending(a, m, D("70.00"), "CNY")
    assert rules.view(a, "deposit") == rules.BalanceView(D(100), D(70), D(30))
    assert code_of(lambda: rules.apply_pending(a, m, D("30.01"), "CNY")) == "insufficient_funds"
    assert code_of(lambda: rules.apply_single(a, m, D("30.01"), "CNY")) == "insufficient_funds"
    assert code_of(lambda: rules.apply_post(a, m, D(70), D("70.01"))) == "amount_exceeds_hold"
    rules.apply_post(a, m, D(70), D("25.00"))
    assert a.totals() == (D(25), D(100), 0, 0) and m.totals() == (0, D(25), 0, 0)
    assert rules.view(a, "deposit") == rules.BalanceView(D(75), D(0), D(75))


def test_release_returns_the_hold():
    a, m = acct(1, credits="10"), acct(2)
    rules.apply_pending(a, m, D("10.00"), "CNY")
    rules.apply_release(a, m, D("10.00"))
    assert a.totals() == (0, D(10), 0, 0) and m.totals() == (0, 0, 0, 0)
    with pytest.raises(AssertionError):
        rules.apply_release(a, m, D("0.01"))  # releasing what is not held: a bug, not input


def test_credit_limited_account():
    cash, bank = acct(1, debits="50", limit="credit"), acct(2, limit=None)
    assert code_of(lambda: rules.apply_single(bank, cash, D("50.01"), "CNY")) == "exceeds_debits"
    rules.apply_pending(bank, cash, D("50.00"), "CNY")
    assert rules.view(cash, "cash_in_device") == rules.BalanceView(D(50), D(50), D(0))
    assert code_of(lambda: rules.apply_single(bank, cash, D("0.01"), "CNY")) == "exceeds_debits"


def test_hold_resolution_rules():
    rules.check_resolvable("pending", None, NOW, "h")
    rules.check_resolvable("pending", NOW + timedelta(seconds=1), NOW, "h")
    assert code_of(lambda: rules.check_resolvable("pending", NOW, NOW, "h")) == "hold_expired"
    for state in ("posted", "voided", "expired"):
        assert (
            code_of(lambda s=state: rules.check_resolvable(s, None, NOW, "h"))
            == "hold_already_resolved"
        )


def test_closing_needs_an_empty_account():
    rules.check_closable(acct(1, credits="5", debits="5"))
    assert code_of(lambda: rules.check_closable(acct(1, credits="5"))) == "account_not_empty"
    held = acct(1, credits="5")
    held.debits_pending = D(1)
    with pytest.raises(BusinessRuleViolation) as info:
        rules.check_closable(held)
    assert info.value.code == "account_has_holds"
