"""The asset pool's pure arithmetic: eligibility and its reasons, haircuts by tier, capacity,
fees, configuration validation, the ladder's dates and projection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.assetpool import rules
from backend.platform.errors import ValidationFailed

C = rules.DEFAULT_CONFIG
TODAY = date(2030, 6, 1)


def test_eligibility_reasons_and_haircuts():
    ok = rules.eligibility(C, "ebill", "CMB", date(2030, 9, 1), TODAY)
    assert ok.eligible and ok.tier == "joint_stock" and ok.haircut_bp == 9500
    assert ok.value(Decimal("100.00")) == Decimal("95.00")
    bad = rules.eligibility(C, "ebill", "NOSUCH", date(2030, 6, 3), TODAY)
    assert not bad.eligible and bad.reasons == ("issuer_not_eligible", "tenor_too_short")
    assert bad.value(Decimal("100.00")) == rules.ZERO
    assert rules.eligibility(C, "ebill", "ICBC", date(2032, 1, 1), TODAY).reasons == (
        "tenor_too_long",
    )
    assert rules.eligibility(C, "ebill", "ICBC", TODAY, TODAY).reasons == ("matured",)
    assert rules.eligibility(C, "edeposit", "NBCB", date(2030, 9, 1), TODAY).haircut_bp == 10000
    assert rules.eligibility(C, "ebill", "NBCB", date(2030, 9, 1), TODAY).haircut_bp == 9000


def test_capacity_rounds_down_and_fees_half_up():
    assert rules.valued(Decimal("0.03"), 9500) == Decimal("0.02")
    margin_value, cap = rules.capacity(Decimal("10.00"), Decimal("5.55"), 5000, Decimal("3.00"))
    assert margin_value == Decimal("2.77") and cap == Decimal("9.77")
    assert rules.capacity(Decimal("1.00"), Decimal("-9.00"), 10000, rules.ZERO)[1] == Decimal(
        "1.00"
    )
    assert rules.bill_charges({**C, "margin_ratio_bp": 1000}, Decimal("1000.10")) == (
        Decimal("0.50"),
        Decimal("100.01"),
    )


@pytest.mark.parametrize(
    "values",
    [
        {"fee_rate_bp": 1.5},
        {"fee_rate_bp": True},
        {"margin_ratio_bp": 10001},
        {"min_tenor_days": 400, "max_tenor_days": 300},
        {"issuers": {}},
        {"issuers": {"ICBC": "gold"}},
        {"haircuts_bp": {"ebill": {"state": 1}, "edeposit": 1, "margin": 1}},
        {"haircuts_bp": {"ebill": 1}},
        {"max_bill_days": 0},
        {"unknown": 1},
    ],
)
def test_bad_configurations_are_refused(values):
    with pytest.raises(ValidationFailed):
        rules.validate_config(values)


def test_a_partial_configuration_keeps_the_rest():
    merged = rules.validate_config({"fee_rate_bp": 8})
    assert merged["fee_rate_bp"] == 8 and merged["issuers"] == C["issuers"]


def test_ladder_dates():
    assert rules.bucket_ends(TODAY, "week", 2) == [date(2030, 6, 8), date(2030, 6, 15)]
    assert rules.bucket_ends(date(2030, 11, 15), "month", 3) == [
        date(2030, 11, 30),
        date(2030, 12, 31),
        date(2031, 1, 31),
    ]


def test_projection_turns_assets_into_cash_and_pays_bills():
    assets = [rules.LadderAsset(Decimal("100.00"), "ebill", "CMB", date(2030, 7, 1))]
    bills = [rules.LadderBill(Decimal("40.00"), date(2030, 8, 1))]
    now = rules.project(C, assets, bills, Decimal("10.00"), TODAY)
    assert now["capacity"] == Decimal("95.00") + Decimal("10.00") - Decimal("40.00")
    later = rules.project(C, assets, bills, Decimal("10.00"), date(2030, 8, 2))
    assert later["margin_cash"] == Decimal("70.00") and later["capacity"] == Decimal("70.00")


@settings(max_examples=60, deadline=None)
@given(
    amount=st.integers(1, 10**12).map(lambda c: Decimal(c) / 100),
    bp=st.integers(0, 10000),
)
def test_value_never_exceeds_the_amount(amount, bp):
    value = rules.valued(amount, bp)
    assert rules.ZERO <= value <= amount and value == value.quantize(rules.CENT)
