"""Helpers for the IoT tests (devices -> edge -> central -> database).

- ``Central``: the central broker under test, restartable on its port: the embedded amqtt, a
  private Mosquitto with users and ACL, or the machine's shared Mosquitto (then every test uses
  its own branch id and host id, so concurrent runs never see each other).
- ``IotRig``: an app (seeded; SQLite or PostgreSQL), its DeviceHub, one branch edge and
  simulated devices of a branch, with the restarts the outage tests need and database probes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.devices import service as devices_service
from backend.devices.models import Device, DeviceMessage
from backend.devices.secretbox import SecretBox
from backend.devices.seed import ensure_devices
from backend.identity import service as identity
from backend.identity.models import Org
from backend.platform.db import session_scope
from backend.platform.mqtt import EmbeddedBroker, MqttClient, MqttConnectError
from backend.platform.mqtt.central import central_acl, central_broker, login_password
from backend.platform.ports import DeviceLink
from backend.roles.hub import DeviceHub, HubSettings
from backend.roles.ingest import IngestSettings
from devices.base import SimulatedDevice
from devices.fleet import Fleet, make_device
from devices.identity import DeviceIdentity, load_identities
from edge.agent import EdgeAgent
from edge.protocol import default_edge_id
from edge.settings import EdgeSettings
from tests.mosquitto_process import port_open, require_mosquitto, start_mosquitto

SHARED = ("127.0.0.1", 1883)
BACKEND_PW = "backend-pw"
EDGE_PW = "edge-pw"
CENTRAL_SECRET = "test-secret-of-the-embedded-central-broker"


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    assert predicate(), f"timed out after {timeout}s waiting for {what or predicate}"


def unique_branch() -> str:
    return f"T{uuid.uuid4().hex[:8].upper()}"


@dataclass
class Central:
    kind: str
    host: str
    port: int
    backend_url: str
    edge_url: str
    stop: Callable[[], None] = lambda: None
    start: Callable[[], None] = lambda: None
    close: Callable[[], None] = lambda: None
    restartable: bool = True


@contextmanager
def amqtt_central(branch_id: str | None = None) -> Iterator[Central]:
    """The embedded amqtt central broker. With ``branch_id`` as ``finedge serve`` starts it:
    the logins and ACL of deploy/mosquitto/central for the backend and that branch's edge;
    without, an open broker (anonymous clients, no ACL)."""
    if branch_id is None:
        state = {"broker": EmbeddedBroker().start()}
        port = state["broker"].port
        url = f"mqtt://127.0.0.1:{port}"

        def start() -> None:
            state["broker"] = EmbeddedBroker(port=port).start()

        central = Central(
            "amqtt", "127.0.0.1", port, url, url, lambda: state["broker"].stop(), start
        )
    else:
        edge_user = default_edge_id(branch_id)
        edges = {edge_user: branch_id}
        state = {"broker": central_broker(CENTRAL_SECRET, edges).start()}
        port = state["broker"].port

        def start() -> None:
            state["broker"] = central_broker(CENTRAL_SECRET, edges, port=port).start()

        def url(user: str) -> str:
            return state["broker"].url_for(user, login_password(CENTRAL_SECRET, user))

        central = Central(
            "amqtt",
            "127.0.0.1",
            port,
            url("backend"),
            url(edge_user),
            lambda: state["broker"].stop(),
            start,
        )
    try:
        yield central
    finally:
        state["broker"].stop()


@contextmanager
def mosquitto_central(workdir: Path, branch_id: str) -> Iterator[Central]:
    """A private central Mosquitto with a password file and the central rules as an
    ``acl_file`` (``central_acl``) for this branch's edge, no anonymous: the static form of
    deploy/mosquitto/central's dynsec accounts (tests/dynsec_support.py starts that one)."""
    edge_user = default_edge_id(branch_id)
    acl = central_acl({edge_user: branch_id})
    proc = start_mosquitto(workdir, users={"backend": BACKEND_PW, edge_user: EDGE_PW}, acl=acl)
    base = f"127.0.0.1:{proc.port}"
    try:
        yield Central(
            "mosquitto",
            "127.0.0.1",
            proc.port,
            f"mqtt://backend:{BACKEND_PW}@{base}",
            f"mqtt://{edge_user}:{EDGE_PW}@{base}",
            proc.stop,
            proc.start,
        )
    finally:
        proc.stop()


