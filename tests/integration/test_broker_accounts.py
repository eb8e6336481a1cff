"""Broker accounts follow the registry and the branches, through Mosquitto's dynamic security
plugin, with no hand editing and no restart; devices and edges reach the brokers over TLS.

Each test runs its own Mosquitto started from the checked-in deploy/mosquitto config (the
plugin, plain 1883 and TLS 8883, rewritten to free ports and temporary paths) with a
throwaway CA; skips with the reason printed where mosquitto or the plugin is absent.

- The branch: the real path. A device provisioned, rotated and retired over the HTTP API
  reaches the edge in the registry the hub publishes (its password sealed for that edge); the
  edge's ``DynsecBranchAccounts`` applies it, and the device's login changes at once.
- The centre: ``CentralAccounts`` (the hub's keeper) gives every branch in the database an
  edge login and takes it away with the branch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from sqlalchemy import delete, select

from backend.identity import service as identity
from backend.identity.models import Branch, Org
from backend.platform.db import session_scope
from backend.platform.mqtt import MqttClient, MqttConnectError, MqttSubscribeError
from backend.platform.mqtt.central import login_password
from backend.platform.mqtt.dynsec import DynsecAdmin
from backend.roles import central_accounts
from backend.roles.broker import edge_logins
from devices.fleet import make_device
from devices.identity import DeviceIdentity
from edge.branch_accounts import ACCOUNTS_TAG, DynsecBranchAccounts, ServiceLogin
from edge.credentials import hash_password
from edge.protocol import default_edge_id
from edge.sealing import seal, seal_key
from edge.store import RegistryEntry
from tests.dynsec_support import DynsecMosquitto, make_certs, start_dynsec_mosquitto
from tests.integration.test_mqtt import Inbox
from tests.iot_support import EDGE_PW, add_branch, amqtt_central, iot_rig, unique_branch, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.timeout(120)]

SECRET = "a-test-secret-key-of-at-least-32-characters"


class Logins:
    """Connections to one broker, all closed at the end."""

    def __init__(self) -> None:
        self.clients: list[MqttClient] = []

    def connect(self, url: str, timeout: float = 5.0) -> MqttClient:
        client = MqttClient(url, f"t-{uuid.uuid4().hex[:8]}", reconnect_max_delay=0.5)
        self.clients.append(client)
        return client.connect(timeout)

    def accepted(self, url: str) -> bool:
        try:
            self.connect(url, timeout=3).close()
            return True
        except MqttConnectError:
            return False

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture
def logins() -> Iterator[Logins]:
    opened = Logins()
    yield opened
    opened.close()


@pytest.fixture
def certs(tmp_path):
    return make_certs(tmp_path / "certs")


# --------------------------------------------------------------------------- the branch


def test_devices_provisioned_rotated_and_retired_through_the_api(
    app, client, auth, tmp_path, certs, logins
):
    branch = unique_branch()
    edge_id = default_edge_id(branch)
    identities = add_branch(app, branch, {"lock": 1}, tmp_path / "creds.json")
    app_secret = app.extensions["finedge"].config.secret_key
    admin = auth("admin")
    with ExitStack() as stack:
        mosquitto = start_dynsec_mosquitto(tmp_path / "branch", "branch", certs)
        stack.callback(mosquitto.stop)
        central = stack.enter_context(amqtt_central(branch))
        rig = stack.enter_context(iot_rig(app, central, tmp_path, branch))
        rig.branch_url = mosquitto.url(edge_id, EDGE_PW)
        rig.start_hub()
        # The hub seals with the app's secret, the edge's central password derived from it;
        # this central broker derives its passwords from another secret, so say it.
        rig.start_edge(
            branch_admin_url=mosquitto.admin_url,
            seal_secret=login_password(app_secret, edge_id),
        )
        accounts = rig.edge.accounts
        assert accounts is not None

        def login(device_id: str, password: str) -> str:
            return mosquitto.url(device_id, password, tls=True)

        # The seeded device of the branch: admitted once the hub's registry arrived.
        lock = identities[0]
        wait_for(lambda: logins.accepted(login(lock.device_id, lock.mqtt_password)), 15)

        # Provisioned over HTTP: it can log in at once (within the hub's publication).
        created = client.post(
            "/api/v1/devices",
            json={"branch_id": branch, "device_type": "kiosk", "device_id": f"{branch}-K1"},
            headers=admin,
        )
        assert created.status_code == 201, created.get_json()
        kiosk = created.get_json()
        wait_for(lambda: logins.accepted(login(kiosk["device_id"], kiosk["mqtt_password"])), 10)

        # A simulated kiosk over TLS with those credentials: its birth reaches the database.
        identity = DeviceIdentity(
            branch_id=branch,
            device_type="kiosk",
            device_id=kiosk["device_id"],
            mqtt_username=kiosk["mqtt_username"],
            mqtt_password=kiosk["mqtt_password"],
            hmac_secret=kiosk["hmac_secret"],
        )
        device = make_device(identity, mosquitto.url(None, tls=True), retry_max_delay=0.5)
        device.start()
        try:
            wait_for(lambda: rig.device_row(kiosk["device_id"]).online, 15, "kiosk online")
        finally:
            device.stop()

        # Rotated: the old password is refused at once, its open session closed; the new works.
        session = logins.connect(login(kiosk["device_id"], kiosk["mqtt_password"]))
        rotated = client.post(f"/api/v1/devices/{kiosk['device_id']}/credentials", headers=admin)
        assert rotated.status_code == 200, rotated.get_json()
        new_password = rotated.get_json()["mqtt_password"]
        wait_for(lambda: logins.accepted(login(kiosk["device_id"], new_password)), 10)
        assert not logins.accepted(login(kiosk["device_id"], kiosk["mqtt_password"]))
        wait_for(lambda: session.stats.disconnects >= 1, 5, "old session closed")

        # Retired: refused at once, its open session closed; the others untouched.
        live = logins.connect(login(kiosk["device_id"], new_password))
        neighbour = logins.connect(login(lock.device_id, lock.mqtt_password))
        retired = client.patch(
            f"/api/v1/devices/{kiosk['device_id']}", json={"status": "retired"}, headers=admin
        )
        assert retired.status_code == 200, retired.get_json()
        wait_for(lambda: not logins.accepted(login(kiosk["device_id"], new_password)), 10)
        wait_for(lambda: live.stats.disconnects >= 1, 5, "retired session closed")
        assert neighbour.connected and neighbour.stats.disconnects == 0

        # The edge restarts: the broker already holds the registry; nothing changes.
        rig.stop_edge()
        rig.start_edge(
            branch_admin_url=mosquitto.admin_url,
            seal_secret=login_password(app_secret, edge_id),
        )
        restarted = rig.edge.accounts
        assert restarted is not None and restarted.last is not None
        assert not restarted.last.changed, restarted.last.summary()
        assert neighbour.connected and neighbour.stats.disconnects == 0


def _accounts(mosquitto: DynsecMosquitto, key: bytes, entries: list[RegistryEntry]):
    return DynsecBranchAccounts(
        "B1", mosquitto.admin_url, seal_key=key, service=[ServiceLogin("edge-b1", EDGE_PW)]
    ).start(entries)


def test_a_password_the_edge_cannot_open_admits_nobody(tmp_path, certs, logins):
    """A sealed password that does not open with the edge's key, or does not match the
    registry's hash, never reaches the broker; a device whose password changed to one the
    edge cannot open is disabled rather than left on its old one."""
    mosquitto = start_dynsec_mosquitto(tmp_path / "branch", "branch", certs)
    key, other = seal_key("edge pw", "edge-b1"), seal_key("another edge's pw", "edge-b2")
    good = RegistryEntry("D1", "lock", "active", hash_password("pw1"), None, seal(key, "pw1"))
    accounts = _accounts(
        mosquitto,
        key,
        [
            good,
            RegistryEntry("D2", "lock", "active", hash_password("pw2"), None, seal(other, "pw2")),
            RegistryEntry("D3", "lock", "active", hash_password("pw3"), None, seal(key, "nope")),
            RegistryEntry("D4", "lock", "active", hash_password("pw4")),  # an older centre
        ],
    )
    try:
        assert accounts.last is not None and sorted(accounts.last.missing) == ["D2", "D3", "D4"]
        assert logins.accepted(mosquitto.url("D1", "pw1"))
        for device, password in (("D2", "pw2"), ("D3", "pw3"), ("D3", "nope"), ("D4", "pw4")):
            assert not logins.accepted(mosquitto.url(device, password)), device
        session = logins.connect(mosquitto.url("D1", "pw1"))
        # D1 rotated, but its new password is sealed for someone else.
        accounts.set_devices(
            [RegistryEntry("D1", "lock", "active", hash_password("pw1b"), None, seal(other, "x"))]
        )
        assert accounts.wait_current(10)
        assert accounts.last.disabled == ["D1"]
        assert not logins.accepted(mosquitto.url("D1", "pw1"))
        wait_for(lambda: session.stats.disconnects >= 1, 5, "D1's session closed")
        # Put right: enabled again with its password.
        accounts.set_devices([good])
        assert accounts.wait_current(10)
        assert accounts.last.enabled == ["D1"]
        assert logins.accepted(mosquitto.url("D1", "pw1"))
    finally:
        accounts.stop()
        mosquitto.stop()


def test_hand_made_changes_are_undone_and_a_restarted_broker_is_caught_up(tmp_path, certs, logins):
    mosquitto = start_dynsec_mosquitto(tmp_path / "branch", "branch", certs)
    key = seal_key("edge pw", "edge-b1")
    entry = RegistryEntry("D1", "lock", "active", hash_password("pw1"), None, seal(key, "pw1"))
    accounts = _accounts(mosquitto, key, [entry])
    try:
        admin = DynsecAdmin(mosquitto.admin_url).connect()
        admin.execute(
            [
                {"command": "deleteClient", "username": "D1"},
                {
                    "command": "createClient",
                    "username": "D9",
                    "password": "x",
                    "textname": ACCOUNTS_TAG,
                },
                {"command": "createClient", "username": "operator", "password": "y"},
                # The edge's own login given the admin's role (every topic, $CONTROL too).
                {"command": "addClientRole", "username": "edge-b1", "rolename": "admin"},
            ]
        )
        accounts.set_devices([entry])  # the next registry (or the periodic repair)
        assert accounts.wait_current(10)
        assert accounts.last.created == ["D1"] and accounts.last.deleted == ["D9"]
        assert accounts.last.roles == ["edge-b1"]
        [edge] = [c for c in admin.list_clients() if c["username"] == "edge-b1"]
        assert [r["rolename"] for r in edge["roles"]] == [f"{ACCOUNTS_TAG}:edge-b1"]
        admin.close()
        assert logins.accepted(mosquitto.url("D1", "pw1"))
        assert logins.accepted(mosquitto.url("operator", "y"))  # not ours: left alone

        # The broker restarts (its dynsec file kept): the admin reconnects, a pass follows.
        passes = accounts.passes
        mosquitto.restart()
        assert accounts.wait_passes(passes + 1, 20)
        assert logins.accepted(mosquitto.url("D1", "pw1"))
        assert logins.accepted(mosquitto.url("edge-b1", EDGE_PW))
    finally:
        accounts.stop()
        mosquitto.stop()


# --------------------------------------------------------------------------- the centre


def _new_branch(app, code: str) -> None:
    with session_scope(app.extensions["finedge"].session_factory) as session:
        org = session.scalar(select(Org).where(Org.code == "BR001"))
        identity.get_or_create_branch(session, code, f"Branch {code}", org)


def test_central_edge_logins_follow_the_branches(app, tmp_path, certs, logins):
    factory = app.extensions["finedge"].session_factory
    mosquitto = start_dynsec_mosquitto(tmp_path / "central", "central", certs)
    keeper = central_accounts.CentralAccounts(
        factory,
        mosquitto.admin_url,
        secret_key=SECRET,
        backend_password="backend-pw",
        every_s=0.1,
    ).start()
    second = None
    try:
        assert keeper.last is not None and not keeper.last.errors
        edges = edge_logins(factory)
        assert edges and set(keeper.last.created) == {"backend", *edges}

        def edge_url(login: str) -> str:  # the edges come over TLS
            return mosquitto.url(login, login_password(SECRET, login), tls=True)

        assert all(logins.accepted(edge_url(login)) for login in edges)
        backend = logins.connect(mosquitto.url("backend", "backend-pw"))

        # A branch created: its edge may log in at once, and speaks only for its branch.
        code = unique_branch()
        login = default_edge_id(code)
        assert not logins.accepted(edge_url(login))
        _new_branch(app, code)
        wait_for(lambda: logins.accepted(edge_url(login)), 10, "the new edge's login")
        inbox = Inbox()
        backend.subscribe("fe/v1/#", inbox)
        edge = logins.connect(edge_url(login))
        edge.publish("fe/v1/BR001/lock/x/telemetry", b"not its branch")
        edge.publish(f"fe/v1/{code}/lock/x/telemetry", b"its branch")
        assert inbox.wait_for(lambda ms: any(m.payload == b"its branch" for m in ms))
        assert b"not its branch" not in [m.payload for m in inbox.messages]
        # The hubs may share a subscription ($share/<group>/...); an edge may not use one to
        # read another branch.
        backend.subscribe("$share/hubs/fe/v1/+/+/+/#", lambda message: None)
        for forbidden in ("$share/x/fe/v1/BR001/#", "$share/x/fe/v1/#"):
            with pytest.raises(MqttSubscribeError):
                edge.subscribe(forbidden, lambda message: None)

        # A second hub's keeper finds everything in place: it changes nothing, kicks nobody.
        second = central_accounts.CentralAccounts(
            factory, mosquitto.admin_url, secret_key=SECRET, backend_password="backend-pw"
        ).start()
        assert not second.last.changed, second.last.summary()
        assert not central_accounts.sync(
            factory, mosquitto.admin_url, secret_key=SECRET, backend_password="backend-pw"
        ).changed
        assert edge.connected and edge.stats.disconnects == 0

        # The branch gone: its edge is refused at once and its session closed.
        with session_scope(factory) as session:
            session.execute(delete(Branch).where(Branch.code == code))
        wait_for(lambda: edge.stats.disconnects >= 1, 10, "the edge's session closed")
        assert not logins.accepted(edge_url(login))
        assert backend.connected and backend.stats.disconnects == 0

        # A login deleted by hand comes back on the next look (poke: e.g. after a commit).
        other = next(iter(edges))
        admin = DynsecAdmin(mosquitto.admin_url).connect()
        admin.execute([{"command": "deleteClient", "username": other}])
        admin.close()
        assert not logins.accepted(edge_url(other))
        keeper.poke()
        wait_for(lambda: logins.accepted(edge_url(other)), 10, "restored by the keeper")
    finally:
        keeper.stop()
        if second is not None:
            second.stop()
        mosquitto.stop()


# --------------------------------------------------------------------------- TLS


def test_tls_urls(tmp_path, certs, logins, monkeypatch):
    mosquitto = start_dynsec_mosquitto(tmp_path / "central", "central", certs)
    try:
        password = mosquitto.admin_password
        plain_tls = f"mqtts://admin:{password}@127.0.0.1:{mosquitto.tls_port}"
        # The CA from the URL, or from FINEDGE_MQTT_CA_FILE for every client of the process.
        assert logins.connect(mosquitto.url("admin", password, tls=True)).connected
        monkeypatch.setenv("FINEDGE_MQTT_CA_FILE", str(certs.ca))
        assert logins.connect(plain_tls).connected
        monkeypatch.delenv("FINEDGE_MQTT_CA_FILE")
        # A broker we cannot verify is refused at once, saying why (not retried).
        with pytest.raises(MqttConnectError, match="TLS"):
            logins.connect(plain_tls, timeout=10)
        stranger = make_certs(tmp_path / "stranger")
        with pytest.raises(MqttConnectError, match="TLS"):
            logins.connect(f"{plain_tls}?cafile={stranger.ca}")
        # A certificate for another host name is refused too.
        elsewhere = make_certs(tmp_path / "elsewhere", hosts=("broker.example",))
        other = start_dynsec_mosquitto(tmp_path / "other", "central", elsewhere)
        try:
            url = f"mqtts://admin:{other.admin_password}@127.0.0.1:{other.tls_port}"
            with pytest.raises(MqttConnectError, match="TLS"):
                logins.connect(f"{url}?cafile={elsewhere.ca}")
        finally:
            other.stop()
        # Options are checked: a typo, or a CA for a plain connection, is an error.
        with pytest.raises(ValueError, match="not known"):
            MqttClient(f"{plain_tls}?ca_file={certs.ca}", "x")
        with pytest.raises(ValueError, match="need mqtts"):
            MqttClient(f"mqtt://127.0.0.1:{mosquitto.port}?cafile={certs.ca}", "x")
    finally:
        mosquitto.stop()


def test_a_lost_admin_connection_is_reported_not_fatal(tmp_path, certs):
    """The edge's worker survives the broker going away and catches up when it is back."""
    mosquitto = start_dynsec_mosquitto(tmp_path / "branch", "branch", certs)
    key = seal_key("edge pw", "edge-b1")
    entry = RegistryEntry("D1", "lock", "active", hash_password("pw1"), None, seal(key, "pw1"))
    accounts = _accounts(mosquitto, key, [])
    try:
        mosquitto.stop()
        accounts.set_devices([entry])
        wait_for(lambda: accounts.last_error is not None, 15, "the failed pass reported")
        passes = accounts.passes
        mosquitto.process.start()
        assert accounts.wait_passes(passes + 1, 20)
        assert accounts.last is not None and "D1" in accounts.last.created
        probe = MqttClient(mosquitto.url("D1", "pw1"), "probe")
        try:
            assert probe.connect(5).connected
        finally:
            probe.close()
    finally:
        accounts.stop()
        mosquitto.stop()
