"""Pure factoring rules: the invoice key, rates, pricing, transitions, overdue report days."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.factoring import rules
from backend.platform.errors import Conflict, ValidationFailed


def test_invoice_numbers_are_normalised_per_core_enterprise():
    assert rules.invoice_key(7, "fp-2026/001") == rules.invoice_key(7, "FP 2026.001")
    assert rules.invoice_key(7, "A1") != rules.invoice_key(8, "A1")
    assert rules.claim_key(rules.invoice_key(7, "A1"), 2) == "org7:A1#2"
    for bad in ("", " x", "<x>", "x" * 41, None, 12):
        with pytest.raises(ValidationFailed):
            rules.normalise_invoice_no(bad)


def test_rates_are_exact_basis_points():
    assert rules.rate_bp("0.90", "r") == 9000
    assert rules.rate_bp("0.0435", "r") == 435
    assert rules.bp_to_ratio(435) == "0.0435"
    for bad in ("0.00001", "1.5", "-0.1", "NaN", "abc", 0.9, True):
        with pytest.raises(ValidationFailed):
            rules.rate_bp(bad, "r")


def test_pricing_takes_interest_and_fee_up_front():
    p = rules.price(
        Decimal("200000.00"),
        advance_rate_bp=9000,
        interest_rate_bp=435,
        fee_rate_bp=20,
        today=date(2026, 1, 1),
        maturity=date(2026, 4, 1),
    )
    assert p.days == 90 and p.advance == Decimal("180000.00")
    assert p.interest == Decimal("1957.50") and p.fee == Decimal("360.00")
    assert p.disbursed == Decimal("177682.50")
    assert p.bank_share + p.holder_rest == p.amount


@settings(max_examples=200)
@given(
    fen=st.integers(1, 10**13),
    adv=st.integers(1, 10_000),
    rate=st.integers(0, 2500),
    fee=st.integers(0, 1000),
    days=st.integers(1, 366),
)
def test_pricing_is_exact_to_the_cent_and_never_pays_out_more_than_the_amount(
    fen, adv, rate, fee, days
):
    amount = Decimal(fen) / 100
    p = rules.price(
        amount,
        advance_rate_bp=adv,
        interest_rate_bp=rate,
        fee_rate_bp=fee,
        today=date(2026, 1, 1),
        maturity=date.fromordinal(date(2026, 1, 1).toordinal() + days),
    )
    for value in (p.advance, p.interest, p.fee, p.disbursed):
        assert value == value.quantize(Decimal("0.01"))
    assert 0 <= p.advance <= amount
    assert p.disbursed + p.interest + p.fee + p.holder_rest == amount


def test_transitions():
    assert rules.move("REGISTERED", "CONFIRMED") == "CONFIRMED"
    assert rules.move("FINANCED", "PAID") == "PAID"
    for status, to in (("SETTLED", "PAID"), ("REGISTERED", "FINANCED"), ("PAID", "FINANCED")):
        with pytest.raises(Conflict):
            rules.move(status, to)


def test_overdue_report_days():
    assert [rules.overdue_bucket(d) for d in (0, 1, 29, 30, 89, 90, 400)] == [
        None,
        1,
        1,
        30,
        30,
        90,
        90,
    ]
