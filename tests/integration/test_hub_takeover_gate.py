"""A hub that takes a branch up stores nothing of it until the edge's ``edge.rewound``, even what
the broker delivers the moment it has the subscription (docs/hub.md, "Subscriptions and order").

No broker: a stand-in client hands the hub an uplink of the branch from within ``subscribe``, as
a broker does as soon as it has the subscription, before the SUBACK is back on the lease thread
and the edge was asked to rewind. That uplink is newer than those the edge sent to the dead
previous owner: stored then, it would come before them (the failover test's flake)."""

from __future__ import annotations

from backend.platform.live import RecordingEmitter
from backend.platform.mqtt import Message
from backend.roles.hub import DeviceHub, HubSettings
from edge.protocol import build_topic, decode_envelope, default_edge_id, encode, make_envelope

KEY = "k" * 48
BRANCH = "TGATE01"
EDGE = default_edge_id(BRANCH)  # no edge device in the database


class EagerBroker:
    """Delivers ``pending`` to the handler the moment a branch is subscribed; records what the
    hub publishes."""

    connected = True

    def __init__(self, pending: list[Message]) -> None:
        self.pending = pending
        self.published: list[tuple[str, bytes]] = []

    def subscribe(self, topic_filter, handler, qos=1, **_kw) -> None:
        while self.pending:
            handler(self.pending.pop(0))

    def publish_nowait(self, topic, payload, qos=1, retain=False):
        self.published.append((topic, payload))


def telemetry(seq: int) -> Message:
    topic = build_topic(BRANCH, "counter", f"{BRANCH}-CNT-01", "telemetry")
    return Message(topic, encode(make_envelope("counter.stats", {"served": seq}, seq)), 1, False)


def test_an_uplink_delivered_with_the_subscription_waits_for_the_rewind(session_factory):
    hub = DeviceHub(
        session_factory,
        RecordingEmitter(),
        KEY,
        "mqtt://127.0.0.1:1",
        HubSettings(leases=False, branches={BRANCH}),
    )
    broker = EagerBroker([telemetry(45)])
    hub._client = broker  # the ingest's writer is not started: what it took stays queued

    hub._on_acquired(BRANCH)

    assert hub.ingest.backlog == 0, "an uplink of the branch was taken before the rewind"
    assert hub.ingest.stats["before_rewind"] == 1
    [(topic, payload)] = broker.published
    assert topic == build_topic(BRANCH, "edge", EDGE, "receipt")
    asked = decode_envelope(payload, max_skew_s=None)
    assert asked.type == "ingest.rewind"

    answer = make_envelope("edge.rewound", {"token": asked.data["token"]}, 0)
    hub._on_uplink(Message(build_topic(BRANCH, "edge", EDGE, "event"), encode(answer), 1, False))
    hub._on_uplink(telemetry(10))  # the edge's oldest unreceipted uplink, sent again
    assert hub.ingest.backlog == 1
