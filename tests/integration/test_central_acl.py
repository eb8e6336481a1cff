"""The central broker's ACL: an edge speaks only for its own branch and cannot forge what the
edges trust without a signature (registry, counter map, queue/sync, receipts, host STATE).

On the embedded central broker of ``finedge serve`` (amqtt with ``central_broker``'s logins
and ACL) and on a private Mosquitto started with the checked-in deploy/mosquitto/central
mosquitto.conf (rewritten to free ports and temporary paths only: the dynamic security plugin,
its accounts applied by ``backend.roles.central_accounts``). Both take their rules from
``backend.platform.mqtt.central`` (``backend_rules``, ``edge_rules``), which the first test
pins in both forms.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from backend.platform.mqtt import (
    MosquittoAclAccess,
    MqttClient,
    MqttConnectError,
    MqttSubscribeError,
    filter_covers,
    filters_overlap,
    parse_acl,
)
from backend.platform.mqtt.central import (
    central_accounts,
    central_acl,
    central_broker,
    login_password,
)
from backend.platform.mqtt.dynsec import Acl, DynsecAdmin, acls_for
from backend.roles import central_accounts as accounts
from edge.protocol import UPLINK_CHANNELS
from tests.dynsec_support import make_certs, start_dynsec_mosquitto
from tests.integration.test_mqtt import Inbox

pytestmark = pytest.mark.timeout(60)

SECRET = "a-test-secret-key-of-at-least-32-characters"
BRANCH, OTHER = "BR001", "BR002"
EDGE = "edge-br001"
STATE = "fe/v1/STATE/finedge"


def own(channel: str, branch: str = BRANCH) -> str:
    return f"fe/v1/{branch}/edge/edge-{branch.lower()}/{channel}"


def device(channel: str, branch: str = BRANCH) -> str:
    return f"fe/v1/{branch}/lock/L1/{channel}"


# What an edge trusts without a signature, and the devices' downlinks it relays.
DOWNLINKS = {
    "registry": own("config/desired"),
    "counters": own("config/counters"),
    "queue/sync": own("queue/sync"),
    "receipt": own("receipt"),
    "host STATE": STATE,
    "device cmd": device("cmd"),
    "device desired": device("config/desired"),
}
RETAINED = {"registry", "counters", "host STATE", "device desired"}


# --------------------------------------------------------------------------- the rules


def test_the_embedded_acl_and_the_dynsec_roles_are_the_same_rules():
    text = central_acl({EDGE: BRANCH})
    assert text.splitlines()[:2] == ["user backend", "topic readwrite fe/v1/#"]
    written = parse_acl(text)
    roles = central_accounts(SECRET, {EDGE: BRANCH})
    assert set(written) == set(roles) == {"backend", EDGE}
    for user, rules in written.items():
        acls = set(acls_for((r.access, r.topic) for r in rules))
        if user == "backend":  # and the hubs may share subscriptions ($share/<group>/...)
            acls.add(Acl("subscribePattern", "$share/+/fe/v1/#"))
        assert set(roles[user].acls) == acls, user
    edge = {(r.access, r.topic) for r in written[EDGE]}
    assert ("read", "fe/v1/BR001/#") in edge and ("read", "fe/v1/STATE/#") in edge
    assert {t for a, t in edge if a == "write"} == {
        f"fe/v1/BR001/+/+/{channel}" for channel in UPLINK_CHANNELS
    }
    # Passwords: derived from the secret (what `finedge edge` derives too), the backend's
    # from MQTT_URL when given.
    assert roles[EDGE].password == login_password(SECRET, EDGE)
    assert roles["backend"].password == login_password(SECRET, "backend")
    given = central_accounts(SECRET, {}, backend_password="from-MQTT_URL")
    assert given["backend"].password == "from-MQTT_URL"
    assert accounts.backend_password_of("mqtt://backend:pw%40x@h:1883") == "pw@x"
    assert accounts.backend_password_of("mqtt://someone:pw@h:1883") is None


def test_acl_rules_mean_what_mosquitto_means():
    access = MosquittoAclAccess(
        "user u\ntopic read a/#\ntopic write a/+/up\ntopic deny a/secret/#\ntopic b/c\n",
        {"u": "pw"},
    )
    allowed = access.allowed
    assert access.authenticate("u", "pw")
    assert not access.authenticate("u", "nope") and not access.authenticate(None, "pw")
    assert allowed("u", "a/x/up", "publish") and not allowed("u", "a/x/down", "publish")
    assert allowed("u", "a/x/down", "receive") and allowed("u", "b/c", "publish")
    assert not allowed("u", "a/secret/up", "publish")  # deny wins
    assert not allowed("u", "a/secret/x", "receive")
    assert allowed("u", "a/x/+", "subscribe") and allowed("u", "a/x/#", "subscribe")
    assert not allowed("u", "a/+/down", "subscribe")  # a/secret/down is denied
    assert not allowed("u", "a/#", "subscribe")  # overlaps the denied a/secret/#
    assert not allowed("u", "#", "subscribe") and not allowed("u", "c/d", "receive")
    assert not allowed("someone", "a/x/down", "receive")
    with pytest.raises(ValueError, match="not understood"):
        parse_acl("pattern readwrite fe/v1/+/+/%u/#\n")
    with pytest.raises(ValueError, match="not understood"):
        parse_acl("topic read a/#\n")  # anonymous rules: not supported


@pytest.mark.parametrize(
    ("outer", "inner", "covers", "overlap"),
    [
        ("a/#", "a/#", True, True),
        ("a/#", "a", True, True),
        ("a/#", "a/b/+", True, True),
        ("a/+/c", "a/b/c", True, True),
        ("a/+/c", "a/+/c", True, True),
        ("a/b/c", "a/+/c", False, True),
        ("a/+", "a/#", False, True),
        ("a/b", "#", False, True),
        ("a/b", "a/c", False, False),
        ("a/+/c", "a/b", False, False),
        ("fe/v1/BR001/#", "fe/v1/+/+/+/#", False, True),
    ],
)
def test_filter_relations(outer, inner, covers, overlap):
    assert filter_covers(outer, inner) is covers
    assert filters_overlap(outer, inner) is overlap
    assert filters_overlap(inner, outer) is overlap


# --------------------------------------------------------------------------- real brokers


@dataclass
class Target:
    kind: str
    port: int
    passwords: dict[str, str]
    clients: list[MqttClient] = field(default_factory=list)

    def client(self, user: str | None, password: str | None = None) -> MqttClient:
        auth = "" if user is None else f"{user}:{password or self.passwords[user]}@"
        client = MqttClient(f"mqtt://{auth}127.0.0.1:{self.port}", f"c-{uuid.uuid4().hex[:8]}")
        self.clients.append(client)
        return client.connect(timeout=5)


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def target(request, tmp_path) -> Iterator[Target]:
    if request.param == "amqtt":
        broker = central_broker(SECRET, {EDGE: BRANCH}).start()
        passwords = {user: login_password(SECRET, user) for user in ("backend", EDGE)}
        target = Target("amqtt", broker.port, passwords)
        stop = broker.stop
    else:
        mosquitto = start_dynsec_mosquitto(tmp_path / "central", "central", make_certs(tmp_path))
        admin = DynsecAdmin(mosquitto.admin_url).connect()
        result = accounts.apply(admin, {EDGE: BRANCH}, secret_key=SECRET)
        admin.close()
        assert sorted(result.created) == ["backend", EDGE] and not result.errors
        passwords = {user: login_password(SECRET, user) for user in ("backend", EDGE)}
        target = Target("mosquitto", mosquitto.port, passwords)
        stop = mosquitto.stop
    try:
        yield target
    finally:
        for client in target.clients:
            client.close()
        stop()


def _settle(*clients: MqttClient) -> None:
    time.sleep(0.3)
    for client in clients:
        assert client.wait_idle(5)


def test_logins(target):
    assert target.client("backend").connected
    assert target.client(EDGE).connected
    for user, password in (
        ("mallory", "x"),
        ("edge-br002", target.passwords[EDGE]),  # no such login
        (EDGE, target.passwords["backend"]),
        ("backend", "wrong"),
    ):
        with pytest.raises(MqttConnectError):
            target.client(user, password)
    with pytest.raises(MqttConnectError):
        target.client(None)


def test_an_edge_cannot_forge_downlinks_or_speak_for_another_branch(target):
    backend = target.client("backend")
    ingest = Inbox()
    backend.subscribe("fe/v1/#", ingest)
    victim = target.client(EDGE)  # the genuine edge's connection
    trusted = Inbox()
    for topic in DOWNLINKS.values():
        victim.subscribe(topic, trusted)

    attacker = target.client(EDGE)
    forged = {topic: f"forged {name}".encode() for name, topic in DOWNLINKS.items()}
    for channel in ("telemetry", "state", "event", "config/desired", "queue/sync"):
        forged[device(channel, OTHER)] = f"as BR002 {channel}".encode()
        forged[own(channel, OTHER)] = f"as BR002's edge {channel}".encode()
    for topic, payload in forged.items():
        attacker.publish(
            topic, payload, retain=topic.endswith(("/state", "/desired")) or topic == STATE
        )

    attacker.publish(device("telemetry"), b"marker")
    assert ingest.wait_for(lambda ms: any(m.payload == b"marker" for m in ms))
    _settle(attacker, backend, victim)
    assert not [m for m in ingest.messages if m.payload in forged.values()]
    assert not [m for m in trusted.messages if m.payload in forged.values()]

    # Nothing forged was retained either: a later subscriber gets none of it.
    later = Inbox()
    target.client("backend").subscribe("fe/v1/#", later)
    _settle(*target.clients)
    assert not [m for m in later.messages if m.payload in forged.values()]


def test_an_edge_publishes_its_uplinks(target):
    backend = target.client("backend")
    ingest = Inbox()
    backend.subscribe("fe/v1/#", ingest)
    edge = target.client(EDGE)
    sent = set()
    for channel in sorted(UPLINK_CHANNELS):
        for topic in (device(channel), own(channel)):
            payload = f"uplink {topic}".encode()
            edge.publish(topic, payload, retain=channel in ("state", "config/reported"))
            sent.add(payload)
    assert ingest.wait_for(lambda ms: sent <= {m.payload for m in ms}), sent - {
        m.payload for m in ingest.messages
    }


def test_an_edge_receives_its_downlinks_and_no_other_branchs(target):
    backend = target.client("backend")
    backend.subscribe("fe/v1/#", Inbox())  # amqtt replayed this one's retained on connect
    edge = target.client(EDGE)
    trusted = Inbox()
    for topic in DOWNLINKS.values():
        edge.subscribe(topic, trusted)
    leaked = Inbox()
    for forbidden in (f"fe/v1/{OTHER}/#", "fe/v1/#", "#", "$SYS/#"):
        with pytest.raises(MqttSubscribeError):  # both refuse in the SUBACK
            edge.subscribe(forbidden, leaked)

    other = {
        own("config/desired", OTHER): b"BR002 registry",
        own("config/counters", OTHER): b"BR002 counters",
        own("queue/sync", OTHER): b"BR002 queue/sync",
        device("cmd", OTHER): b"BR002 cmd",
    }
    for topic, payload in other.items():
        backend.publish(topic, payload, retain="/config/" in topic)
    wanted = {}
    for name, topic in DOWNLINKS.items():
        wanted[topic] = f"genuine {name}".encode()
        backend.publish(topic, wanted[topic], retain=name in RETAINED)
    assert trusted.wait_for(lambda ms: set(wanted.values()) <= {m.payload for m in ms}), set(
        wanted.values()
    ) - {m.payload for m in trusted.messages}

    # A reconnecting edge gets its retained downlinks, and no other branch's.
    fresh = target.client(EDGE)
    again = Inbox()
    for name in sorted(RETAINED):
        fresh.subscribe(DOWNLINKS[name], again)
    fresh_leaked = Inbox()
    with pytest.raises(MqttSubscribeError):
        fresh.subscribe("fe/v1/#", fresh_leaked)
    retained = {wanted[DOWNLINKS[name]] for name in RETAINED}
    assert again.wait_for(lambda ms: retained <= {m.payload for m in ms})
    _settle(backend, edge, fresh)
    for inbox in (trusted, leaked, again, fresh_leaked):
        assert not [m.topic for m in inbox.messages if m.payload in other.values()]


def test_the_backend_may_do_everything(target):
    backend = target.client("backend")
    everything = Inbox()
    backend.subscribe("fe/v1/#", everything)
    sender = target.client("backend")
    topics = [*DOWNLINKS.values(), device("telemetry", OTHER), own("queue/sync", OTHER)]
    topics += [device(channel) for channel in sorted(UPLINK_CHANNELS)]
    for topic in topics:
        sender.publish(topic, f"backend {topic}".encode())
    expected = {f"backend {topic}".encode() for topic in topics}
    assert everything.wait_for(lambda ms: expected <= {m.payload for m in ms})
