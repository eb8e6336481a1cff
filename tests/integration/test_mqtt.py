"""MqttClient and EmbeddedBroker against real brokers.

Each behaviour runs on the embedded broker (amqtt, with users) and on a private Mosquitto
(started here on a free port with a password file and an ACL); the generic ones also run on
the machine's shared Mosquitto on 127.0.0.1:1883 under a random topic prefix. Where Mosquitto
is absent those variants skip with the reason printed.

Delivery is at least once and amqtt may deliver a retained message twice, so the tests
de-duplicate by envelope id, as the contract's consumers do.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.platform.listen import PortInUse
from backend.platform.mqtt import (
    EmbeddedBroker,
    Message,
    MqttClient,
    MqttConnectError,
    MqttPublishError,
    MqttSubscribeError,
    Will,
    connect_with_retry,
    parse_mqtt_url,
    topic_matches,
    wait_published,
)
from edge.protocol import decode_envelope, encode, make_envelope
from tests.iot_support import wait_for
from tests.mosquitto_process import free_port, port_open, require_mosquitto, start_mosquitto

pytestmark = pytest.mark.timeout(30)

SHARED_HOST, SHARED_PORT = "127.0.0.1", 1883
USERS = {"backend": "backend-pw", "alice": "alice-pw", "dev1": "dev1-pw"}
ACL = """\
user backend
topic readwrite fe/v1/#
topic readwrite test/#

user alice
topic readwrite test/#

user dev1
topic readwrite fe/v1/BR001/lock/dev1/#
"""


@dataclass
class BrokerUnderTest:
    name: str
    host: str
    port: int
    prefix: str
    authenticated: bool
    stop: Callable[[], None] | None = None
    start: Callable[[], None] | None = None
    clients: list[MqttClient] = field(default_factory=list)

    def url(self, username: str | None = "alice", password: str | None = None) -> str:
        if not self.authenticated or username is None:
            return f"mqtt://{self.host}:{self.port}"
        password = USERS[username] if password is None else password
        return f"mqtt://{username}:{password}@{self.host}:{self.port}"

    def client(self, username: str | None = "alice", **kwargs) -> MqttClient:
        """A connected client, closed at teardown."""
        client = MqttClient(
            self.url(username),
            f"t-{uuid.uuid4().hex[:10]}",
            reconnect_min_delay=0.1,
            reconnect_max_delay=1.0,
            **kwargs,
        )
        self.clients.append(client)
        return client.connect(timeout=5)

    def restart(self) -> None:
        assert self.stop is not None and self.start is not None
        self.stop()
        time.sleep(0.2)
        self.start()

    def topic(self, suffix: str) -> str:
        return f"{self.prefix}/{suffix}"


class Inbox:
    """Collects messages from a handler; waits for a condition with a deadline."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._cond = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Message]], bool], timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.messages), timeout)

    def wait_count(self, count: int, timeout: float = 5.0) -> list[Message]:
        assert self.wait_for(lambda ms: len(ms) >= count, timeout), (
            f"got {len(self.messages)} of {count} messages: {self.messages}"
        )
        return list(self.messages)

    def unique_envelopes(self) -> dict[str, object]:
        with self._cond:
            return {env.id: env for env in (decode_envelope(m.payload) for m in self.messages)}


# --------------------------------------------------------------------------- brokers


def _embedded(tmp_path: Path) -> Iterator[BrokerUnderTest]:
    broker = EmbeddedBroker(users=USERS).start()
    port = broker.port
    state = {"broker": broker}

    def start() -> None:  # a new broker on the same port, as after a process restart
        state["broker"] = EmbeddedBroker(port=port, users=USERS).start()

    but = BrokerUnderTest(
        "amqtt", "127.0.0.1", port, f"test/{uuid.uuid4().hex}", True, broker.stop, start
    )
    but.stop = lambda: state["broker"].stop()
    yield but
    _close_all(but)
    state["broker"].stop()


