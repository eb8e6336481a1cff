"""The centre's side of the device-kind registry: every kind of the wire table
(edge/protocol/kinds.py) has its alarm rules (backend/devices/rules.py ``RULES``) and its entry
in the hall's table of reactions (backend/branch/events.py ``UPLINKS``, routed to the ingest by
the composition root), and nothing there names a kind, or a message, the wire does not know.
tests/unit/test_device_kinds.py checks the edge's and the simulators' side."""

from __future__ import annotations

from backend.bootstrap import collect_areas, uplink_routes
from backend.branch import events
from backend.devices import catalog, rules
from edge.protocol import COMMON_COMMANDS, KINDS


def test_every_kind_has_alarm_rules_and_nothing_else_does():
    assert set(rules.RULES) == set(KINDS)


def test_every_kind_has_its_hall_entry_and_the_root_routes_it():
    assert set(events.UPLINKS) == set(KINDS)
    routes = uplink_routes(collect_areas())
    assert routes.kinds() == set(KINDS)


def test_the_hall_reacts_only_to_messages_the_kind_sends():
    for kind, table in events.UPLINKS.items():
        spec = KINDS[kind]
        for key in table:
            channel, _, type_ = key.partition(":")
            assert channel in ("event", "state", "ack", "config/reported"), (kind, key)
            if channel == "event" and type_ != "*":
                assert type_ in spec.events, f"{kind} does not send {type_}"


def test_the_catalog_offers_exactly_the_kinds_commands():
    for kind, spec in KINDS.items():
        assert catalog.commands_for(kind) == COMMON_COMMANDS + spec.commands
    for command in catalog.SCREEN_COMMANDS:
        assert any(command in spec.commands for spec in KINDS.values()), command


def test_a_kind_missing_from_a_table_is_caught(monkeypatch):
    """The check above fails when a kind is added to the wire without its centre side."""
    from edge.protocol import KindSpec, register_kind, unregister_kind

    register_kind(KindSpec("printer", commands=("printer.print",)))
    try:
        assert set(rules.RULES) != set(KINDS)
        assert set(events.UPLINKS) != set(KINDS)
        monkeypatch.setitem(rules.RULES, "printer", rules.no_rules)
        assert set(rules.RULES) == set(KINDS)
    finally:
        unregister_kind("printer")
