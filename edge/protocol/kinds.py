"""The device kinds of the wire: one entry per kind, the one table every side reads.

A kind is what appears as ``{device_type}`` in ``fe/v1/{branch}/{device_type}/{device}/...``.
Its ``KindSpec`` says, in one place:

- ``commands``: the command types it accepts besides ``COMMON_COMMANDS`` (the centre offers
  and signs exactly these: backend/devices/catalog.py reads them from here; its simulator
  handles exactly these, tests/unit/test_device_kinds.py checks);
- ``events`` and ``telemetry``: the message types it sends on ``event`` and ``telemetry``, as
  far as known (documentation, and the checks that every type the edge acts on has a sender);
- what the branch edge does for it beyond forwarding and relaying (edge/hall.py, edge/uplink.py,
  edge/downlinks.py): ``relays_calls`` (a window's caller: its call-next presses go to the
  centre first, and the centre's ``caller.show_call`` to it answers one), ``screen`` (a hall
  screen: it shows each call the edge makes on its own, ``display.show``), ``edge_node`` (the
  edge agent itself: its topics are neither forwarded as a device's nor relayed to it, and it
  has no simulator).

``DEVICE_TYPES`` and ``KIND_COMMANDS`` are live read-only views of the table; the built-in
kinds are declared below. ``register_kind`` adds one at run time (a test's throwaway kind, a
plug-in) and ``unregister_kind`` takes it away again; the simulators have their own registry
keyed by the same names (devices/simulators.py). Pure standard library.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from types import MappingProxyType

# Every kind accepts these (devices/base.py implements them once).
COMMON_COMMANDS: tuple[str, ...] = ("device.ping", "device.rebirth")
# The kind of the edge agent itself (``edge_node``): its own topics are fe/v1/{branch}/edge/...
EDGE_DEVICE_TYPE = "edge"

# A kind's name is a topic level, and its messages' types are "<kind>.<name>".
_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MESSAGE_TYPE_RE = re.compile(r"[a-z][a-z0-9_\-]*(\.[a-z][a-z0-9_\-]*)+")


@dataclass(frozen=True)
class KindSpec:
    """One device kind on the wire (see the module docstring for the fields)."""

    device_type: str
    description: str = ""
    commands: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    telemetry: tuple[str, ...] = ()
    relays_calls: bool = False
    screen: bool = False
    edge_node: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.device_type, str) or not _KIND_RE.fullmatch(self.device_type):
            raise ValueError(f"device_type {self.device_type!r} must match {_KIND_RE.pattern}")
        for name in (*self.commands, *self.events, *self.telemetry):
            if not isinstance(name, str) or not _MESSAGE_TYPE_RE.fullmatch(name):
                raise ValueError(f"{self.device_type}: {name!r} is not a dotted message type")
        if set(self.commands) & set(COMMON_COMMANDS):
            raise ValueError(f"{self.device_type}: common commands are not listed per kind")

    @property
    def all_commands(self) -> tuple[str, ...]:
        """What a device of this kind accepts: the common commands, then its own."""
        return COMMON_COMMANDS + self.commands


BUILTIN_KINDS: tuple[KindSpec, ...] = (
    KindSpec(
        "counter",
        "Smart teller counter (self-service transactions and peripherals)",
        commands=("counter.set_mode", "counter.print_test"),
        events=(
            "counter.session_started",
            "counter.transaction",
            "counter.session_ended",
            "counter.peripheral_status",
        ),
        telemetry=("counter.stats",),
    ),
    KindSpec(
        "cash",
        "Cash recycler (dispense, deposit, cash-loading exchange)",
        commands=("cash.enter_exchange", "cash.replenish", "cash.exit_exchange"),
        events=(
            "cash.unit_status",
            "cash.dispense_failed",
            "cash.dispensed",
            "cash.deposited",
            "cash.safe_door_opened",
            "cash.safe_door_closed",
            "cash.exchange_started",
            "cash.replenished",
            "cash.exchange_ended",
        ),
        telemetry=("cash.units",),
    ),
    KindSpec(
        "lock",
        "Vault or cash-box lock with palm-vein reader and code pad",
        commands=(
            "lock.enroll",
            "lock.revoke",
            "lock.arm",
            "lock.disarm",
            "lock.lock",
            "lock.reset_tamper",
        ),
        events=(
            "lock.verification",
            "lock.capture",
            "lock.enrolled",
            "lock.enrol_failed",
            "lock.code_entered",
            "lock.tamper",
            "lock.locked",
            "lock.unlocked",
            "lock.revoked",
            "lock.armed",
            "lock.tamper_cleared",
        ),
        telemetry=("lock.status",),
    ),
    KindSpec(
        "kiosk",
        "Queue kiosk: issues tickets (from the edge's local queue) and prints them",
        commands=("kiosk.print_ticket",),
        events=("kiosk.ticket_requested", "kiosk.ticket_printed"),
        telemetry=("kiosk.status",),
    ),
    KindSpec(
        "caller",
        "Counter caller: a window's call-next button and small screen",
        commands=("caller.show_call",),
        events=("caller.serving_done", "caller.call_next"),
        telemetry=("caller.status",),
        relays_calls=True,
    ),
    KindSpec(
        "display",
        "Hall display: the last calls, the queue board and the check-in QR code",
        commands=("display.show", "display.queue", "display.presence"),
        events=("display.shown", "display.board_shown"),
        telemetry=("display.status",),
        screen=True,
    ),
    KindSpec(
        "camera",
        "Door camera: faces and people counted",
        events=("camera.face", "camera.person"),
        telemetry=("camera.status",),
    ),
    KindSpec(
        EDGE_DEVICE_TYPE,
        "The branch edge agent itself (its birth, stats and events)",
        events=(
            "edge.bad_payload",
            "queue.ticket_issued",
            "queue.ticket_called",
            "queue.ticket_done",
        ),
        telemetry=("edge.stats",),
        edge_node=True,
    ),
)

_lock = threading.Lock()
_kinds: dict[str, KindSpec] = {spec.device_type: spec for spec in BUILTIN_KINDS}

KINDS: Mapping[str, KindSpec] = MappingProxyType(_kinds)
"""Every kind by device type (a live, read-only view)."""


def register_kind(spec: KindSpec) -> KindSpec:
    """Add a kind at run time; ValueError if its device type is taken."""
    with _lock:
        if spec.device_type in _kinds:
            raise ValueError(f"device kind {spec.device_type!r} is already registered")
        _kinds[spec.device_type] = spec
    return spec


def unregister_kind(device_type: str) -> None:
    """Take a kind registered at run time away again (a test's teardown); built-ins stay."""
    if any(spec.device_type == device_type for spec in BUILTIN_KINDS):
        raise ValueError(f"{device_type!r} is a built-in kind")
    with _lock:
        _kinds.pop(device_type, None)


def kind(device_type: str) -> KindSpec:
    """The kind named ``device_type``; KeyError for an unknown one."""
    return _kinds[device_type]


class _DeviceTypes(Set[str]):
    """The registered device types, as a live read-only set."""

    def __contains__(self, value: object) -> bool:
        return value in _kinds

    def __iter__(self) -> Iterator[str]:
        return iter(list(_kinds))

    def __len__(self) -> int:
        return len(_kinds)

    def __repr__(self) -> str:
        return f"DEVICE_TYPES({sorted(_kinds)})"


class _KindCommands(Mapping[str, tuple[str, ...]]):
    """Device type -> the commands of that kind (without the common ones), live."""

    def __getitem__(self, device_type: str) -> tuple[str, ...]:
        return _kinds[device_type].commands

    def __iter__(self) -> Iterator[str]:
        return iter(list(_kinds))

    def __len__(self) -> int:
        return len(_kinds)


DEVICE_TYPES: Set[str] = _DeviceTypes()
KIND_COMMANDS: Mapping[str, tuple[str, ...]] = _KindCommands()