def _private_mosquitto(tmp_path: Path) -> Iterator[BrokerUnderTest]:
    proc = start_mosquitto(tmp_path / "mosquitto", users=USERS, acl=ACL)
    but = BrokerUnderTest(
        "mosquitto", "127.0.0.1", proc.port, f"test/{uuid.uuid4().hex}", True, proc.stop, proc.start
    )
    yield but
    _close_all(but)
    proc.stop()


def _shared_mosquitto(tmp_path: Path) -> Iterator[BrokerUnderTest]:
    require_mosquitto()
    if not port_open(SHARED_HOST, SHARED_PORT):
        pytest.skip(f"no shared Mosquitto listening on {SHARED_HOST}:{SHARED_PORT}")
    prefix = f"finedge-test/{uuid.uuid4().hex}"
    but = BrokerUnderTest("shared", SHARED_HOST, SHARED_PORT, prefix, False)
    try:
        MqttClient(but.url(), f"probe-{uuid.uuid4().hex[:8]}").connect(3).close()
    except MqttConnectError as exc:
        pytest.skip(f"shared Mosquitto on {SHARED_HOST}:{SHARED_PORT} refused us: {exc}")
    yield but
    _close_all(but)


def _close_all(but: BrokerUnderTest) -> None:
    for client in but.clients:
        client.close()


FACTORIES = {
    "amqtt": _embedded,
    "mosquitto": _private_mosquitto,
    "shared": _shared_mosquitto,
}


@pytest.fixture(
    params=[
        "amqtt",
        pytest.param("mosquitto", marks=pytest.mark.mosquitto),
        pytest.param("shared", marks=pytest.mark.mosquitto),
    ]
)
def any_broker(request, tmp_path) -> Iterator[BrokerUnderTest]:
    yield from FACTORIES[request.param](tmp_path)


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def auth_broker(request, tmp_path) -> Iterator[BrokerUnderTest]:
    """Brokers with username/password auth that this test can restart."""
    yield from FACTORIES[request.param](tmp_path)


@pytest.fixture
def mosquitto_acl(tmp_path) -> Iterator[BrokerUnderTest]:
    yield from _private_mosquitto(tmp_path)


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:18830", ("127.0.0.1", 18830, None, None)),
        ("mqtt://broker", ("broker", 1883, None, None)),
        ("mqtt://u:p@h:1", ("h", 1, "u", "p")),
        ("mqtt://u%40x:p%3A%2F@h", ("h", 1883, "u@x", "p:/")),
        ("mqtts://u:p@h", ("h", 8883, "u", "p")),
        ("tcp://h:2", ("h", 2, None, None)),
    ],
)
def test_parse_mqtt_url(url, expected):
    assert parse_mqtt_url(url) == expected


@pytest.mark.parametrize("url", ["http://h", "mqtt://", "mqtt://h:notaport", "ws://h:1"])
def test_parse_mqtt_url_rejects(url):
    with pytest.raises(ValueError):
        parse_mqtt_url(url)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("fe/v1/#", "fe/v1/BR001/lock/dev1/state", True),
        ("fe/v1/+/lock/+/state", "fe/v1/BR001/lock/dev1/state", True),
        ("fe/v1/+/lock/+/state", "fe/v1/BR001/cash/dev1/state", False),
        ("fe/v1/+/+/+/config/#", "fe/v1/BR001/kiosk/k1/config/desired", True),
        ("fe/v1/+/+/+/+", "fe/v1/BR001/kiosk/k1/config/desired", False),
        ("#", "anything/at/all", True),
    ],
)
def test_topic_matches(topic_filter, topic, matches):
    assert topic_matches(topic_filter, topic) is matches


def test_subscribe_rejects_invalid_filters():
    client = MqttClient("mqtt://127.0.0.1:1", "never-connected")
    for bad in ("", "a/#/b", "a/b#", "a/+b/c"):
        with pytest.raises(ValueError):
            client.subscribe(bad, lambda m: None)


