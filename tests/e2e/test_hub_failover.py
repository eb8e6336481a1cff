"""Two hubs share the branches (branch leases): one stops or dies mid-traffic, the other takes
its branches; every message is stored exactly once and per-device order holds.

In one process: the central broker (embedded amqtt, or the machine's Mosquitto), two DeviceHub
instances (each its own MQTT client and hub id, one database), one edge per branch and
simulated devices publishing telemetry the whole time. A *crash* stops the hub's lease loop
without releasing, stops its writer without writing what it had queued, and drops its MQTT
connection without DISCONNECT (the broker publishes its will).
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from contextlib import ExitStack

import pytest
from sqlalchemy import select

from backend.devices.models import Device, DeviceMessage
from backend.roles.hub import DeviceHub, HubSettings
from devices.fleet import Fleet, make_device
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from tests.iot_support import add_branch, amqtt_central, shared_central, unique_branch, wait_for

pytestmark = pytest.mark.timeout(180)

BRANCHES = 3
DEVICES = {"counter": 2, "kiosk": 1}
TAKEOVER_S = 15.0  # the promise: a dead hub's branches move within 15 s


def crash(hub: DeviceHub) -> None:
    """As SIGKILL would leave it: leases unreleased, the queue unwritten, no DISCONNECT."""
    assert hub.leases is not None
    hub.leases.stop(release=False)
    hub._stop.set()
    hub.ingest._stop.set()
    client = hub._client
    assert client is not None
    client._client.loop_stop()  # no reconnect
    sock = client._client.socket()
    if sock is not None:
        sock.close()  # the broker sees the connection die: the will goes out


class Traffic:
    """Every device publishes telemetry in turn until stopped; what was sent, by envelope id."""

    def __init__(self, fleets: list[Fleet], pace_s: float = 0.02) -> None:
        self.devices = [d for fleet in fleets for d in fleet.devices]
        self.pace_s = pace_s
        self.sent: dict[str, tuple[str, int]] = {}  # envelope id -> (device id, seq)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            device = self.devices[i % len(self.devices)]
            env = device.publish("telemetry", "counter.stats", {"served": i})
            self.sent[env.id] = (device.device_id, env.seq)
            i += 1
            self._stop.wait(self.pace_s)

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def stored(app, ids: set[str]) -> list[tuple[str, str, int, int]]:
    """(envelope id, device id, seq, row id) of the stored messages among ``ids``."""
    with app.extensions["finedge"].session_factory() as session:
        rows = session.execute(
            select(DeviceMessage.envelope_id, Device.device_id, DeviceMessage.seq, DeviceMessage.id)
            .join(Device, Device.id == DeviceMessage.device_pk)
            .where(DeviceMessage.type == "counter.stats")
        ).all()
    return [tuple(r) for r in rows if r[0] in ids]


def start_hub(app, central, host_id: str, branches: set[str], name: str) -> DeviceHub:
    ext = app.extensions["finedge"]
    settings = HubSettings(
        host_id=host_id,
        hub_id=f"{name}-{uuid.uuid4().hex[:6]}",
        refresh_s=0.5,
        branches=branches,  # this test's branches only (the shared broker has others)
        reconnect_max_delay=0.5,
    )
    hub = DeviceHub(
        ext.session_factory, ext.live, ext.config.secret_key, central.backend_url, settings
    )
    hub.start()
    assert hub.wait_connected(10), "hub did not connect"
    return hub


@pytest.mark.parametrize("stop", ["crash", "graceful"])
@pytest.mark.parametrize(
    "brokers", ["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)]
)
def test_a_hub_stops_mid_traffic_and_the_other_takes_its_branches(brokers, stop, app, tmp_path):
    branches = [unique_branch() for _ in range(BRANCHES)]
    identities = {b: add_branch(app, b, DEVICES, tmp_path / f"{b}.json") for b in branches}
    host_id = f"h{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        central = stack.enter_context(amqtt_central() if brokers == "amqtt" else shared_central())
        hub_a = start_hub(app, central, host_id, set(branches), "a")
        stack.callback(hub_a.stop)
        hub_b = start_hub(app, central, host_id, set(branches), "b")
        stack.callback(hub_b.stop)
        assert hub_a.leases is not None and hub_b.leases is not None
        wait_for(
            lambda: (
                hub_a.leases.owned()
                and hub_b.leases.owned()
                and hub_a.leases.owned() | hub_b.leases.owned() == set(branches)
            ),
            20,
            "the branches shared by both hubs",
        )
        assert not hub_a.leases.owned() & hub_b.leases.owned()
        edges, fleets = [], []
        for b in branches:
            edge = EdgeAgent(
                EdgeSettings(
                    branch_id=b,
                    central_url=central.edge_url,
                    data_dir=tmp_path / f"edge-{b}",
                    mqtt_port=0,
                    host_id=host_id,
                    retry_max_delay=0.5,
                    stats_every_s=3600,
                )
            ).start()
            stack.callback(edge.stop)
            edges.append(edge)
        for b, edge in zip(branches, edges, strict=True):
            fleet = Fleet(
                make_device(i, f"mqtt://127.0.0.1:{edge.broker.port}", retry_max_delay=0.5)
                for i in identities[b]
            ).start()
            stack.callback(lambda f=fleet: f.stop(graceful=False))
            fleets.append(fleet)
        for edge, fleet in zip(edges, fleets, strict=True):
            wait_for(lambda e=edge: e.uplink_live, 20, "edge birth")
            wait_for(lambda e=edge, f=fleet: len(e.registry) >= len(f.devices), 20, "registry")
            assert fleet.wait_connected(20)

        traffic = Traffic(fleets).start()
        stack.callback(traffic.stop)
        wait_for(lambda: len(stored(app, set(traffic.sent))) >= 60, 30, "traffic flowing")
        moved = hub_a.leases.owned()
        kept = hub_b.leases.owned()
        if stop == "crash":
            crash(hub_a)
        else:
            hub_a.stop()
        wait_for(
            lambda: hub_b.leases.owned() == set(branches), TAKEOVER_S, "hub b takes every branch"
        )
        for edge in edges:  # hub a's will did not leave the edges without a centre
            wait_for(lambda e=edge: e.uplink_live, 20, "edges forwarding")
        after = len(traffic.sent)
        wait_for(lambda: len(traffic.sent) >= after + 60, 30, "more traffic after the takeover")
        traffic.stop()
        for fleet in fleets:
            for device in fleet.devices:
                assert device.flush(20)
        sent = dict(traffic.sent)
        wait_for(
            lambda: len(stored(app, set(sent))) == len(sent),
            90,
            f"every one of {len(sent)} messages stored",
        )
        rows = stored(app, set(sent))
        assert len(rows) == len(sent) == len({r[0] for r in rows})  # each once
        by_device: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for _envelope, device_id, seq, row_id in rows:
            by_device[device_id].append((row_id, seq))
        for device_id, pairs in by_device.items():  # stored in the order each device sent
            seqs = [seq for _row, seq in sorted(pairs)]
            assert seqs == sorted(seqs), f"{device_id}: stored out of order: {seqs}"
        assert hub_b.ingest.stats["before_rewind"] >= 0
        print(
            f"{stop}: {len(sent)} sent, each stored once, in order; moved {sorted(moved)}, "
            f"kept {sorted(kept)}; held back until the rewind: "
            f"{hub_b.ingest.stats['before_rewind']}"
        )
