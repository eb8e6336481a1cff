"""The device-kind registries of the wire and of the simulators: every kind is complete on the
edge-and-devices side (a simulator that handles exactly its commands; what the edge answers
the kind's events with is a command the kind accepts), the centre's catalog reads the same
table, and a kind added at run time appears everywhere and goes away again."""

from __future__ import annotations

import pytest

from backend.devices import catalog
from devices.base import SimulatedDevice, command
from devices.simulators import (
    SIMULATORS,
    command_mismatch,
    register_simulator,
    simulator_for,
    unregister_simulator,
)
from edge.credentials import EDGE_COMMAND_TYPES
from edge.hall import (
    CALL_NEXT,
    CHECKS,
    HANDLERS,
    PRINT_TICKET,
    SHOW_CALL,
    SHOW_ON_SCREEN,
    TICKET_REQUESTED,
)
from edge.protocol import (
    COMMON_COMMANDS,
    DEVICE_TYPES,
    KINDS,
    KindSpec,
    ProtocolError,
    build_topic,
    kind,
    register_kind,
    unregister_kind,
)


def test_every_device_kind_of_the_wire_has_a_simulator_and_every_simulator_a_kind():
    devices = {name for name, spec in KINDS.items() if not spec.edge_node}
    assert devices == set(SIMULATORS), (
        f"kinds without a simulator: {sorted(devices - set(SIMULATORS))}; "
        f"simulators without a kind: {sorted(set(SIMULATORS) - devices)}"
    )
    assert set(DEVICE_TYPES) == set(KINDS) and "edge" in DEVICE_TYPES


@pytest.mark.parametrize("name", sorted(SIMULATORS))
def test_each_simulator_handles_exactly_the_commands_of_its_kind(name):
    missing, extra = command_mismatch(KINDS[name], SIMULATORS[name])
    assert (missing, extra) == (set(), set())


def test_what_the_edge_answers_a_kinds_events_with_is_a_command_the_kind_accepts():
    answers = {TICKET_REQUESTED: PRINT_TICKET, CALL_NEXT: SHOW_CALL}
    assert set(HANDLERS) == set(answers) and set(CHECKS) <= set(HANDLERS)
    for event, answer in answers.items():
        senders = [spec for spec in KINDS.values() if event in spec.events]
        assert senders, f"no kind sends {event}, which the edge acts on"
        for spec in senders:
            assert answer in spec.commands, f"{spec.device_type} does not accept {answer}"
    for spec in KINDS.values():
        if spec.relays_calls:
            assert SHOW_CALL in spec.commands
        if spec.screen:
            assert SHOW_ON_SCREEN in spec.commands
    assert {PRINT_TICKET, SHOW_CALL, SHOW_ON_SCREEN, "device.rebirth"} <= EDGE_COMMAND_TYPES


def test_the_centres_catalog_reads_the_commands_from_the_wire_table():
    assert dict(catalog.COMMANDS) == {name: spec.commands for name, spec in KINDS.items()}
    assert catalog.commands_for("lock") == COMMON_COMMANDS + kind("lock").commands
    assert catalog.commands_for("camera") == COMMON_COMMANDS


class Printer(SimulatedDevice):
    device_type = "printer"

    @command("printer.print")
    def cmd_print(self, args: dict) -> str:
        return "printed"


PRINTER = KindSpec(
    "printer",
    "Self-service kiosk printer",
    commands=("printer.print",),
    events=("printer.printed",),
)


@pytest.fixture
def printer_kind():
    register_kind(PRINTER)
    yield PRINTER
    unregister_simulator("printer")
    unregister_kind("printer")


def test_a_kind_registered_at_run_time_is_everywhere_until_it_is_unregistered(printer_kind):
    assert "printer" in DEVICE_TYPES and kind("printer") is printer_kind
    assert build_topic("BR1", "printer", "P1", "event") == "fe/v1/BR1/printer/P1/event"
    assert catalog.commands_for("printer") == (*COMMON_COMMANDS, "printer.print")
    with pytest.raises(ValueError, match="no simulator"):
        simulator_for("printer")
    register_simulator("printer", Printer)
    assert simulator_for("printer") is Printer and "printer" in SIMULATORS
    with pytest.raises(ValueError, match="already"):
        register_kind(printer_kind)
    with pytest.raises(ValueError, match="already"):
        register_simulator("printer", Printer)

    unregister_simulator("printer")
    unregister_kind("printer")
    assert "printer" not in DEVICE_TYPES and "printer" not in catalog.COMMANDS
    assert "printer" not in SIMULATORS
    with pytest.raises(ProtocolError):
        build_topic("BR1", "printer", "P1", "event")


def test_registrations_that_would_leave_a_kind_incomplete_are_refused(printer_kind):
    class Silent(SimulatedDevice):
        device_type = "printer"

    class Chatty(Printer):
        @command("printer.explode")
        def cmd_explode(self, args: dict) -> str:
            return "boom"

    with pytest.raises(ValueError, match="lacks handlers"):
        register_simulator("printer", Silent)
    with pytest.raises(ValueError, match=r"printer\.explode"):
        register_simulator("printer", Chatty)
    with pytest.raises(ValueError, match="register_kind first"):
        register_simulator("scanner", Printer)
    with pytest.raises(ValueError, match="register_kind first"):
        register_simulator("edge", Printer)
    with pytest.raises(ValueError, match="built-in"):
        unregister_kind("lock")
    with pytest.raises(ValueError, match="built-in"):
        unregister_simulator("lock")
    for bad in ("Printer", "print/er", "x" * 40):
        with pytest.raises(ValueError):
            KindSpec(bad)
    with pytest.raises(ValueError, match="dotted"):
        KindSpec("scanner", commands=("scan",))
    with pytest.raises(ValueError, match="common"):
        KindSpec("scanner", commands=("device.ping",))