def test_connect_times_out_when_nobody_listens():
    client = MqttClient(f"mqtt://127.0.0.1:{free_port()}", "lonely", reconnect_min_delay=0.1)
    started = time.monotonic()
    with pytest.raises(MqttConnectError):
        client.connect(timeout=1.0)
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------- embedded broker


def test_embedded_broker_port_zero_picks_a_free_port_and_stops_cleanly():
    with EmbeddedBroker() as broker:
        assert broker.port > 0 and broker.running
        client = MqttClient(broker.url, "anon").connect(5)  # no users: anonymous allowed
        client.close()
    assert not broker.running
    broker.stop()  # twice is fine


def test_embedded_broker_runtime_users():
    with EmbeddedBroker(users={"a": "1"}) as broker:
        with pytest.raises(MqttConnectError):
            MqttClient(broker.url_for("b", "2"), "b").connect(5)
        broker.add_user("b", "2")
        MqttClient(broker.url_for("b", "2"), "b2").connect(5).close()
        broker.remove_user("b")
        with pytest.raises(MqttConnectError):
            MqttClient(broker.url_for("b", "2"), "b3").connect(5)


def test_embedded_broker_refuses_a_busy_port_in_one_line_before_amqtt_starts():
    with EmbeddedBroker() as broker:
        second = EmbeddedBroker(port=broker.port, start_timeout=3)
        with pytest.raises(PortInUse) as refused:
            second.start()
        assert str(refused.value) == (
            f"MQTT port {broker.port} on 127.0.0.1 is in use by another program; "
            "stop it or choose another port"
        )
        assert not second.running  # amqtt was never started (no tracebacks of its shutdown)


def test_amqtt_replays_other_clients_retained_messages_and_the_wrapper_drops_them():
    # amqtt 0.12.1, on connect, sends a newcomer the retained messages matching *any*
    # subscription in the broker. The wrapper dispatches only what matches its own filters.
    with EmbeddedBroker() as broker:
        clients = []
        try:
            publisher = MqttClient(broker.url, "publisher").connect(5)
            clients.append(publisher)
            publisher.publish("s/dev1/state", b"retained", retain=True)
            bystander = MqttClient(broker.url, "bystander").connect(5)
            clients.append(bystander)
            bystander.subscribe("s/#", lambda m: None)

            inbox = Inbox()
            newcomer = MqttClient(broker.url, "newcomer").connect(5)
            clients.append(newcomer)
            newcomer.subscribe("other/#", inbox)
            wait_for(lambda: newcomer.stats.received >= 1, 10, "the foreign retained message")
            assert newcomer.wait_idle(5)
            assert inbox.messages == []
            assert newcomer.stats.unmatched == newcomer.stats.received
        finally:
            for client in clients:
                client.close()


# --------------------------------------------------------------------------- auth


def test_good_credentials_connect(auth_broker):
    client = auth_broker.client("alice")
    assert client.connected


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong"), ("mallory", "alice-pw"), ("alice", "")],
)
def test_bad_credentials_are_refused(auth_broker, username, password):
    url = f"mqtt://{username}:{password}@{auth_broker.host}:{auth_broker.port}"
    with pytest.raises(MqttConnectError, match="refused"):
        MqttClient(url, f"bad-{uuid.uuid4().hex[:8]}").connect(timeout=5)


def test_anonymous_is_refused(auth_broker):
    with pytest.raises(MqttConnectError, match="refused"):
        MqttClient(auth_broker.url(None), f"anon-{uuid.uuid4().hex[:8]}").connect(timeout=5)


# --------------------------------------------------------------------------- pub/sub


def test_publish_subscribe_envelope(any_broker):
    inbox = Inbox()
    threads = set()
    sub = any_broker.client()
    sub.subscribe(any_broker.topic("#"), inbox)
    sub.subscribe(any_broker.topic("#"), lambda m: threads.add(threading.current_thread().name))
    pub = any_broker.client()
    envelopes = [make_envelope("test.ping", {"n": n, "text": "柜台"}, seq=n) for n in range(20)]
    for env in envelopes:
        pub.publish(any_broker.topic("dev/telemetry"), encode(env), qos=1)
    inbox.wait_for(lambda ms: len({m.payload for m in ms}) >= 20)
    assert list(inbox.unique_envelopes().values()) == envelopes  # per-topic order kept
    assert sub.stats.errors == 0
    assert sub.wait_idle(5)
    assert threads == {f"mqtt-dispatch-{sub.client_id}"}  # off paho's network thread