def require_shared_mosquitto() -> str:
    """The machine's Mosquitto's URL; skips (reason printed by -ra) where it is absent."""
    require_mosquitto()
    if not port_open(*SHARED):
        pytest.skip(f"no shared Mosquitto listening on {SHARED[0]}:{SHARED[1]}")
    url = f"mqtt://{SHARED[0]}:{SHARED[1]}"
    try:
        MqttClient(url, f"probe-{uuid.uuid4().hex[:8]}").connect(3).close()
    except MqttConnectError as exc:
        pytest.skip(f"shared Mosquitto refused us: {exc}")
    return url


@contextmanager
def shared_central() -> Iterator[Central]:
    url = require_shared_mosquitto()
    yield Central("shared", SHARED[0], SHARED[1], url, url, restartable=False)


def add_branch(app, branch_id: str, counts: dict[str, int], path: Path) -> list[DeviceIdentity]:
    """A branch (in BR001's org) with ``counts`` devices; their credentials in ``path``."""
    ext = app.extensions["finedge"]
    with session_scope(ext.session_factory) as session:
        org = session.scalar(select(Org).where(Org.code == "BR001"))
        identity.get_or_create_branch(session, branch_id, f"Branch {branch_id}", org)
        session.flush()
        ensure_devices(session, SecretBox(ext.config.secret_key), branch_id, counts, path=path)
    return load_identities(path)


@dataclass
class IotRig:
    app: object
    central: Central
    tmp: Path
    branch_id: str
    host_id: str = field(default_factory=lambda: f"h{uuid.uuid4().hex[:8]}")
    hub: DeviceHub | None = None
    edge: EdgeAgent | None = None
    edge_port: int = 0
    fleet: Fleet | None = None
    committed: list[str] = field(default_factory=list)
    branch_url: str | None = None

    @property
    def ext(self):
        return self.app.extensions["finedge"]

    # ------------------------------------------------------------------ parts

    def start_hub(self, **ingest: object) -> DeviceHub:
        settings = HubSettings(
            host_id=self.host_id,
            persistent_session=self.central.kind != "shared",
            refresh_s=0.3,
            branches={self.branch_id},
            command_wait_s=3.0,
            reconnect_max_delay=0.5,
            ingest=IngestSettings(**ingest),  # type: ignore[arg-type]
        )
        self.hub = DeviceHub(
            self.ext.session_factory,
            self.ext.live,
            self.ext.config.secret_key,
            self.central.backend_url,
            settings,
            on_committed=self.committed.extend,
        ).start()
        self._link_before_hub = self.ext.wiring.get(DeviceLink)
        self.ext.wiring.provide(DeviceLink, self.hub)
        assert self.hub.wait_connected(10), "hub did not connect"
        return self.hub

    def stop_hub(self) -> None:
        if self.hub is not None:
            self.hub.stop()
            self.hub = None
            self.ext.wiring.provide(DeviceLink, self._link_before_hub)

    def start_edge(self, **overrides: object) -> EdgeAgent:
        settings = EdgeSettings(
            branch_id=self.branch_id,
            central_url=self.central.edge_url,
            data_dir=self.tmp / "edge",
            branch_url=self.branch_url,
            mqtt_port=self.edge_port,
            host_id=self.host_id,
            retry_max_delay=0.5,
            stats_every_s=3600,
            **overrides,  # type: ignore[arg-type]
        )
        self.edge = EdgeAgent(settings).start()
        if self.edge.broker is not None:
            self.edge_port = self.edge.broker.port  # a restart listens on the same port
        return self.edge

    def stop_edge(self) -> None:
        if self.edge is not None:
            self.edge.stop()
            self.edge = None

    @property
    def device_broker_url(self) -> str:
        if self.branch_url is not None:
            from backend.platform.mqtt import parse_mqtt_url

            host, port, _u, _p = parse_mqtt_url(self.branch_url)
            return f"mqtt://{host}:{port}"
        return f"mqtt://127.0.0.1:{self.edge_port}"

    def start_fleet(self, identities: list[DeviceIdentity], **kwargs: object) -> Fleet:
        self.fleet = Fleet(
            make_device(i, self.device_broker_url, retry_max_delay=0.5, **kwargs)  # type: ignore[arg-type]
            for i in identities
        ).start()
        return self.fleet

    def device(self, device_id: str) -> SimulatedDevice:
        assert self.fleet is not None
        return self.fleet[device_id]

    def close(self) -> None:
        if self.fleet is not None:
            self.fleet.stop(graceful=False)
        self.stop_edge()
        self.stop_hub()

    # ------------------------------------------------------------------ readiness and probes

    def wait_live(self, timeout: float = 15.0) -> None:
        """Edge synced, born and forwarding; every device connected."""
        assert self.edge is not None
        edge = self.edge
        wait_for(lambda: edge.uplink_live, timeout, "edge birth (host STATE online)")
        if self.fleet is not None:
            count = len(self.fleet.devices)
            wait_for(lambda: len(edge.registry) >= count, timeout, "registry sync")
            assert self.fleet.wait_connected(timeout), "devices did not connect"

    def messages(self, device_id: str) -> list[DeviceMessage]:
        with self.ext.session_factory() as session:
            return list(
                session.scalars(
                    select(DeviceMessage)
                    .join(Device, Device.id == DeviceMessage.device_pk)
                    .where(Device.device_id == device_id)
                    .order_by(DeviceMessage.id)
                )
            )

    def device_row(self, device_id: str) -> Device:
        with self.ext.session_factory() as session:
            device = session.scalar(select(Device).where(Device.device_id == device_id))
            assert device is not None
            return device

    def wait_ids(self, ids: set[str], timeout: float = 20.0) -> None:
        def arrived() -> bool:
            return ids <= set(self.committed)

        wait_for(arrived, timeout, f"{len(ids - set(self.committed))} of {len(ids)} messages")


