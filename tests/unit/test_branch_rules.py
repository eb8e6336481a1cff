"""Pure rules of the hall: queue order with aging, starvation bound, choice by skills,
estimates; cash-task amounts, window, device state and reconciliation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.branch import rules
from backend.branch.cash import rules as cash_rules
from backend.platform.errors import ValidationFailed

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def item(i, service="cash", category="normal", boost=0, at=T0, status="waiting"):
    return rules.QueueItem(i, service, category, boost, at, status)


def test_fifo_within_a_category_and_bonus_across():
    a = item(1, at=T0)
    b = item(2, at=T0 + timedelta(seconds=30))
    vip = item(3, category="vip", at=T0 + timedelta(seconds=60))
    now = T0 + timedelta(seconds=90)
    assert [i.id for i in rules.order([b, vip, a], now)] == [3, 1, 2]


def test_nobody_starves_under_a_stream_of_priority_clients():
    """One counter, a VIP arriving every 60 s forever: the normal client is still called,
    and no later than MAX_LEAD_S after the VIPs that arrived before them are served."""
    normal = item(0, at=T0)
    queue = [normal]
    now = T0
    called_at = None
    next_id = 1
    for step in range(200):
        now = T0 + timedelta(seconds=60 * step)
        queue.append(item(next_id, category="vip", at=now))
        next_id += 1
        pick = rules.choose_next(queue, ["cash"], now)
        queue.remove(pick)
        if pick.id == 0:
            called_at = now
            break
    assert called_at is not None
    assert (called_at - T0).total_seconds() <= rules.MAX_LEAD_S + 60


def test_choice_respects_skills_and_holds_remote_tickets():
    loan = item(1, service="loan", at=T0)
    remote_cash = item(2, at=T0, status="remote")
    cash = item(3, at=T0 + timedelta(seconds=5))
    now = T0 + timedelta(minutes=1)
    assert rules.choose_next([loan, remote_cash, cash], ["cash"], now).id == 3
    assert rules.choose_next([loan, remote_cash, cash], ["loan", "cash"], now).id == 1
    assert rules.choose_next([remote_cash], ["cash"], now) is None


def test_transfer_and_return_boosts_are_bounded_priority():
    now = T0 + timedelta(minutes=10)
    returning = item(1, at=T0 + timedelta(minutes=9), boost=rules.RETURN_BOOST_S)
    early = item(2, at=T0)
    assert rules.order([early, returning], now)[0].id == 1
    much_earlier = item(3, at=T0 - timedelta(seconds=rules.MAX_LEAD_S))
    assert rules.order([returning, much_earlier], now)[0].id == 3


def test_appointment_counts_only_near_its_time():
    appt = T0 + timedelta(hours=1)
    assert rules.arrival_category("normal", appt, appt - timedelta(minutes=10)) == "appointment"
    assert rules.arrival_category("normal", appt, appt + timedelta(minutes=20)) == "normal"
    assert rules.arrival_category("vip", appt, appt) == "vip"
    assert rules.arrival_category("normal", None, T0) == "normal"


def test_estimate_uses_work_ahead_and_open_counters():
    q = [item(i, at=T0 + timedelta(seconds=i)) for i in range(1, 5)]
    counters = [("open", ["cash"]), ("open", ["cash", "loan"]), ("closed", ["cash"])]
    est = rules.estimate(q[3], q, counters, {"cash": 120.0}, T0 + timedelta(minutes=1))
    assert est.position == 4 and est.servers == 2
    assert est.estimated_wait_s == 180  # 3 ahead x 120 s / 2 counters
    first = rules.estimate(q[0], q, counters, {"cash": 120.0}, T0 + timedelta(minutes=1))
    assert first.position == 1 and first.estimated_wait_s == 0


def test_blend_mean_and_percentile():
    assert rules.blend_mean([], 300) == 300
    assert rules.blend_mean([100] * 5, 300) == 100
    assert rules.blend_mean([100], 300) == pytest.approx(260)
    assert rules.percentile([1, 2, 3, 4], 50) == 2.5
    assert rules.percentile([], 90) is None


def test_ticket_numbers_of_channels_never_collide():
    assert rules.ticket_prefix("cash", "kiosk") == "A"
    assert rules.ticket_prefix("cash", "remote") == "RA"
    assert rules.format_ticket_no("SB", 7) == "SB007"


# --------------------------------------------------------------------------- cash rules


def test_amounts_per_denomination():
    got = cash_rules.parse_amounts({"100": "200000.00", "50.00": "5000"})
    assert got == {"100.00": Decimal("200000.00"), "50.00": Decimal("5000.00")}
    for bad in (
        {},
        {"30.00": "300.00"},
        {"100.00": "150.00"},
        {"100.00": 100.5},
        {"100.00": "-100.00"},
        {"100.00": "6000000.00"},
        [],
    ):
        with pytest.raises(ValidationFailed):
            cash_rules.parse_amounts(bad)


def test_window_checks():
    cash_rules.check_window(T0, T0 + timedelta(hours=2), T0)
    for start, end in (
        (T0, T0),
        (T0, T0 + timedelta(hours=13)),
        (T0 - timedelta(hours=3), T0 - timedelta(hours=1)),
        (T0 + timedelta(days=8), T0 + timedelta(days=8, hours=1)),
    ):
        with pytest.raises(ValidationFailed):
            cash_rules.check_window(start, end, T0)


@dataclass
class Dev:
    status: str = "active"
    online: bool = True
    state: dict | None = None

    def __post_init__(self):
        self.state = self.state or {}


def test_device_state_refusals():
    ok_lock, ok_cash = Dev(state={"lock": "locked"}), Dev(state={"mode": "normal"})
    assert cash_rules.device_refusal(ok_lock, ok_cash) is None
    cases = {
        "device_unknown": (None, ok_cash),
        "device_inactive": (Dev(status="maintenance"), ok_cash),
        "lock_offline": (Dev(online=False), ok_cash),
        "cash_device_offline": (ok_lock, Dev(online=False)),
        "lock_tampered": (Dev(state={"tamper": True}), ok_cash),
        "lock_not_locked": (Dev(state={"lock": "unlocked"}), ok_cash),
        "cash_device_not_in_service": (ok_lock, Dev(state={"mode": "exchange"})),
        "safe_door_open": (ok_lock, Dev(state={"safe_door": "open"})),
    }
    for reason, (lock, cash) in cases.items():
        assert cash_rules.device_refusal(lock, cash) == reason


def test_reconciliation():
    counts = {
        "C1": {"denomination": "100.00", "before": 100, "after": 600},
        "C2": {"denomination": "100.00", "before": 50, "after": 550},
        "C3": {"denomination": "50.00", "before": 10, "after": 110},
    }
    loaded = cash_rules.loaded_by_denomination(counts)
    assert loaded == {"100.00": Decimal("100000.00"), "50.00": Decimal("5000.00")}
    planned = {"100.00": Decimal("100000.00"), "50.00": Decimal("5000.00")}
    assert cash_rules.reconcile(planned, loaded) == {}
    diffs = cash_rules.reconcile({"100.00": Decimal("100000.00")}, loaded)
    assert diffs == {"50.00": {"planned": "0.00", "counted": "5000.00", "difference": "5000.00"}}
