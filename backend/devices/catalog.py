"""What the registry knows about device kinds: types, the commands each accepts, lifecycle.

Command names are the command envelope's ``type``. Which commands each kind accepts is the
wire's kind table (``edge.protocol.kinds``: one ``KindSpec`` per kind, which the simulators in
devices/ implement exactly); ``COMMANDS`` is a live view of it, so a kind registered at run time
is offered here too.
"""

from __future__ import annotations

from edge.protocol import COMMON_COMMANDS, KIND_COMMANDS

COMMANDS = KIND_COMMANDS  # device type -> its own commands (without COMMON_COMMANDS)

# Commands that only put public information on a screen (a call, the queue board): they open
# nothing and move nothing, so they are not audited, and their command rows are deleted a day
# after they were made (job ``devices.prune_screen_commands``). A busy hall sends a board a
# second to every display.
SCREEN_COMMANDS = frozenset(
    {"display.show", "display.queue", "display.presence", "caller.show_call"}
)
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
