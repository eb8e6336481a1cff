"""Alarm rules: pure functions from what a device said (or did not say) to alarm signals.

A signal names a rule, whether its condition is present now (``active``), a severity and a
message. The ingest turns signals into alarms (raise, escalate, clear); acknowledging is a
person's act and separate. Rules:

- ``offline``      major     no birth since a death for longer than ``offline_after_s``, or
                             silent (no message) for longer than ``stale_after_s``
- ``low_cash``     minor     a cash unit at or below its low threshold; major when one is empty
- ``tamper``       critical  a vein lock reports tamper (until the lock reports it cleared)
- ``safe_door_open_without_task``  critical  the safe door of a cash machine is open and no
                             cash-loading task is open for it (the HallForDevices port)
- ``peripheral:<name>``  warning  a smart counter's peripheral is not ok
- ``paper_low``    warning   a kiosk's paper below 10 %
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SEVERITY_RANK = {"warning": 1, "minor": 2, "major": 3, "critical": 4}


@dataclass(frozen=True)
class AlarmSignal:
    rule: str
    active: bool
    severity: str = "warning"
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _state_doc(channel: str, type_: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """The device's full state document, when this message carries one."""
    if channel == "state" and type_ != "device.death":
        state = data.get("state")
        return state if isinstance(state, dict) else None
    return None


def _cash_units(units: object) -> list[AlarmSignal]:
    if not isinstance(units, list):
        return []
    empty = [u.get("unit") for u in units if isinstance(u, dict) and u.get("status") == "empty"]
    low = [u.get("unit") for u in units if isinstance(u, dict) and u.get("status") == "low"]
    if empty:
        return [
            AlarmSignal(
                "low_cash",
                True,
                "major",
                f"cash unit empty: {', '.join(map(str, empty))}",
                {"empty": empty, "low": low},
            )
        ]
    if low:
        return [
            AlarmSignal(
                "low_cash",
                True,
                "minor",
                f"cash unit low: {', '.join(map(str, low))}",
                {"low": low},
            )
        ]
    return [AlarmSignal("low_cash", False)]


def _safe_door(position: object, cash_task_open: Callable[[], bool]) -> list[AlarmSignal]:
    rule = "safe_door_open_without_task"
    if position == "open":
        if cash_task_open():
            return [AlarmSignal(rule, False)]
        return [AlarmSignal(rule, True, "critical", "safe door open without a cash task")]
    if position == "closed":
        return [AlarmSignal(rule, False)]
    return []


@dataclass(frozen=True)
class Uplink:
    """What a kind's alarm rules look at: one message and, when it carries one, the device's
    full state document."""

    channel: str
    type: str
    data: dict[str, Any]
    state: dict[str, Any] | None


KindRules = Callable[[Uplink, Callable[[], bool]], list[AlarmSignal]]


def _cash_rules(u: Uplink, cash_task_open: Callable[[], bool]) -> list[AlarmSignal]:
    if u.state is not None:
        return _cash_units(u.state.get("units")) + _safe_door(
            u.state.get("safe_door"), cash_task_open
        )
    if u.type == "cash.units":
        return _cash_units(u.data.get("units")) + _safe_door(
            u.data.get("safe_door"), cash_task_open
        )
    if u.type == "cash.safe_door_opened":
        return _safe_door("open", cash_task_open)
    if u.type == "cash.safe_door_closed":
        return _safe_door("closed", cash_task_open)
    return []


def _lock_rules(u: Uplink, _cash_task_open: Callable[[], bool]) -> list[AlarmSignal]:
    if u.type == "lock.tamper":
        kind = u.data.get("kind", "tamper")
        return [AlarmSignal("tamper", True, "critical", f"lock tamper: {kind}", u.data)]
    if u.type == "lock.tamper_cleared" or (u.state is not None and u.state.get("tamper") is False):
        return [AlarmSignal("tamper", False)]
    if u.state is not None and u.state.get("tamper") is True:
        return [AlarmSignal("tamper", True, "critical", "lock tamper")]
    return []


def _counter_rules(u: Uplink, _cash_task_open: Callable[[], bool]) -> list[AlarmSignal]:
    peripherals: dict[str, Any] = {}
    if u.state is not None and isinstance(u.state.get("peripherals"), dict):
        peripherals = u.state["peripherals"]
    elif u.type == "counter.peripheral_status":
        peripherals = {str(u.data.get("peripheral")): u.data.get("status")}
    elif u.type == "counter.stats" and isinstance(u.data.get("peripherals"), dict):
        peripherals = u.data["peripherals"]
    return [
        AlarmSignal(
            f"peripheral:{name}",
            status != "ok",
            "warning",
            f"{name} {status}",
            {"peripheral": name, "status": status},
        )
        for name, status in peripherals.items()
    ]


def _kiosk_rules(u: Uplink, _cash_task_open: Callable[[], bool]) -> list[AlarmSignal]:
    doc = u.state if u.state is not None else u.data if u.type == "kiosk.status" else None
    if doc is not None and isinstance(doc.get("paper_pct"), int | float):
        return [AlarmSignal("paper_low", doc["paper_pct"] < 10, "warning", "kiosk paper low")]
    return []


def no_rules(_u: Uplink, _cash_task_open: Callable[[], bool]) -> list[AlarmSignal]:
    """A kind whose messages raise no alarm of their own (``offline`` still applies)."""
    return []


# The alarm rules of each device kind: one entry per kind of the wire protocol (a test fails
# when a kind has none; ``no_rules`` says so explicitly).
RULES: dict[str, KindRules] = {
    "cash": _cash_rules,
    "lock": _lock_rules,
    "counter": _counter_rules,
    "kiosk": _kiosk_rules,
    "caller": no_rules,
    "display": no_rules,
    "camera": no_rules,
    "edge": no_rules,
}


def signals_for(
    device_type: str,
    channel: str,
    type_: str,
    data: dict[str, Any],
    *,
    cash_task_open: Callable[[], bool],
    rules: dict[str, KindRules] = RULES,
) -> list[AlarmSignal]:
    """Signals from one uplink message (cash_task_open is only called when it matters)."""
    kind_rules = rules.get(device_type, no_rules)
    return kind_rules(
        Uplink(channel, type_, data, _state_doc(channel, type_, data)), cash_task_open
    )


def offline_signal(
    *,
    online: bool,
    offline_since: datetime | None,
    last_seen: datetime | None,
    now: datetime,
    offline_after_s: float,
    stale_after_s: float,
) -> AlarmSignal:
    """Offline too long (after a death), or silent too long while supposedly online."""
    if not online and offline_since is not None:
        gone = (now - offline_since).total_seconds()
        if gone > offline_after_s:
            return AlarmSignal(
                "offline",
                True,
                "major",
                f"offline for {int(gone)} s",
                {"since": offline_since.isoformat()},
            )
        return AlarmSignal("offline", False)
    if last_seen is not None:
        silent = (now - last_seen).total_seconds()
        if silent > stale_after_s:
            return AlarmSignal(
                "offline",
                True,
                "major",
                f"silent for {int(silent)} s",
                {"last_seen": last_seen.isoformat()},
            )
    return AlarmSignal("offline", False)
