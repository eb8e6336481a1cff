"""A device kind and an area added through the registries, end to end through the real parts:
a self-service kiosk printer is registered on every side (the wire's kind table, the simulator
registry, the centre's alarm rules, the hall-like reactions of a throwaway area), provisioned
over the HTTP API, simulated behind a real edge agent, ingested by the hub into the database
(an alarm raised by its rule, the area's handler told), and commanded over the HTTP API with
a signed command the simulator executes and acknowledges."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from backend.bootstrap import bootstrap
from backend.devices import rules
from backend.devices.models import DeviceAlarm
from backend.identity import service as identity
from backend.identity.models import Org
from backend.platform.config import Config
from backend.platform.db import session_scope
from backend.seed import seed
from devices.identity import DeviceIdentity
from devices.simulators import register_simulator, unregister_simulator
from edge.protocol import register_kind, unregister_kind
from tests import throwaway_area as throwaway
from tests.conftest import login
from tests.integration.test_device_kind_registry import PRINTER, KioskPrinter
from tests.iot_support import amqtt_central, iot_rig, unique_branch, wait_for

pytestmark = pytest.mark.timeout(120)

PRINTER_WITH_PAPER_OUT = dataclasses.replace(
    PRINTER, events=(*PRINTER.events, "printer.out_of_paper")
)


def printer_rules(u: rules.Uplink, _cash_task_open) -> list[rules.AlarmSignal]:
    if u.type == "printer.out_of_paper":
        return [rules.AlarmSignal("paper_out", True, "minor", "printer out of paper", u.data)]
    return []


@pytest.fixture
def printer_kind(monkeypatch) -> Iterator[None]:
    register_kind(PRINTER_WITH_PAPER_OUT)
    register_simulator("printer", KioskPrinter)
    monkeypatch.setitem(rules.RULES, "printer", printer_rules)
    try:
        yield
    finally:
        unregister_simulator("printer")
        unregister_kind("printer")


@pytest.fixture
def runtime(sqlite_url):
    runtime = bootstrap(
        Config.from_env(database_url=sqlite_url), "web", extra_areas=[throwaway.AREA]
    )
    throwaway.PRINTER_EVENTS.clear()
    with session_scope(runtime.session_factory) as session:
        seed(session, runtime.config, areas=runtime.areas)
    yield runtime
    runtime.stop()


def _provision(client, admin: dict[str, str], branch: str) -> DeviceIdentity:
    body: dict[str, Any] = {
        "branch_id": branch,
        "device_type": "printer",
        "device_id": f"{branch}-PRN-1",
        "model": "KP-1",
    }
    response = client.post("/api/v1/devices", json=body, headers=admin)
    assert response.status_code == 201, response.get_json()
    return DeviceIdentity.from_dict({**response.get_json(), "model": "KP-1"})


def test_a_new_kind_is_provisioned_simulated_ingested_and_commanded(
    printer_kind, runtime, tmp_path
):
    app, client = runtime.app, runtime.app.test_client()
    admin = login(client, "admin")
    branch = unique_branch()
    with session_scope(runtime.session_factory) as session:
        org = session.scalar(select(Org).where(Org.code == "BR001"))
        identity.get_or_create_branch(session, branch, f"Branch {branch}", org)
    printer = _provision(client, admin, branch)

    with amqtt_central(branch) as central, iot_rig(app, central, tmp_path, branch) as rig:
        rig.start_hub()
        rig.start_edge()
        rig.start_fleet([printer])
        rig.wait_live()
        device = rig.device(printer.device_id)
        assert isinstance(device, KioskPrinter)
        wait_for(lambda: rig.device_row(printer.device_id).online, 15, "the printer's birth")

        # ingested: its rule raises an alarm, the area that routes its uplinks is told
        device.publish("event", "printer.out_of_paper", {"tray": 2})
        wait_for(lambda: throwaway.PRINTER_EVENTS, 15, "the area's handler")
        assert [(printer.device_id, "printer.out_of_paper", "2")] == throwaway.PRINTER_EVENTS
        with runtime.session_factory() as session:
            alarm = session.scalar(select(DeviceAlarm).where(DeviceAlarm.rule == "paper_out"))
            assert alarm is not None and alarm.active and alarm.severity == "minor"

        # served: a signed command over the HTTP API, executed and acknowledged
        response = client.post(
            f"/api/v1/devices/{printer.device_id}/commands",
            json={"name": "printer.print", "args": {"document": "statement"}, "wait_s": 10},
            headers=admin,
        )
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["status"] == "ok", response.get_json()
        assert device.acted == [("printer.print", {"document": "statement"})]
        refused = client.post(
            f"/api/v1/devices/{printer.device_id}/commands",
            json={"name": "lock.arm", "args": {}},
            headers=admin,
        )
        assert refused.status_code in (400, 422), refused.get_json()
