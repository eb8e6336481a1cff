"""Many simulated devices in one process (``finedge devices --branch BR001``).

Each device holds its own MQTT connection and login (username = device id), as a real device
does; one fleet thread ticks them all (telemetry, timers, autopilot activity, faults).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from backend.platform.mqtt import MqttClient
from devices.base import SimulatedDevice
from devices.faults import Faults
from devices.identity import DeviceIdentity, load_identities
from devices.scenario import play
from devices.simulators import SIMULATORS, simulator_for

log = logging.getLogger(__name__)


def make_device(identity: DeviceIdentity, broker_url: str, **kwargs: Any) -> SimulatedDevice:
    """The simulator of ``identity``'s kind (devices/simulators.py), not yet started."""
    return simulator_for(identity.device_type)(identity, broker_url, **kwargs)


def select(
    identities: Iterable[DeviceIdentity], branch_id: str, counts: dict[str, int | None]
) -> list[DeviceIdentity]:
    """The branch's devices; ``counts[type]`` caps how many of a type run (None: all)."""
    taken: Counter[str] = Counter()
    chosen = []
    for identity in identities:
        if identity.branch_id != branch_id or identity.device_type not in SIMULATORS:
            continue
        cap = counts.get(identity.device_type)
        if cap is not None and taken[identity.device_type] >= cap:
            continue
        taken[identity.device_type] += 1
        chosen.append(identity)
    return chosen


class Fleet:
    def __init__(self, devices: Iterable[SimulatedDevice], *, tick_s: float = 0.5) -> None:
        self.devices = list(devices)
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __getitem__(self, device_id: str) -> SimulatedDevice:
        for device in self.devices:
            if device.device_id == device_id:
                return device
        raise KeyError(device_id)

    def of_type(self, device_type: str) -> list[SimulatedDevice]:
        return [d for d in self.devices if d.device_type == device_type]

    def start(self) -> Fleet:
        for device in self.devices:
            device.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fleet-ticker", daemon=True)
        self._thread.start()
        return self

    def wait_connected(self, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        return all(d.wait_connected(max(0.0, deadline - time.monotonic())) for d in self.devices)

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            now = time.monotonic()
            for device in self.devices:
                try:
                    device.tick(now)
                except Exception:  # one broken simulator must not stop the others
                    log.exception("%s: tick failed", device)

    def stop(self, *, graceful: bool = True) -> None:
        """Stop every device at once (each may wait for its broker a little)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        stoppers = [
            threading.Thread(target=device.stop, kwargs={"graceful": graceful}, daemon=True)
            for device in self.devices
        ]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join(15)

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def quiet_device_connects() -> None:
    """In a process of many simulated devices, each device's "connected" line (INFO) is one of
    a dozen or more at every start; the fleet announces them together instead. Warnings (a
    refused reconnection, a dropped connection) still show."""
    logger = logging.getLogger(MqttClient.__module__)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)


STATS_EVERY_S = 300.0  # how often a running fleet logs its counts
STOP_POLL_S = 0.5  # the main thread waits in short slices (see edge.runner.STOP_POLL_S)
WAIT_NOTICE_S = 2.0  # devices not all connected by then: say once that they wait


def announce_connections(
    fleet: Fleet, broker_url: str, stop: threading.Event, echo: Callable[[str], None]
) -> None:
    """One line if the devices have to wait for their broker (the edge not started yet, or not
    admitting them before the centre sent its registry), one line once all are connected:
    the devices themselves retry quietly (connect_with_retry(quiet=True))."""
    total = len(fleet.devices)
    if not fleet.wait_connected(WAIT_NOTICE_S):
        echo(
            f"  waiting for the branch broker {broker_url} to admit the devices (the edge "
            "admits them once it has the centre's registry: start `finedge serve`)"
        )
        while not stop.is_set() and not fleet.wait_connected(1.0):
            pass
        if stop.is_set():
            return
    echo(f"  {total}/{total} devices connected")


def run_fleet(
    branch_id: str,
    broker_url: str,
    credentials: str | Path,
    *,
    counts: dict[str, int | None],
    faults: Faults | None = None,
    autopilot: bool = True,
    stop: threading.Event,
    echo: Callable[[str], None] = print,
    scenario: str | None = None,
    api: str = "http://127.0.0.1:5000/api/v1",
    scenario_every_s: float = 0.0,
) -> None:
    """Run the branch's simulated devices until ``stop`` is set (the CLI's body); with a
    ``scenario`` (devices/scenario.py), its people act at these devices and through ``api``."""
    identities = select(load_identities(credentials), branch_id, counts)
    if not identities:
        raise ValueError(f"no devices of branch {branch_id} in {credentials}")
    fleet = Fleet(
        make_device(identity, broker_url, faults=faults, autopilot=autopilot)
        for identity in identities
    )
    by_type = Counter(identity.device_type for identity in identities)
    echo(f"FinEdge device simulators of {branch_id}: {dict(sorted(by_type.items()))}")
    echo(f"  branch broker {broker_url}" + (f"  faults {faults}" if faults and faults.any else ""))
    echo("  Ctrl-C to stop")
    fleet.start()
    if scenario:
        echo(f"  scenario {scenario} against {api}")
        play(
            scenario,
            fleet.devices,
            api,
            branch_id=branch_id,
            stop=stop,
            every_s=scenario_every_s,
            echo=echo,
        )
    try:
        announce_connections(fleet, broker_url, stop, echo)
        next_stats = time.monotonic() + STATS_EVERY_S
        while not stop.wait(STOP_POLL_S):
            if time.monotonic() < next_stats:
                continue
            next_stats += STATS_EVERY_S
            online = sum(d.connected for d in fleet.devices)
            sent = sum(d.stats["published"] for d in fleet.devices)
            log.info(
                "%d/%d devices online, %d messages published", online, len(fleet.devices), sent
            )
    finally:
        fleet.stop()
        echo("stopped")
