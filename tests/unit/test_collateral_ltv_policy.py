"""The LTV policy file and the LTV arithmetic (exact integer basis points, pro-rata shares)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
import yaml

from backend.collateral.monitoring.ltv import allocate, ltv_bp
from backend.collateral.monitoring.policy import POLICY, PolicyError, load_policy, parse_policy


def good() -> dict:
    return yaml.safe_load(
        """
version: 3
products:
  loan: {warn_bp: 7000, alarm_bp: 8000, block_bp: 9000, blocks: true}
  floorplan_line: {warn_bp: 6000, alarm_bp: 7000, block_bp: 8000, blocks: true}
  factoring_agreement: {warn_bp: 6500, alarm_bp: 7500, block_bp: 8500, blocks: false}
"""
    )


def test_the_shipped_policy_loads_with_the_loan_thresholds():
    loan = POLICY.of("loan")
    assert (loan.warn_bp, loan.alarm_bp, loan.block_bp, loan.blocks) == (7000, 8000, 9000, True)
    assert POLICY.version >= 1
    assert [loan.level(bp) for bp in (None, 0, 6999, 7000, 7999, 8000, 8999, 9000, 20000)] == [
        None, "ok", "ok", "warn", "warn", "alarm", "alarm", "block", "block"
    ]  # fmt: skip
    assert (loan.severity("warn"), loan.severity("alarm"), loan.severity("block")) == (
        None,
        "high",
        "critical",
    )
    assert POLICY.of("factoring_agreement").severity("block") == "high"  # it does not block


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["products"].pop("loan"), "missing ['loan']"),
        (lambda d: d["products"].update(mortgage={}), "unknown ['mortgage']"),
        (lambda d: d["products"]["loan"].update(alarm_bp=9500), "warn < alarm < block"),
        (lambda d: d["products"]["loan"].update(warn_bp="70%"), "loan.warn_bp"),
        (lambda d: d["products"]["loan"].update(warn_bp=70.5), "loan.warn_bp"),
        (lambda d: d["products"]["loan"].update(block_bp=10**9), "between 1 and"),
        (lambda d: d["products"]["loan"].update(blocks="yes"), "loan.blocks"),
        (lambda d: d["products"]["loan"].update(blok_bp=1), "unknown keys ['blok_bp']"),
        (lambda d: d.update(version=0), "version"),
    ],
)
def test_a_bad_policy_is_refused_with_a_clear_message(change, message):
    doc = good()
    parse_policy(doc)
    change(doc)
    with pytest.raises(PolicyError) as exc:
        parse_policy(doc)
    assert message in str(exc.value)


def test_an_unreadable_policy_file_is_refused(tmp_path):
    path = tmp_path / "ltv_policy.yaml"
    path.write_text("version: 1\nproducts: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(path)
    path.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="a mapping"):
        load_policy(path)


def test_ltv_is_exact_in_basis_points_rounded_half_up():
    assert ltv_bp(Decimal("700000.00"), Decimal("1000000.00")) == 7000
    assert ltv_bp(Decimal("1.00"), Decimal("3.00")) == 3333  # 3333.33…
    assert ltv_bp(Decimal("2.00"), Decimal("3.00")) == 6667  # 6666.67…
    assert ltv_bp(Decimal("0.01"), Decimal("200.00")) == 1  # 0.5 bp rounds up
    assert ltv_bp(Decimal("0.01"), Decimal("200.01")) == 0
    assert ltv_bp(Decimal("5.00"), Decimal("0")) is None
    # no float anywhere: 0.1 + 0.2 of a million is still exact
    assert ltv_bp(Decimal("300000.00"), Decimal("1000000.00")) == 3000


def test_a_shared_property_is_allocated_pro_rata_to_outstanding():
    a, b, c = ("loan", "A"), ("loan", "B"), ("loan", "C")
    shares = allocate(
        {a: Decimal("300000.00"), b: Decimal("100000.00"), c: Decimal("0.00")},
        {1: [a, b], 2: [a], 3: [c]},
        {1: Decimal("800000.00"), 2: Decimal("200000.00"), 3: Decimal("500000.00")},
    )
    assert shares[a] == Fraction(600000) + Fraction(200000)
    assert shares[b] == Fraction(200000)
    assert shares[c] == Fraction(500000)
    # A and B share property 1: both see the combined LTV on it (400k / 800k = 50 %)
    assert ltv_bp(Decimal("100000.00"), shares[b]) == 5000
    assert ltv_bp(Decimal("300000.00"), shares[a]) == 3750
    # all zero: equal shares
    zero = allocate({a: Decimal(0), b: Decimal(0)}, {1: [a, b]}, {1: Decimal("10.00")})
    assert zero[a] == zero[b] == 5
