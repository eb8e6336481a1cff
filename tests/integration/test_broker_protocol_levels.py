"""The embedded amqtt brokers (``finedge serve``'s central one, the edge's branch one, the plain
EmbeddedBroker) speak MQTT 3.1.1. An MQTT 5 CONNECT used to get no answer at all (amqtt cannot
parse its properties): the client hung until its own timeout. Now it gets CONNACK return code 1
(unacceptable protocol version) and the connection is closed; MQTT 3.1.1 clients are served
as before, on the same listener."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.platform.mqtt import MqttClient
from backend.platform.mqtt.broker import EmbeddedBroker
from backend.platform.mqtt.central import BACKEND_USER, central_broker, login_password
from edge.branch_broker import BranchBroker

SECRET = "a-test-secret-for-the-central-broker-logins"


def _central():
    broker = central_broker(SECRET, {"edge-br001": "BR001"})
    return broker, BACKEND_USER, login_password(SECRET, BACKEND_USER)


def _branch():
    broker = BranchBroker("BR001")
    broker.add_user("edge-br001", "edge-pw")
    return broker, "edge-br001", "edge-pw"


def _plain():
    return EmbeddedBroker(users={"alice": "alice-pw"}), "alice", "alice-pw"


BROKERS: dict[str, Callable] = {"central": _central, "branch": _branch, "plain": _plain}


@pytest.fixture(params=sorted(BROKERS))
def broker(request):
    made, username, password = BROKERS[request.param]()
    made.start()
    try:
        yield made, username, password
    finally:
        made.stop()


def test_an_mqtt5_connect_is_refused_cleanly_not_left_hanging(broker):
    embedded, username, password = broker
    answered = threading.Event()
    closed = threading.Event()
    codes: list = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="v5", protocol=paho.MQTTv5)
    client.username_pw_set(username, password)

    def on_connect(_c, _u, _flags, reason_code, _props):
        codes.append(reason_code)
        answered.set()

    client.on_connect = on_connect
    client.on_disconnect = lambda *_args: closed.set()
    client.connect("127.0.0.1", embedded.port, keepalive=30)
    client.loop_start()
    try:
        assert answered.wait(10), "no CONNACK to an MQTT 5 CONNECT"
        assert closed.wait(10), "the connection was not closed after the refusal"
    finally:
        client.disconnect()
        client.loop_stop()
    # paho reads a 3.1.1 return code 1 as MQTT 5's "Unsupported protocol version" (0x84)
    assert codes[0].is_failure and codes[0].value == 0x84, codes


def test_the_raw_answer_is_connack_return_code_1_then_close(broker):
    embedded, _username, _password = broker
    # A minimal MQTT 5 CONNECT: protocol "MQTT" level 5, clean start, keepalive 30,
    # no properties, client id "raw".
    variable = b"\x00\x04MQTT\x05\x02\x00\x1e\x00"
    payload = b"\x00\x03raw"
    packet = bytes([0x10, len(variable) + len(payload)]) + variable + payload
    with socket.create_connection(("127.0.0.1", embedded.port), timeout=10) as sock:
        sock.sendall(packet)
        answer = b""
        while chunk := sock.recv(16):  # until the broker closes
            answer += chunk
    assert answer == b"\x20\x02\x00\x01"


def test_mqtt_311_clients_are_served_as_before(broker):
    embedded, username, password = broker
    client = MqttClient(embedded.url_for(username, password), "v311").connect(10)
    try:
        assert client.connected
    finally:
        client.close()
