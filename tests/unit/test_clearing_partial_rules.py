"""Partial deliveries in the pure rules: the held fees released pro rata to the cent, the last
part taking the rounding remainder, more than the undelivered bargained amount refused, and a
cancel of the undelivered remainder."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.clearing import rules
from backend.platform.errors import BusinessRuleViolation

D = Decimal
cents = st.integers(min_value=1, max_value=10**9).map(lambda c: D(c) / 100)


def _bargained(amount: str, fee: str) -> rules.OrderState:
    s = rules.step(None, "order", D(amount), D(fee)).state
    return rules.step(s, "bargain", D(amount), D("0.00")).state


def test_three_parts_release_the_held_fee_pro_rata_and_add_up():
    s = _bargained("100.00", "1.00")
    paid = []
    for part in ("33.33", "33.33", "33.34"):
        before = s.hold_total
        done = rules.step(s, "delivery", D(part), D("0.10"), D("0.05"))
        assert (done.pays, done.receives) == (D(part) + D("0.15"), D(part))
        paid.append(before - done.state.hold_total - D(part))
        s = done.state
    assert paid == [D("0.33"), D("0.33"), D("0.34")] and sum(paid) == D("1.00")
    assert (s.status, s.delivered, s.hold_total) == ("delivered", D("100.00"), 0)


def test_more_than_the_undelivered_rest_is_refused():
    s = rules.step(_bargained("100.00", "0"), "delivery", D("60.00"), D("0")).state
    assert (s.status, s.bargained, s.delivered) == ("bargained", D("40.00"), D("60.00"))
    with pytest.raises(BusinessRuleViolation) as info:
        rules.step(s, "delivery", D("40.01"), D("0"))
    assert info.value.code == "delivery_exceeds_bargain"


def test_cancel_of_the_remainder_after_a_partial_delivery():
    s = rules.step(_bargained("100.00", "3.00"), "delivery", D("10.00"), D("0")).state
    assert s.fee_held == D("2.70")
    done = rules.step(s, "cancel", D("0"), D("0"))
    assert (done.state.status, done.state.delivered, done.state.hold_total) == (
        "delivered",
        D("10.00"),
        0,
    )
    with pytest.raises(BusinessRuleViolation):
        rules.step(done.state, "delivery", D("1.00"), D("0"))
    # nothing delivered yet and nothing open: still nothing to cancel (the bargain binds)
    with pytest.raises(BusinessRuleViolation) as info:
        rules.step(_bargained("5.00", "0"), "cancel", D("0"), D("0"))
    assert info.value.code == "nothing_to_cancel"


def test_a_partial_delivery_keeps_the_open_part_open():
    s = rules.step(None, "order", D("100.00"), D("0")).state
    s = rules.step(s, "bargain", D("50.00"), D("0")).state
    s = rules.step(s, "delivery", D("20.00"), D("0")).state
    assert (s.status, s.open_amount, s.bargained, s.delivered) == (
        "open",
        D("50.00"),
        D("30.00"),
        D("20.00"),
    )


@settings(max_examples=60, deadline=None)
@given(fee=cents, total=cents, cuts=st.lists(st.integers(1, 99), max_size=6))
def test_fee_shares_add_up_exactly(fee, total, cuts):
    remaining, held, released = total, fee, D("0.00")
    for cut in cuts:
        part = (remaining * cut / 100).quantize(D("0.01"))
        if not 0 < part < remaining:
            continue
        share = rules.fee_share(held, part, remaining)
        assert D("0.00") <= share <= held
        assert abs(share - fee * part / total) <= D("0.01") * (len(cuts) + 1)
        held, remaining, released = held - share, remaining - part, released + share
    assert released + rules.fee_share(held, remaining, remaining) == fee


def test_the_simulators_day_has_partial_deliveries_and_its_books_add_up():
    from datetime import date

    from backend.clearing.sim import Opening, plan_day

    openings = {f"T{i}": Opening(balance=D("100000.00")) for i in range(4)}
    bodies, expected = plan_day(openings, 300, seed=7, trade_date=date(2026, 12, 4), prefix="S")
    orders: dict = {}
    partial = 0
    balances = {n: D("100000.00") for n in openings}
    for body in bodies:
        p = rules.parse_instruction(body)
        before = orders.get(p.order_ref)
        done = rules.step(before, p.kind, p.amount, p.fee, p.clearing_fee)
        if p.kind == "delivery" and p.amount < before.bargained:
            partial += 1
        orders[p.order_ref] = done.state
        balances[p.account_no] -= done.pays
        if p.counterparty_no:
            balances[p.counterparty_no] += done.receives
    assert partial >= 5
    assert {n: e[0] for n, e in expected.items()} == balances
    for n in openings:
        held = sum(s.hold_total for r, s in orders.items() if r in _refs(bodies, n))
        assert expected[n][1] == held and balances[n] - held >= 0


def _refs(bodies, number):
    return {b["order"] for b in bodies if b["account"] == number}
