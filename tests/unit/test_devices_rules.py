"""Alarm rules, the twin's merge and delta, secrets at rest: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.devices import catalog
from backend.devices.rules import offline_signal, signals_for
from backend.devices.secretbox import SecretBox, SecretBoxError
from backend.devices.service import merge_patch, twin_delta

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def no_task() -> bool:
    return False


def rules(device_type, channel, type_, data, task=no_task):
    return {
        (s.rule, s.active, s.severity)
        for s in signals_for(device_type, channel, type_, data, cash_task_open=task)
    }


def test_cash_rules():
    units = [{"unit": "C1", "status": "low"}, {"unit": "C2", "status": "empty"}]
    assert ("low_cash", True, "major") in rules("cash", "telemetry", "cash.units", {"units": units})
    assert ("low_cash", True, "minor") in rules(
        "cash", "telemetry", "cash.units", {"units": units[:1]}
    )
    assert ("low_cash", False, "warning") in rules(
        "cash", "telemetry", "cash.units", {"units": [{"unit": "C1", "status": "ok"}]}
    )
    door = ("safe_door_open_without_task", True, "critical")
    assert rules("cash", "event", "cash.safe_door_opened", {}) == {door}
    assert rules("cash", "event", "cash.safe_door_opened", {}, task=lambda: True) == {
        ("safe_door_open_without_task", False, "warning")
    }
    birth = {"state": {"safe_door": "open", "units": units[:1]}}
    assert door in rules("cash", "state", "device.birth", birth)
    asked = []
    rules("cash", "event", "cash.dispensed", {}, task=lambda: asked.append(1) or False)
    assert asked == []  # the cash-task probe is asked only when the door matters


def test_lock_counter_kiosk_rules():
    assert rules("lock", "event", "lock.tamper", {"kind": "drill"}) == {
        ("tamper", True, "critical")
    }
    assert rules("lock", "event", "lock.tamper_cleared", {}) == {("tamper", False, "warning")}
    assert rules("lock", "state", "lock.state", {"state": {"tamper": False}}) == {
        ("tamper", False, "warning")
    }
    assert rules(
        "counter",
        "event",
        "counter.peripheral_status",
        {"peripheral": "printer", "status": "paper_low"},
    ) == {("peripheral:printer", True, "warning")}
    assert rules("kiosk", "telemetry", "kiosk.status", {"paper_pct": 5}) == {
        ("paper_low", True, "warning")
    }
    assert rules("camera", "event", "camera.face", {}) == set()
    assert rules("lock", "state", "device.death", {"online": False}) == set()


def test_offline_signal():
    def signal(**kw):
        base = {
            "online": True,
            "offline_since": None,
            "last_seen": NOW,
            "now": NOW,
            "offline_after_s": 60,
            "stale_after_s": 600,
        }
        s = offline_signal(**{**base, **kw})
        return s.active, s.severity

    assert signal() == (False, "warning")
    assert signal(online=False, offline_since=NOW - timedelta(seconds=30)) == (False, "warning")
    assert signal(online=False, offline_since=NOW - timedelta(seconds=61)) == (True, "major")
    assert signal(last_seen=NOW - timedelta(seconds=601)) == (True, "major")  # silent


def test_merge_patch_and_delta():
    assert merge_patch({"a": 1, "b": {"c": 1, "d": 2}}, {"b": {"d": None, "e": 3}, "f": [1]}) == {
        "a": 1,
        "b": {"c": 1, "e": 3},
        "f": [1],
    }
    assert twin_delta({"a": 1, "b": 2}, {"a": 1, "b": 3}) == {"b": {"desired": 2, "reported": 3}}
    assert twin_delta({}, {"x": 1}) == {}


def test_secret_box():
    box = SecretBox("k" * 40)
    token = box.encrypt("0123abcd")
    assert "0123abcd" not in token and box.decrypt(token) == "0123abcd"
    with pytest.raises(SecretBoxError):
        SecretBox("another key entirely").decrypt(token)
    with pytest.raises(SecretBoxError):
        box.decrypt("not a token")


def test_catalog():
    assert "lock.arm" in catalog.commands_for("lock")
    assert "device.rebirth" in catalog.commands_for("camera")
    assert catalog.TRANSITIONS["retired"] == frozenset()
