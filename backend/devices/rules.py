"""Alarm rules: pure functions from what a device said (or did not say) to alarm signals.

A signal names a rule, whether its condition is present now (``active``), a severity and a
message. The ingest turns signals into alarms (raise, escalate, clear); acknowledging is a
person's act and separate. Rules:

- ``offline``      major     no birth since a death for longer than ``offline_after_s``, or
                             silent (no message) for longer than ``stale_after_s``
- ``low_cash``     minor     a cash unit at or below its low threshold; major when one is empty
- ``tamper``       critical  a vein lock reports tamper (until the lock reports it cleared)
- ``safe_door_open_without_task``  critical  the safe door of a cash machine is open and no
                             cash-loading task is open for it (hooks.cash_task_open)
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


def signals_for(
    device_type: str,
    channel: str,
    type_: str,
    data: dict[str, Any],
    *,
    cash_task_open: Callable[[], bool],
) -> list[AlarmSignal]:
    """Signals from one uplink message (cash_task_open is only called when it matters)."""
    state = _state_doc(channel, type_, data)
    signals: list[AlarmSignal] = []
    if device_type == "cash":
        if state is not None:
            signals += _cash_units(state.get("units"))
            signals += _safe_door(state.get("safe_door"), cash_task_open)
        elif type_ == "cash.units":
            signals += _cash_units(data.get("units"))
            signals += _safe_door(data.get("safe_door"), cash_task_open)
        elif type_ == "cash.safe_door_opened":
            signals += _safe_door("open", cash_task_open)
        elif type_ == "cash.safe_door_closed":
            signals += _safe_door("closed", cash_task_open)
    elif device_type == "lock":
        if type_ == "lock.tamper":
            kind = data.get("kind", "tamper")
            signals.append(AlarmSignal("tamper", True, "critical", f"lock tamper: {kind}", data))
        elif type_ == "lock.tamper_cleared" or (state is not None and state.get("tamper") is False):
            signals.append(AlarmSignal("tamper", False))
        elif state is not None and state.get("tamper") is True:
            signals.append(AlarmSignal("tamper", True, "critical", "lock tamper"))
    elif device_type == "counter":
        peripherals: dict[str, Any] = {}
        if state is not None and isinstance(state.get("peripherals"), dict):
            peripherals = state["peripherals"]
        elif type_ == "counter.peripheral_status":
            peripherals = {str(data.get("peripheral")): data.get("status")}
        elif type_ == "counter.stats" and isinstance(data.get("peripherals"), dict):
            peripherals = data["peripherals"]
        for name, status in peripherals.items():
            signals.append(
                AlarmSignal(
                    f"peripheral:{name}",
                    status != "ok",
                    "warning",
                    f"{name} {status}",
                    {"peripheral": name, "status": status},
                )
            )
    elif device_type == "kiosk":
        doc = state if state is not None else data if type_ == "kiosk.status" else None
        if doc is not None and isinstance(doc.get("paper_pct"), int | float):
            low = doc["paper_pct"] < 10
            signals.append(AlarmSignal("paper_low", low, "warning", "kiosk paper low"))
    return signals


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