def test_wait_subscribed_means_the_broker_holds_the_subscription(any_broker):
    # what the edge waits for before it admits devices to its branch broker (edge/agent.py)
    client = MqttClient(any_broker.url(), f"t-{uuid.uuid4().hex[:10]}")
    any_broker.clients.append(client)
    assert not client.wait_subscribed(0.05)  # not even connected
    inbox = Inbox()
    client.subscribe(any_broker.topic("sub/#"), inbox)  # registered before the connection
    client.connect(timeout=5)
    assert client.wait_subscribed(5)
    pub = any_broker.client()
    pub.publish(any_broker.topic("sub/x"), encode(make_envelope("test.ping", {}, seq=1)), qos=1)
    inbox.wait_for(lambda ms: len(ms) >= 1)  # heard at once: the subscription stood


def test_qos0_publish_returns_after_sending(any_broker):
    inbox = Inbox()
    any_broker.client().subscribe(any_broker.topic("q0"), inbox)
    any_broker.client().publish(any_broker.topic("q0"), b"zero", qos=0)
    assert inbox.wait_count(1)[0].payload == b"zero"


def test_failing_handler_does_not_stop_dispatch(any_broker):
    inbox = Inbox()
    calls = []

    def fragile(message: Message) -> None:
        calls.append(message.payload)
        decode_envelope(message.payload)  # raises on garbage

    sub = any_broker.client()
    sub.subscribe(any_broker.topic("in"), fragile)
    sub.subscribe(any_broker.topic("in"), inbox)  # a second handler on the same filter
    pub = any_broker.client()
    pub.publish(any_broker.topic("in"), b"\x00garbage")
    pub.publish(any_broker.topic("in"), b"{not json")
    good = make_envelope("test.ok", {}, seq=1)
    pub.publish(any_broker.topic("in"), encode(good))
    assert inbox.wait_for(lambda ms: any(m.payload == encode(good) for m in ms))
    assert sub.wait_idle(5)
    assert sub.stats.errors >= 2  # both garbage messages raised in `fragile`, were logged
    assert encode(good) in calls  # ... and `fragile` still got the good one afterwards


def test_handler_may_publish_from_the_dispatch_thread(any_broker):
    replies = Inbox()
    client = any_broker.client()
    client.subscribe(any_broker.topic("reply"), replies)
    client.subscribe(
        any_broker.topic("request"),
        lambda m: client.publish(any_broker.topic("reply"), m.payload + b"!", timeout=5),
    )
    any_broker.client().publish(any_broker.topic("request"), b"ping")
    assert replies.wait_count(1)[0].payload == b"ping!"


def test_retained_state_reaches_late_subscribers_deduplicated_by_id(any_broker):
    topic = any_broker.topic("lock/dev1/state")
    pub = any_broker.client()
    state = make_envelope("state.online", {"online": True}, seq=1)
    pub.publish(topic, encode(state), qos=1, retain=True)
    try:
        inbox = Inbox()
        late = any_broker.client()
        # Two overlapping subscriptions invite duplicates (amqtt also duplicates retained
        # messages by itself); de-duplicating by envelope id leaves exactly one.
        late.subscribe(any_broker.topic("#"), inbox)
        late.subscribe(topic, inbox)
        inbox.wait_count(1)
        time.sleep(0.3)  # let any duplicate arrive
        assert late.wait_idle(5)
        assert list(inbox.unique_envelopes()) == [state.id]
        assert all(m.retain for m in inbox.messages)
    finally:
        pub.publish(topic, b"", qos=1, retain=True)  # clear it (matters on the shared broker)


