"""The simulators of the device kinds, found by kind (``finedge devices``, tests, benchmarks).

The wire's kind table (edge/protocol/kinds.py) says what a kind is: its commands, events and
what the edge does for it; this registry says which class simulates it. The built-in
simulators are declared here, one per kind of the table except the edge itself
(tests/unit/test_device_kinds.py fails when one is missing on either side, or when a
simulator's command handlers differ from its kind's commands). ``register_simulator`` adds one
at run time for a kind registered there first (a test's throwaway kind, a plug-in), and
``unregister_simulator`` takes it away again.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType

from devices.base import SimulatedDevice
from devices.caller import CounterCaller
from devices.camera import DoorCamera
from devices.cash import CashRecycler
from devices.counter import SmartCounter
from devices.display import HallDisplay
from devices.kiosk import QueueKiosk
from devices.lock import VeinLock
from edge.protocol import KINDS, KindSpec

BUILTIN_SIMULATORS: tuple[type[SimulatedDevice], ...] = (
    SmartCounter,
    CashRecycler,
    VeinLock,
    QueueKiosk,
    CounterCaller,
    HallDisplay,
    DoorCamera,
)

_lock = threading.Lock()
_simulators: dict[str, type[SimulatedDevice]] = {cls.device_type: cls for cls in BUILTIN_SIMULATORS}

SIMULATORS: Mapping[str, type[SimulatedDevice]] = MappingProxyType(_simulators)
"""Device type -> its simulator class (a live, read-only view)."""


def command_mismatch(spec: KindSpec, cls: type[SimulatedDevice]) -> tuple[set[str], set[str]]:
    """(commands of the kind the simulator does not handle, handlers of commands it has not)."""
    wanted, handled = set(spec.all_commands), set(cls.handled_commands())
    return wanted - handled, handled - wanted


def register_simulator(kind: str, cls: type[SimulatedDevice]) -> type[SimulatedDevice]:
    """Simulate ``kind`` (registered in the wire's kind table) with ``cls``; ValueError when
    the kind is unknown or taken, or ``cls`` does not handle exactly the kind's commands."""
    spec = KINDS.get(kind)
    if spec is None or spec.edge_node:
        raise ValueError(f"{kind!r} is not a device kind of the wire (register_kind first)")
    if cls.device_type != kind:
        raise ValueError(f"{cls.__name__} simulates {cls.device_type!r}, not {kind!r}")
    missing, extra = command_mismatch(spec, cls)
    if missing or extra:
        raise ValueError(
            f"{cls.__name__} lacks handlers for {sorted(missing)} and handles {sorted(extra)}"
            f" that kind {kind!r} does not accept"
        )
    with _lock:
        if kind in _simulators:
            raise ValueError(f"kind {kind!r} already has a simulator")
        _simulators[kind] = cls
    return cls


def unregister_simulator(kind: str) -> None:
    """Take a simulator registered at run time away again (a test's teardown)."""
    if any(cls.device_type == kind for cls in BUILTIN_SIMULATORS):
        raise ValueError(f"{kind!r} has a built-in simulator")
    with _lock:
        _simulators.pop(kind, None)


def simulator_for(kind: str) -> type[SimulatedDevice]:
    """The simulator class of ``kind``; ValueError when there is none."""
    try:
        return _simulators[kind]
    except KeyError:
        raise ValueError(f"no simulator for device type {kind!r}") from None
