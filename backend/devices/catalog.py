"""What the registry knows about device kinds: types, the commands each accepts, lifecycle.

Command names are the command envelope's ``type``; the simulators in devices/ implement exactly
these (a real device adds its own by extending this table).
"""

from __future__ import annotations

from edge.protocol import DEVICE_TYPES

COMMON_COMMANDS = ("device.ping", "device.rebirth")
COMMANDS: dict[str, tuple[str, ...]] = {
    "counter": ("counter.set_mode", "counter.print_test"),
    "cash": ("cash.enter_exchange", "cash.replenish", "cash.exit_exchange"),
    "lock": (
        "lock.enroll",
        "lock.revoke",
        "lock.arm",
        "lock.disarm",
        "lock.lock",
        "lock.reset_tamper",
    ),
    "kiosk": ("kiosk.print_ticket",),
    "caller": ("caller.show_call",),
    "display": ("display.show", "display.queue"),
    "camera": (),
    "edge": (),
}
assert set(COMMANDS) == set(DEVICE_TYPES)

# Commands that only put public information on a screen (a call, the queue board): they open
# nothing and move nothing, so they are not audited, and their command rows are deleted a day
# after they were made (job ``devices.prune_screen_commands``). A busy hall sends a board a
# second to every display.
SCREEN_COMMANDS = frozenset({"display.show", "display.queue", "caller.show_call"})
SCREEN_COMMANDS_KEPT_S = 86400

# provisioned -> active (first birth, or by hand) <-> maintenance; any -> retired (final).
TRANSITIONS: dict[str, frozenset[str]] = {
    "provisioned": frozenset({"active", "maintenance", "retired"}),
    "active": frozenset({"maintenance", "retired"}),
    "maintenance": frozenset({"active", "retired"}),
    "retired": frozenset(),
}

# Reserved because they are path segments next to /devices/{device_id}.
RESERVED_IDS = frozenset({"alarms"})


def commands_for(device_type: str) -> tuple[str, ...]:
    return COMMON_COMMANDS + COMMANDS.get(device_type, ())
