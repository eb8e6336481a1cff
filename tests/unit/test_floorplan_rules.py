"""Pure floor-plan rules: ratios, allocation, the maturity sweep plan, dates, aging, audit
sampling and risk tiers (property tests where an invariant says more than examples)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.floorplan import rules
from backend.platform.errors import ValidationFailed

money = st.integers(min_value=1, max_value=10**11).map(lambda fen: Decimal(fen) / 100)


@given(total=money, weights=st.lists(money, min_size=1, max_size=40))
def test_allocate_adds_up_exactly_and_stays_proportional(total, weights):
    parts = rules.allocate(total, weights)
    assert sum(parts) == total
    assert all(p >= 0 and p == p.quantize(Decimal("0.01")) for p in parts)
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - total * weight / weight_sum) < Decimal("0.01")


def test_allocate_examples():
    assert rules.allocate(Decimal("100.00"), [Decimal(1)] * 3) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert rules.allocate(Decimal("0.00"), [Decimal(5)]) == [Decimal("0.00")]
    assert rules.allocate(Decimal("9.00"), []) == []


units = st.lists(
    st.tuples(money, st.integers(min_value=0, max_value=100)).map(
        lambda t: rules.SweepUnit("v", t[0], (t[0] * t[1] / 100).quantize(Decimal("0.01")))
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=200)
@given(units=units, margin=money, deposit=money)
def test_sweep_plan_conserves_money(units, margin, deposit):
    plan = rules.plan_sweep(units, margin, deposit)
    owed = sum(u.outstanding for u in units)
    paid = sum(line.margin_posted + line.covered + line.advanced for line in plan.lines)
    assert paid == owed
    assert plan.from_margin + plan.from_deposit + plan.shortfall + plan.margin_posted == owed
    pairs = list(zip(units, plan.lines, strict=True))
    released = sum(u.margin_held - line.margin_posted for u, line in pairs)
    assert plan.from_margin <= margin + released
    assert plan.from_deposit <= deposit
    assert all(line.margin_posted <= u.margin_held for u, line in pairs)
    if plan.shortfall > 0:  # only short when both sources ran dry
        assert plan.from_deposit == deposit
        assert plan.from_margin == margin + released


def test_sweep_plan_example_with_a_shortfall():
    car = rules.SweepUnit("A", Decimal("100.00"), Decimal("30.00"))
    plan = rules.plan_sweep([car, car], Decimal("10.00"), Decimal("50.00"))
    assert [(line.margin_posted, line.covered, line.advanced) for line in plan.lines] == [
        (Decimal("30.00"), Decimal("60.00"), Decimal("10.00")),
        (Decimal("30.00"), Decimal("0.00"), Decimal("70.00")),
    ]
    assert plan.shortfall == Decimal("80.00")


def test_ratios_are_exact_basis_points():
    assert rules.ratio_to_bp("0.30") == 3000
    assert rules.ratio_to_bp("1") == 10000
    assert rules.bp_to_ratio(1250) == "0.1250"
    assert rules.share(Decimal("333.33"), 3000) == Decimal("100.00")
    for bad in ("1.5", "-0.1", "0.12345", "abc", 0.3, True, "NaN"):
        with pytest.raises(ValidationFailed):
            rules.ratio_to_bp(bad)


def test_vins():
    assert rules.validate_vin("LDM00100000000001") == "LDM00100000000001"
    for bad in ("LDM0010000000000", "LDM0010000000000I", "ldm00100000000001", None, 17):
        with pytest.raises(ValidationFailed):
            rules.validate_vin(bad)


def test_months_clip_to_the_end_of_the_month():
    assert rules.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert rules.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert rules.add_months(date(2026, 8, 15), 6) == date(2027, 2, 15)


def test_aging_levels_and_severities():
    thresholds = [90, 120, 180]
    assert rules.aging_level(89, thresholds) == 0
    assert rules.aging_level(90, thresholds) == 90
    assert rules.aging_level(200, thresholds) == 180
    assert [rules.aging_severity(t, thresholds) for t in thresholds] == [
        "weak",
        "medium",
        "strong",
    ]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert rules.days_between(start, start + timedelta(days=3, hours=5)) == 3
    assert rules.days_between(None, start) == 0


def test_risk_tiers_and_audit_sampling():
    calm = rules.DealerRiskFacts(100, 5, 0, 0, Decimal(0), 0)
    assert rules.dealer_risk_tier(calm) == "low"
    assert rules.dealer_risk_tier(calm.__class__(100, 30, 0, 0, Decimal(0), 0)) == "medium"
    assert rules.dealer_risk_tier(calm.__class__(100, 0, 1, 0, Decimal(0), 0)) == "high"
    assert rules.dealer_risk_tier(calm.__class__(100, 0, 0, 0, Decimal("1.00"), 0)) == "high"
    assert rules.sample_size(5, 2000) == 5
    assert rules.sample_size(100, 2000) == 20
    assert rules.sample_size(30, 2000) == 10
    vins = [f"V{i:016d}" for i in range(100)]
    one = rules.sample_vins(vins, 2000, "audit1")
    assert len(one) == 20 and one == rules.sample_vins(vins, 2000, "audit1")
    assert one != rules.sample_vins(vins, 2000, "audit2")
    assert rules.sample_vins(vins, 10000, "x") == sorted(vins)


def test_severity_order():
    ranks = [rules.severity_rank(s) for s in ("weak", "medium", "strong", "hard")]
    assert ranks == sorted(ranks)