@contextmanager
def iot_rig(app, central: Central, tmp: Path, branch_id: str) -> Iterator[IotRig]:
    rig = IotRig(app, central, tmp, branch_id)
    try:
        yield rig
    finally:
        rig.close()


@contextmanager
def branch_mosquitto(
    workdir: Path, branch_id: str, registry: list[dict], edge_password: str = EDGE_PW
) -> Iterator[str]:
    """A private branch Mosquitto with a password file holding the registry's hashes
    unchanged (devices log in as themselves) and the pattern ACL: the static form of
    deploy/mosquitto/branch's dynsec accounts, which an edge keeps when it has the admin login
    (tests/dynsec_support.py, tests/integration/test_broker_accounts.py). Yields the edge's
    URL on it."""
    from tests.mosquitto_process import (
        MosquittoProcess,
        free_port,
        rewrite_config,
        write_password_file,
    )

    require_mosquitto()
    workdir.mkdir(parents=True, exist_ok=True)
    edge_user = default_edge_id(branch_id)
    passwd = write_password_file(workdir / "passwd", {edge_user: edge_password})
    with passwd.open("a") as handle:
        for entry in registry:
            if entry["password_hash"]:
                handle.write(f"{entry['device_id']}:{entry['password_hash']}\n")
    acl = workdir / "acl"
    acl.write_text(
        f"user {edge_user}\ntopic readwrite fe/v1/{branch_id}/#\n\n"
        "pattern readwrite fe/v1/+/+/%u/#\n"
    )
    conf = "\n".join(
        [
            "per_listener_settings false",
            "allow_anonymous false",
            "password_file x",
            "acl_file x",
            "listener 1883",
            "persistence false",
            "persistence_location x",
            "log_dest stderr",
            "set_tcp_nodelay true",
            "max_queued_messages 10000",
        ]
    )
    port = free_port()
    path = workdir / "mosquitto.conf"
    path.write_text(
        rewrite_config(conf, port=port, workdir=workdir, password_file=passwd, acl_file=acl)
    )
    proc = MosquittoProcess(path, port).start()
    try:
        yield f"mqtt://{edge_user}:{edge_password}@127.0.0.1:{port}"
    finally:
        proc.stop()


@contextmanager
def hall_brokers(
    kind: str, app, workdir: Path, branch_id: str
) -> Iterator[tuple[Central, str | None]]:
    """The brokers of an end-to-end hall test: ``(central, branch_url)`` for ``IotRig``.

    ``amqtt``: the embedded central broker, and the edge runs its own embedded branch broker
    (``branch_url`` None). ``mosquitto``: the machine's shared Mosquitto as the central broker
    (the test's unique branch and host id keep runs apart) and a private branch Mosquitto
    whose password file holds the branch registry's hashes, as deployed."""
    if kind == "amqtt":
        with amqtt_central(branch_id) as central:
            yield central, None
        return
    with ExitStack() as stack:
        central = stack.enter_context(shared_central())
        ext = app.extensions["finedge"]
        with ext.session_factory() as session:
            registry = devices_service.branch_registry(
                session, SecretBox(ext.config.secret_key), branch_id
            )
        branch_url = stack.enter_context(
            branch_mosquitto(workdir / "branch", branch_id, registry["devices"])
        )
        yield central, branch_url
