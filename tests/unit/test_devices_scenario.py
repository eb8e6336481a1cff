"""The demo scenario's own rules, without a server: how it reports failures, which cash unit
it refills, and that a failing run leaves one line and stops. The whole scenario against the
real demo processes is tests/e2e/test_iot_demo.py."""

from __future__ import annotations

import threading

import pytest
import requests

from backend.roles.broker import free_port
from devices.base import CommandRejected
from devices.fleet import make_device
from devices.identity import DeviceIdentity
from devices.scenario import CashLoading, Person, ScenarioFailed, play
from edge.credentials import new_hmac_secret

URL = "mqtt://127.0.0.1:1"


def build(device_type: str, device_id: str):
    identity = DeviceIdentity("BR1", device_type, device_id, device_id, "pw", new_hmac_secret())
    return make_device(identity, URL, autopilot=False)


def dead_api() -> str:
    return f"http://127.0.0.1:{free_port()}/api/v1"  # nothing listens there


def test_unknown_scenario_is_refused():
    with pytest.raises(ValueError, match="unknown scenario"):
        play("robbery", [], dead_api(), branch_id="BR1", stop=threading.Event())


def test_an_unreachable_api_fails_the_step_with_its_name():
    scenario = CashLoading([], dead_api(), branch_id="BR1", step_timeout_s=0.5)
    with pytest.raises(ScenarioFailed, match="the central API: not within 1 s"):
        scenario.wait_for_api(timeout_s=0.6)


def test_an_api_error_names_the_user_the_request_and_the_code():
    person = Person("http://x/api/v1", "teller1")
    answer = requests.Response()
    answer.status_code = 422
    answer._content = b'{"error":{"code":"loader_not_enrolled","message":"enrol first"}}'
    with pytest.raises(ScenarioFailed) as caught:
        person._body(answer, "POST /cash-tasks")
    assert str(caught.value) == (
        "teller1: POST /cash-tasks -> 422 loader_not_enrolled: enrol first"
    )


def test_refill_goes_to_the_emptiest_unit_of_the_denomination_with_room():
    atm = build("cash", "ATM1")
    units = {u["unit"]: u for u in atm.state["units"]}
    units["C1"]["count"], units["C2"]["count"] = 900, 700
    assert CashLoading._unit_for(atm, "100.00", 200)["unit"] == "C2"
    units["C2"]["count"] = units["C2"]["capacity"] - 10
    assert CashLoading._unit_for(atm, "100.00", 200)["unit"] == "C1"
    with pytest.raises(CommandRejected, match=r"no cash unit of 100\.00"):
        CashLoading._unit_for(atm, "100.00", 5000)
    with pytest.raises(CommandRejected):
        CashLoading._unit_for(atm, "5.00", 1)


def test_the_loaders_refill_and_end_the_exchange_only_in_exchange_mode():
    atm = build("cash", "ATM1")
    with pytest.raises(CommandRejected, match="not_in_exchange_mode"):
        atm.replenish("C1", 2000)
    atm.state["mode"] = "exchange"
    assert atm.replenish("C1", 2000) == "C1=2000"
    with pytest.raises(CommandRejected):
        atm.replenish("C9", 1)
    assert atm.end_exchange() == "normal mode"
    assert atm.state["mode"] == "normal"
    with pytest.raises(CommandRejected):
        atm.end_exchange()


def test_a_failed_run_prints_one_line_and_the_thread_ends():
    lines: list[str] = []
    stop = threading.Event()
    lock = build("lock", "L1")
    thread = play("cash-loading", [lock], dead_api(), branch_id="BR1", stop=stop, echo=lines.append)
    stop.set()  # waiting for the API notices the stop at once
    thread.join(10)
    assert not thread.is_alive()
    assert len(lines) == 1 and lines[0].startswith("cash-loading: failed: stopped while waiting")
