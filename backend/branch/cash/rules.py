"""Pure rules of a cash task: amounts per denomination, the window, the two loaders, the
device state a lock may be opened in, and the reconciliation of counted notes with the task.

States: planned -> approved -> unlocked -> loaded -> closed, or cancelled (before unlocking).
``phase`` says more within a state: awaiting_approval, awaiting_loaders, verifying, armed
(unlock sent), unlocked, exchange, count_mismatch, booking_failed, loaded, closed, cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from backend.platform.errors import ValidationFailed
from backend.platform.money import format_money, parse_money

STATUSES = ("planned", "approved", "unlocked", "loaded", "closed", "cancelled")
OPEN_STATUSES = ("planned", "approved", "unlocked", "loaded")
DENOMINATIONS = ("100.00", "50.00", "20.00", "10.00", "5.00", "1.00")
MAX_TASK_TOTAL = Decimal("5000000.00")
MAX_WINDOW = timedelta(hours=12)
MAX_LEAD = timedelta(days=7)
UNLOCK_TTL_S = 120  # the one-time unlock: signed command and arming both expire after this
VERIFY_FRESH_S = 120  # both loaders must have verified within this of each other and now
MAX_ARMS = 3


def parse_amounts(raw: object) -> dict[str, Decimal]:
    """{denomination: amount}: known denominations, positive whole numbers of notes."""
    if not isinstance(raw, Mapping) or not raw:
        raise ValidationFailed(
            "amounts maps denominations to amounts",
            details={"amounts": ['e.g. {"100.00": "200000.00"}']},
        )
    out: dict[str, Decimal] = {}
    errors: dict[str, list[str]] = {}
    for key, value in raw.items():
        try:
            denom = format_money(parse_money(key, field="denomination", positive=True))
        except ValidationFailed:
            denom = str(key)
        if denom not in DENOMINATIONS:
            errors[str(key)] = [f"denomination one of {', '.join(DENOMINATIONS)}"]
            continue
        try:
            amount = parse_money(value, field=denom, positive=True)
        except ValidationFailed as exc:
            errors[denom] = [exc.message]
            continue
        if amount % Decimal(denom):
            errors[denom] = [f"a whole number of {denom} notes"]
            continue
        out[denom] = out.get(denom, Decimal("0")) + amount
    if errors:
        raise ValidationFailed("invalid amounts", details={"amounts": errors})
    if sum(out.values()) > MAX_TASK_TOTAL:
        raise ValidationFailed(
            f"a task loads at most {MAX_TASK_TOTAL}",
            details={"amounts": [f"total at most {MAX_TASK_TOTAL}"]},
        )
    return out


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    problems = []
    if end <= start:
        problems.append("window_end must be after window_start")
    if end - start > MAX_WINDOW:
        problems.append(f"a window lasts at most {int(MAX_WINDOW.total_seconds() // 3600)} h")
    if end <= now:
        problems.append("the window is over")
    if start > now + MAX_LEAD:
        problems.append("the window starts more than 7 days ahead")
    if problems:
        raise ValidationFailed("invalid window", details={"window": problems})


def in_window(start: datetime, end: datetime, now: datetime) -> bool:
    return start <= now <= end


def device_refusal(lock: Any | None, cash: Any | None) -> str | None:
    """Why the devices may not be opened now (None: they may). ``lock`` and ``cash`` are
    devices_port.DeviceInfo (or None when unknown)."""
    if lock is None or cash is None:
        return "device_unknown"
    if lock.status != "active" or cash.status != "active":
        return "device_inactive"
    if not lock.online:
        return "lock_offline"
    if not cash.online:
        return "cash_device_offline"
    if lock.state.get("tamper"):
        return "lock_tampered"
    if lock.state.get("lock", "locked") != "locked":
        return "lock_not_locked"
    if cash.state.get("mode", "normal") != "normal":
        return "cash_device_not_in_service"
    if cash.state.get("safe_door", "closed") != "closed":
        return "safe_door_open"
    return None


def loaded_by_denomination(counts: Mapping[str, Mapping[str, Any]]) -> dict[str, Decimal]:
    """Amount put in per denomination: (after - before) notes of every unit touched."""
    loaded: dict[str, Decimal] = {}
    for unit in counts.values():
        denom = str(unit.get("denomination"))
        notes = int(unit.get("after", 0)) - int(unit.get("before", 0))
        loaded[denom] = loaded.get(denom, Decimal("0")) + Decimal(denom) * notes
    return {d: a.quantize(Decimal("0.01")) for d, a in loaded.items() if a}


def reconcile(
    planned: Mapping[str, Decimal], loaded: Mapping[str, Decimal]
) -> dict[str, dict[str, str]]:
    """Differences per denomination ({} when the counts match the task exactly)."""
    diffs = {}
    for denom in sorted(set(planned) | set(loaded)):
        want = planned.get(denom, Decimal("0"))
        got = loaded.get(denom, Decimal("0"))
        if want != got:
            diffs[denom] = {
                "planned": format_money(want),
                "counted": format_money(got),
                "difference": format_money(got - want),
            }
    return diffs