def test_last_will_is_published_when_a_client_dies(any_broker):
    topic = any_broker.topic("lock/dev9/state")
    inbox = Inbox()
    watcher = any_broker.client()
    watcher.subscribe(topic, inbox)

    offline = make_envelope("state.offline", {"online": False}, seq=0)
    dying = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"dying-{uuid.uuid4().hex[:8]}")
    if any_broker.authenticated:
        dying.username_pw_set("alice", USERS["alice"])
    dying.will_set(topic, encode(offline), qos=1, retain=False)
    accepted = threading.Event()
    dying.on_connect = lambda *_args: accepted.set()
    dying.connect(any_broker.host, any_broker.port, keepalive=5)
    deadline = time.monotonic() + 10
    while not accepted.is_set() and time.monotonic() < deadline:  # the CONNACK: a busy
        dying.loop(timeout=0.2)  # broker may take more than one turn of the loop
    assert accepted.is_set(), "no CONNACK"
    dying.socket().close()  # no DISCONNECT: the broker must send the will
    try:
        messages = inbox.wait_count(1, timeout=8)
        assert decode_envelope(messages[0].payload).id == offline.id
    finally:
        dying.loop_stop()


def test_will_and_on_connected_of_the_wrapper(any_broker):
    topic = any_broker.topic("kiosk/k1/state")
    inbox = Inbox()
    any_broker.client().subscribe(topic, inbox)
    births = []

    def birth(client: MqttClient) -> None:
        births.append(client.client_id)
        client.publish(topic, encode(make_envelope("state.online", {}, seq=0)), retain=False)

    any_broker.client(will=Will(topic, b"offline", retain=False), on_connected=birth)
    assert inbox.wait_count(1)
    assert len(births) == 1


def test_publish_nowait_keeps_a_window_in_flight_in_order(any_broker):
    topic = any_broker.topic("window")
    inbox = Inbox()
    any_broker.client().subscribe(topic, inbox)
    sender = any_broker.client(max_inflight=50)
    deliveries = [sender.publish_nowait(topic, str(n).encode()) for n in range(120)]
    assert wait_published(deliveries, timeout=10) == 120
    messages = inbox.wait_count(120)
    assert [int(m.payload) for m in messages] == list(range(120))
    sender.close()
    with pytest.raises(MqttPublishError):
        sender.publish_nowait(topic, b"after close")


def test_abort_drops_the_connection_so_the_will_fires_and_the_client_returns(any_broker):
    topic = any_broker.topic("lock/dev8/state")
    inbox = Inbox()
    any_broker.client().subscribe(topic, inbox)
    victim = any_broker.client(will=Will(topic, b"gone", retain=False))
    victim.abort()
    assert inbox.wait_for(lambda ms: any(m.payload == b"gone" for m in ms), timeout=8)
    deadline = time.monotonic() + 10
    while victim.stats.connects < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.stats.connects == 2 and victim.wait_connected(5)


def test_connect_with_retry_waits_for_the_broker_or_for_stop():
    port = free_port()
    made: list[MqttClient] = []

    def factory() -> MqttClient:
        made.append(MqttClient(f"mqtt://127.0.0.1:{port}", f"r-{uuid.uuid4().hex[:8]}"))
        return made[-1]

    stop = threading.Event()
    stop.set()
    assert connect_with_retry(factory, stop) is None and not made
    stop.clear()
    result: list[MqttClient | None] = []
    waiter = threading.Thread(
        target=lambda: result.append(
            connect_with_retry(factory, stop, attempt_timeout=0.3, max_delay=0.3)
        )
    )
    waiter.start()
    try:
        deadline = time.monotonic() + 10
        while len(made) < 2 and time.monotonic() < deadline:  # tried before the broker is up
            time.sleep(0.05)
        assert len(made) >= 2 and not result
        with EmbeddedBroker(port=port):
            waiter.join(10)
            assert result and result[0] is made[-1] and result[0].connected
            result[0].close()
    finally:
        stop.set()
        waiter.join(5)


# --------------------------------------------------------------------------- reconnect


def test_reconnect_resubscribes_after_a_broker_restart(auth_broker):
    inbox = Inbox()
    connects = []
    sub = auth_broker.client("alice", on_connected=lambda c: connects.append(time.monotonic()))
    sub.subscribe(auth_broker.topic("#"), inbox)
    pub = auth_broker.client("backend")
    pub.publish(auth_broker.topic("before"), b"1")
    inbox.wait_count(1)

    auth_broker.restart()

    assert sub.wait_connected(10), "subscriber did not reconnect"
    assert pub.wait_connected(10), "publisher did not reconnect"
    assert sub.wait_idle(5)  # on_connected runs on the dispatch thread
    assert sub.stats.connects == 2 and len(connects) == 2

    def arrived(ms: list[Message]) -> bool:
        return any(m.payload == b"2" for m in ms)

    # The resubscription races the first publish after reconnecting: retry briefly.
    deadline = time.monotonic() + 8
    while not arrived(inbox.messages) and time.monotonic() < deadline:
        pub.publish(auth_broker.topic("after"), b"2")
        inbox.wait_for(arrived, timeout=0.5)
    assert arrived(inbox.messages), "no message after the restart: not resubscribed"


def test_publish_while_the_broker_is_down_raises_then_recovers(auth_broker):
    client = auth_broker.client("alice")
    auth_broker.stop()
    deadline = time.monotonic() + 5
    while client.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.connected
    with pytest.raises(MqttPublishError):
        client.publish(auth_broker.topic("x"), b"lost", timeout=0.5)
    auth_broker.start()
    assert client.wait_connected(10)
    client.publish(auth_broker.topic("x"), b"delivered", timeout=5)


# --------------------------------------------------------------------------- Mosquitto ACL


@pytest.mark.mosquitto
def test_mosquitto_acl_confines_a_device_to_its_own_topics(mosquitto_acl):
    own = "fe/v1/BR001/lock/dev1/cmd"
    other = "fe/v1/BR001/lock/dev2/cmd"
    dev1_inbox = Inbox()
    dev1 = mosquitto_acl.client("dev1")
    dev1.subscribe(own, dev1_inbox)
    # Mosquitto 2 may refuse the SUBACK outright; either way nothing must be delivered.
    with contextlib.suppress(MqttSubscribeError):
        dev1.subscribe(other, dev1_inbox)

    backend_inbox = Inbox()
    backend = mosquitto_acl.client("backend")
    backend.subscribe("fe/v1/#", backend_inbox)

    backend.publish(other, b"for dev2")
    backend.publish(own, b"for dev1")
    assert dev1_inbox.wait_count(1)[0].payload == b"for dev1"

    # dev1 may write its own telemetry but not dev2's: Mosquitto drops that silently.
    dev1.publish("fe/v1/BR001/lock/dev2/telemetry", b"spoofed")
    dev1.publish("fe/v1/BR001/lock/dev1/telemetry", b"genuine")
    backend_inbox.wait_for(lambda ms: any(m.payload == b"genuine" for m in ms))
    time.sleep(0.3)
    assert dev1.wait_idle(5) and backend.wait_idle(5)
    assert [m.payload for m in dev1_inbox.messages] == [b"for dev1"]
    assert b"spoofed" not in [m.payload for m in backend_inbox.messages]


def test_handler_lookup_follows_subscription_changes():
    client = MqttClient("mqtt://127.0.0.1:1", "handlers-cache")
    first, second = (lambda _m: None), (lambda _m: None)
    client.subscribe("fe/v1/+/x", first)
    assert client._handlers_for("fe/v1/B1/x") == [first]  # cached from here
    client.subscribe("fe/v1/#", second)
    assert client._handlers_for("fe/v1/B1/x") == [first, second]
    client.unsubscribe("fe/v1/+/x")
    assert client._handlers_for("fe/v1/B1/x") == [second]
