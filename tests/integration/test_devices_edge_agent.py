"""The edge agent between real brokers: validation, dedup, sequence gaps and rebirth, rate
limits, birth gated on the host's STATE, the local queue while the uplink is down, and the
centre's ``queue.sync`` taken from the central broker only.

The centre here is an embedded broker and a listener; the host's STATE and the registry are
published by the test (the backend's part is covered by the e2e tests).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backend.platform.mqtt import EmbeddedBroker, Message, MqttClient
from devices.faults import Faults
from devices.fleet import Fleet, make_device
from devices.identity import DeviceIdentity
from edge.agent import EdgeAgent
from edge.credentials import derive_edge_key, hash_password, new_hmac_secret, new_password
from edge.protocol import (
    Envelope,
    decode_envelope,
    encode,
    format_ts,
    host_state_topic,
    make_command,
    make_envelope,
)
from edge.settings import EdgeSettings
from edge.store import RegistryEntry
from tests.iot_support import wait_for
from tests.mosquitto_process import free_port

pytestmark = pytest.mark.timeout(60)

BRANCH = "BR5"


def identity(device_type: str, device_id: str) -> DeviceIdentity:
    return DeviceIdentity(
        BRANCH, device_type, device_id, device_id, new_password(), new_hmac_secret()
    )


def registry(identities: list[DeviceIdentity]) -> list[RegistryEntry]:
    return [
        RegistryEntry(
            i.device_id,
            i.device_type,
            "active",
            hash_password(i.mqtt_password),
            derive_edge_key(bytes.fromhex(i.hmac_secret)).hex(),
        )
        for i in identities
    ]


@dataclass
class Centre:
    """The central broker as an edge sees it: a listener of everything and the host STATE."""

    broker: EmbeddedBroker
    listener: MqttClient
    received: list[tuple[str, Envelope]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, message: Message) -> None:
        with self.lock:
            self.received.append((message.topic, decode_envelope(message.payload, max_skew_s=None)))

    def host(
        self, online: bool, session: str = "s1", host_id: str = "finedge", receipts: bool = False
    ) -> None:
        data = {"online": online, "session": session, "receipts": receipts}
        env = make_envelope("host.state", data, 0)
        self.listener.publish(host_state_topic(host_id), encode(env), retain=True)

    def events(self, type_: str) -> list[Envelope]:
        with self.lock:
            return [env for _t, env in self.received if env.type == type_]

    def distinct(self, type_: str) -> set[str]:
        """The envelope ids of that type: an outbox that got no receipt within its timeout
        sends again from the oldest row (a slow machine reaches that), and copies count once."""
        return {env.id for env in self.events(type_)}

    def ids(self) -> set[str]:
        with self.lock:
            return {env.id for _t, env in self.received}


@pytest.fixture
def centre() -> Iterator[Centre]:
    broker = EmbeddedBroker().start()
    listener = MqttClient(broker.url, f"centre-{uuid.uuid4().hex[:6]}").connect(5)
    centre = Centre(broker, listener)
    listener.subscribe(f"fe/v1/{BRANCH}/+/+/#", centre.on_message)
    yield centre
    listener.close()
    broker.stop()


@pytest.fixture
def make_edge(tmp_path):
    edges: list[EdgeAgent] = []
    fleets: list[Fleet] = []

    def build(
        central_url: str, identities: list[DeviceIdentity], **settings
    ) -> tuple[EdgeAgent, Fleet]:
        edge = EdgeAgent(
            EdgeSettings(
                BRANCH,
                central_url,
                Path(tmp_path),
                mqtt_port=0,
                retry_max_delay=0.5,
                stats_every_s=3600,
                **settings,
            )
        ).start()
        edges.append(edge)
        edge.apply_registry(registry(identities), 1)
        fleet = Fleet(make_device(i, edge.broker.url, retry_max_delay=0.5) for i in identities)
        fleets.append(fleet.start())
        assert fleet.wait_connected(10)
        return edge, fleet

    yield build
    for fleet in fleets:
        fleet.stop(graceful=False)
    for edge in edges:
        edge.stop()


def test_bad_payloads_are_dropped_with_an_event_and_the_edge_keeps_serving(centre, make_edge):
    centre.host(True)
    lock, cash = identity("lock", "L1"), identity("cash", "C1")
    edge, fleet = make_edge(centre.broker.url, [lock, cash])
    wait_for(lambda: edge.uplink_live, 10, "edge live")
    dev = fleet["L1"]
    dev.inject_raw("telemetry", b"\x00 not json at all")
    dev.inject_raw("telemetry", b"\xff\xfe")
    dev.inject_raw("telemetry", b'{"id": "x"}')
    dev.inject_raw("telemetry", encode(make_envelope("lock.status", {"pad": "x" * 70_000}, 99)))
    dev.inject_raw("telemetry", b"{}", topic="fe/v1/BR5/lock/L1/nonsense")
    # What the ACL of the embedded broker already stops (a device on another's topics) can
    # still come through a broker with a looser ACL: the edge checks the registry itself.
    edge.broker.add_user("installer", "pw")
    with MqttClient(f"mqtt://installer:pw@127.0.0.1:{edge.broker.port}", "installer") as loose:
        loose.publish("fe/v1/BR5/cash/L1/event", encode(make_envelope("cash.x", {}, 5)))
        loose.publish("fe/v1/BR5/lock/GHOST/event", encode(make_envelope("lock.x", {}, 5)))
    skewed = make_device(lock, edge.broker.url, faults=Faults(clock_skew_s=3600))
    skewed._seq = 1000  # a second connection of L1, an hour ahead
    skewed.start()
    assert skewed.wait_connected(5)
    skewed.publish("telemetry", "lock.status", {"skewed": True})
    assert skewed.flush(5)
    skewed.stop(graceful=False)
    good = dev.publish("telemetry", "lock.status", {"after": "garbage"})
    wait_for(lambda: good.id in centre.ids(), 10, "a good message after the garbage")

    wait_for(lambda: len(centre.events("edge.bad_payload")) >= 7, 10, "bad payload events")
    events = centre.events("edge.bad_payload")
    codes = {e.data["code"] for e in events}
    assert {"bad_json", "not_utf8", "missing_field", "too_large", "bad_topic"} <= codes
    assert "unknown_device" in codes
    wait_for(lambda: "clock_skew" in {e.data["code"] for e in centre.events("edge.bad_payload")})
    topics = {t for t, env in centre.received if env.type == "edge.bad_payload"}
    assert topics == {f"fe/v1/{BRANCH}/edge/edge-br5/event"}
    assert not any(env.data.get("skewed") for _t, env in centre.received)
    assert edge.stats["errors"] == 0 and edge.stats["bad_payload"] >= 6


def test_duplicates_are_dropped_and_a_gap_asks_for_a_rebirth(centre, make_edge):
    centre.host(True)
    edge, fleet = make_edge(centre.broker.url, [identity("counter", "K1")])
    wait_for(lambda: edge.uplink_live, 10, "edge live")
    dev = fleet["K1"]
    dev.faults.duplicate_rate = 1.0
    sent = [dev.publish("telemetry", "counter.stats", {"n": n}).id for n in range(5)]
    dev.faults.duplicate_rate = 0.0
    wait_for(lambda: set(sent) <= centre.ids(), 10, "sent messages")
    wait_for(lambda: edge.stats["duplicates"] >= 5, 10, "the duplicates dropped")
    forwarded = [env.id for _t, env in centre.received if env.id in sent]
    assert forwarded == sent

    births = len(centre.events("device.birth"))
    dev.faults.gap_rate = 1.0
    dev.publish("telemetry", "counter.stats", {"n": "gap"})
    dev.faults.gap_rate = 0.0
    wait_for(lambda: any(t == "device.rebirth" for t, _a in dev.acted), 10, "rebirth command")
    wait_for(lambda: len(centre.events("device.birth")) > births, 10, "new birth")
    gap = centre.events("edge.seq_gap")[0]
    assert gap.data["device_id"] == "K1" and gap.data["rebirth"] is True


def test_a_device_heard_before_the_registry_admits_it_is_asked_for_a_rebirth(centre, tmp_path):
    """On an external branch broker (a branch's Mosquitto) devices log in on their own, so
    they can talk before the edge has the registry that admits them: their birth is dropped
    as unknown, and once a registry admits them the edge asks them for a rebirth, so the
    centre still gets their birth and state."""
    centre.host(True)
    lock = identity("lock", "L1")
    # the device's password is there already, as in a branch Mosquitto's password file
    branch = EmbeddedBroker(users={"L1": lock.mqtt_password}, allow_anonymous=True).start()
    settings = EdgeSettings(
        BRANCH,
        centre.broker.url,
        Path(tmp_path),
        branch_url=branch.url,
        retry_max_delay=0.5,
        stats_every_s=3600,
    )
    with ExitStack() as stack:
        stack.callback(branch.stop)
        edge = EdgeAgent(settings).start()
        stack.callback(edge.stop)
        fleet = Fleet([make_device(lock, branch.url, retry_max_delay=0.5)]).start()
        stack.callback(fleet.stop, graceful=False)
        wait_for(lambda: edge.uplink_live, 10, "edge live")
        assert fleet.wait_connected(10)
        wait_for(lambda: edge.stats["bad_payload"] >= 1, 10, "the birth dropped as unknown")
        assert not centre.events("device.birth")
        edge.apply_registry(registry([lock]), 1)
        wait_for(lambda: any(t == "device.rebirth" for t, _a in fleet["L1"].acted), 10, "rebirth")
        wait_for(lambda: centre.events("device.birth"), 10, "the birth at the centre")
        assert centre.events("device.birth")[0].data["state"]["lock"] == "locked"


def test_noisy_devices_are_rate_limited(centre, make_edge):
    centre.host(True)
    edge, fleet = make_edge(
        centre.broker.url, [identity("camera", "CAM1")], rate_per_s=2.0, rate_burst=5.0
    )
    wait_for(lambda: edge.uplink_live, 10, "edge live")
    dev = fleet["CAM1"]
    for n in range(40):
        dev.publish("telemetry", "camera.status", {"n": n})
    assert dev.flush(10)
    wait_for(lambda: edge.stats["rate_limited"] >= 25, 10, "rate limiting")
    wait_for(lambda: centre.events("edge.rate_limited"), 10, "rate limit event")
    assert centre.events("edge.rate_limited")[0].data["device_id"] == "CAM1"
    time.sleep(0.3)
    assert len([e for e in centre.events("camera.status")]) <= 10


def test_forwarding_waits_for_the_host_state_and_marks_replays_historical(centre, make_edge):
    edge, fleet = make_edge(centre.broker.url, [identity("lock", "L1")], historical_after_s=60)
    dev = fleet["L1"]
    wait_for(lambda: edge.central_connected, 10, "connected")
    early = dev.publish("telemetry", "lock.status", {"n": "early"})
    wait_for(lambda: edge.pending >= 2, 10, "stored while no host")  # birth + early
    time.sleep(0.3)
    assert early.id not in centre.ids() and not edge.uplink_live

    centre.host(True)
    wait_for(lambda: early.id in centre.ids(), 10, "forwarded once the host is online")
    births = centre.events("edge.birth")
    assert births and births[0].data["online"] is True
    replayed = next(env for _t, env in centre.received if env.id == early.id)
    assert replayed.historical is True
    live = dev.publish("telemetry", "lock.status", {"n": "live"})
    wait_for(lambda: live.id in centre.ids(), 10, "live message")
    assert next(env for _t, env in centre.received if env.id == live.id).historical is None

    # A death of another host session is stale; the current session's death stops forwarding.
    centre.host(False, session="old")
    time.sleep(0.3)
    assert edge.uplink_live
    centre.host(False, session="s1")
    wait_for(lambda: not edge.uplink_live, 10, "host offline")
    held = dev.publish("telemetry", "lock.status", {"n": "held"})
    time.sleep(0.5)
    assert held.id not in centre.ids()
    centre.host(True, session="s2")
    wait_for(lambda: held.id in centre.ids(), 10, "forwarded after the host returned")


def test_the_local_queue_works_while_the_uplink_is_down_and_syncs_later(make_edge, tmp_path):
    port = free_port()  # nobody listens there yet: the centre is unreachable
    ids = [identity("kiosk", "KSK1"), identity("caller", "CALL-03"), identity("display", "D1")]
    edge, fleet = make_edge(f"mqtt://127.0.0.1:{port}", ids)
    kiosk, caller, display = fleet["KSK1"], fleet["CALL-03"], fleet["D1"]
    kiosk.request_ticket("cash")
    repeat = kiosk.request_ticket("loan")
    wait_for(lambda: len(kiosk.printed) == 2, 10, "tickets printed offline")
    assert [t["ticket_no"] for t in kiosk.printed] == ["A001", "C001"]
    assert kiosk.printed[1]["request_id"] == repeat
    caller.call_next()
    wait_for(lambda: caller.state["serving"] == "A001", 10, "called offline")
    wait_for(lambda: display.state["calls"][:1] == [{"ticket_no": "A001", "counter_id": "3"}], 10)
    assert [t.ticket_no for t in edge.queue.waiting()] == ["C001"]

    with EmbeddedBroker(port=port) as broker:
        received: list[Envelope] = []
        listener = MqttClient(broker.url, "late-centre").connect(5)
        listener.subscribe(
            f"fe/v1/{BRANCH}/edge/+/event",
            lambda m: received.append(decode_envelope(m.payload, max_skew_s=None)),
        )
        env = make_envelope("host.state", {"online": True, "session": "x"}, 0)
        listener.publish(host_state_topic(), encode(env), retain=True)
        wait_for(lambda: len([e for e in received if e.type.startswith("queue.")]) >= 3, 15)
        queue_events = [
            (e.type, e.data["ticket_no"]) for e in received if e.type.startswith("queue.")
        ]
        assert queue_events == [
            ("queue.ticket_issued", "A001"),
            ("queue.ticket_issued", "C001"),
            ("queue.ticket_called", "A001"),
        ]
        assert all(e.historical for e in received if e.type.startswith("queue."))
        listener.close()


def test_the_local_queue_calls_by_the_centres_counter_map_and_categories(centre, make_edge):
    """The centre's retained counter map (``edge.counters``) reaches the edge and steers its
    queue: a cash-only window is not given the loan client who came first, a caller linked to a
    counter serves that counter's skills, an elderly client goes first, and a kiosk request
    with an unknown category is dropped as a bad payload. The hall's timezone comes with it."""
    counters = {
        "version": 3,
        "counters": [
            {"counter_id": "1", "skills": ["cash"], "caller_id": "CALL-01"},
            {"counter_id": "7", "skills": ["loan"], "caller_id": "CALL-02"},
        ],
        "timezone": "Asia/Urumqi",
    }
    centre.listener.publish(
        f"fe/v1/{BRANCH}/edge/edge-br5/config/counters",
        encode(make_envelope("edge.counters", counters, 0)),
        retain=True,
    )
    centre.host(True)
    ids = [identity("kiosk", "KSK1"), identity("caller", "CALL-01"), identity("caller", "CALL-02")]
    edge, fleet = make_edge(centre.broker.url, ids)
    kiosk, cash_window, loan_window = fleet["KSK1"], fleet["CALL-01"], fleet["CALL-02"]
    wait_for(lambda: edge.queue.counter_map is not None, 10, "counter map synced")
    assert edge.queue.counter_map.version == 3
    assert edge.queue.timezone == "Asia/Urumqi"  # the hall's: its local day numbers tickets
    assert edge.store.kv_get("hall_timezone") == "Asia/Urumqi"
    kiosk.request_ticket("loan")
    kiosk.request_ticket("cash")
    kiosk.request_ticket("cash", "elderly")
    wait_for(lambda: len(kiosk.printed) == 3, 10, "tickets printed")
    kiosk.publish(
        "event",
        "kiosk.ticket_requested",
        {"request_id": "bad-1", "service": "cash", "category": "king"},
    )
    wait_for(lambda: edge.stats["bad:bad_data"] == 1, 10, "bad category dropped")
    # the windows call from the local queue only while the uplink is down (online the centre
    # calls): the host goes offline, the counter map stays
    centre.host(False)
    wait_for(lambda: not edge.uplink_live, 10, "uplink down")
    cash_window.call_next()
    wait_for(lambda: cash_window.state["serving"] == "A002", 10, "elderly cash client first")
    cash_window.call_next()
    wait_for(lambda: cash_window.state["serving"] == "A001", 10, "then the other cash client")
    cash_window.call_next()  # only the loan client waits: not for this window
    wait_for(lambda: cash_window.state["serving"] is None, 10, "nobody for the cash window")
    loan_window.call_next()  # sends counter_id "2", unknown: the device is at counter 7
    wait_for(lambda: loan_window.state["serving"] == "C001", 10, "loan window")
    centre.host(True)

    wait_for(lambda: len(centre.distinct("queue.ticket_called")) == 3, 10, "calls forwarded")
    issued = {e.data["ticket_no"]: e.data for e in centre.events("queue.ticket_issued")}
    assert {no: d["category"] for no, d in issued.items()} == {
        "C001": "normal",
        "A001": "normal",
        "A002": "elderly",
    }
    calls = [
        (e.data["ticket_no"], e.data["counter_id"]) for e in centre.events("queue.ticket_called")
    ]
    assert calls == [("A002", "1"), ("A001", "1"), ("C001", "7")]
    bad = [e.data for e in centre.events("edge.bad_payload") if e.data["code"] == "bad_data"]
    assert bad and "category" in bad[0]["message"] and bad[0]["device_id"] == "KSK1"
    assert not [
        e for e in centre.events("kiosk.ticket_requested") if e.data["request_id"] == "bad-1"
    ]


def test_with_receipts_the_outbox_keeps_each_uplink_until_the_centre_stored_it(centre, make_edge):
    """The centre's receipt, not the broker's PUBACK, lets a row go; one the centre never got
    (a broker that dropped it) is sent again; the unreceipted window bounds what is in flight."""
    lost_once: set[str] = set()
    receipts = MqttClient(centre.broker.url, "receipts").connect(5)

    def receive(message: Message) -> None:
        env = decode_envelope(message.payload, max_skew_s=None)
        if env.data.get("n") == 3 and env.id not in lost_once:
            lost_once.add(env.id)  # as if the broker had dropped it
            return
        receipt = make_envelope("ingest.receipt", {"ids": [env.id]}, 0)
        receipts.publish(f"fe/v1/{BRANCH}/edge/edge-br5/receipt", encode(receipt))

    receipts.subscribe(f"fe/v1/{BRANCH}/lock/+/telemetry", receive)
    centre.host(True, receipts=True)
    edge, fleet = make_edge(
        centre.broker.url, [identity("lock", "L1")], receipt_timeout_s=1.0, receipt_window=4
    )
    wait_for(lambda: edge.uplink_live, 10, "edge live")
    dev = fleet["L1"]
    sent = [dev.publish("telemetry", "lock.status", {"n": n}).id for n in range(8)]
    wait_for(lambda: lost_once and all(i in centre.ids() for i in sent), 15, "all delivered")
    lost = next(iter(lost_once))

    def copies() -> list[Envelope]:
        with centre.lock:
            return [env for _t, env in centre.received if env.id == lost]

    wait_for(lambda: len(copies()) >= 2, 10, "the lost one sent again after the timeout")
    wait_for(lambda: edge.stats["forward_retries"] >= 1, 5)
    telemetry_rows = lambda: [  # noqa: E731
        r for r in edge.store.peek(100) if r.channel == "telemetry"
    ]
    wait_for(lambda: not telemetry_rows(), 10, "receipted rows leave the outbox")
    receipts.close()


def test_the_centres_queue_sync_counts_only_from_the_central_broker(centre, make_edge):
    """A ``queue.sync`` on the edge's topic of the central broker (where only the backend and
    this edge may publish) takes a ticket the centre called out of the edge's queue, and the
    edge says nothing back about it; the same message on the branch broker, even from a login
    allowed everywhere there (the simulators' shared one in deploy/), changes nothing."""
    centre.host(True)
    ids = [identity("kiosk", "KSK1"), identity("caller", "CALL-03")]
    edge, fleet = make_edge(centre.broker.url, ids)
    kiosk, caller = fleet["KSK1"], fleet["CALL-03"]
    wait_for(lambda: edge.uplink_live, 10, "edge live")
    kiosk.request_ticket("cash")
    kiosk.request_ticket("cash")
    wait_for(lambda: len(kiosk.printed) == 2, 10, "tickets printed")

    def sync_of(ticket_no: str, status: str) -> bytes:
        ticket = edge.queue.ticket(ticket_no)
        entry = {
            "ticket_no": ticket_no,
            "issued_at": ticket.issued_at,
            "status": status,
            "service": "cash",
            "counter_id": "7",
            "at": format_ts(edge.now()),
        }
        return encode(make_envelope("queue.sync", {"full": False, "tickets": [entry]}, 0))

    topic = f"fe/v1/{BRANCH}/edge/edge-br5/queue/sync"
    edge.broker.add_user("installer", "pw")
    with MqttClient(f"mqtt://installer:pw@127.0.0.1:{edge.broker.port}", "installer") as loose:
        loose.publish(topic, sync_of("A002", "done"))
    centre.listener.publish(topic, sync_of("A001", "called"))
    wait_for(lambda: edge.stats["queue_syncs"] == 1, 10, "the centre's sync applied")
    assert [t.ticket_no for t in edge.queue.waiting()] == ["A002"]
    time.sleep(0.3)
    assert edge.stats["queue_syncs"] == 1  # the branch-side copy was never applied

    centre.host(False)  # the caller calls from the local queue only while the uplink is down
    wait_for(lambda: not edge.uplink_live, 10, "uplink down")
    caller.call_next()
    wait_for(lambda: caller.state["serving"] == "A002", 10, "A002 called")
    caller.call_next()
    wait_for(lambda: edge.queue.ticket("A002").status == "done", 10, "A002 finished")
    wait_for(lambda: caller.state["serving"] is None, 10, "nobody else waits")
    centre.host(True)
    wait_for(lambda: len(centre.distinct("queue.ticket_done")) == 1, 10, "events forwarded")
    with centre.lock:
        about_a001 = [
            env.type
            for _t, env in centre.received
            if env.type.startswith("queue.") and env.data.get("ticket_no") == "A001"
        ]
    assert about_a001 == ["queue.ticket_issued"]  # no echo of the centre's call


def _answer(centre: Centre, who: DeviceIdentity, request_id: str, ticket_no: str) -> None:
    """The centre's answer to a press: a signed ``caller.show_call`` naming the request."""
    cmd = make_command(
        "caller.show_call",
        {"ticket_no": ticket_no, "counter_id": "3", "request_id": request_id},
        1,
        bytes.fromhex(who.hmac_secret),
    )
    centre.listener.publish(f"fe/v1/{BRANCH}/caller/{who.device_id}/cmd", encode(cmd))


def test_online_the_centre_calls_and_the_edge_calls_locally_only_when_the_uplink_dropped(
    centre, make_edge
):
    """Online-first calling: while the uplink is live a press is the centre's (forwarded, no
    local call; the centre's answer names the request); unanswered with the uplink still live,
    nothing happens locally; unanswered and the uplink down by the timeout, the edge calls
    locally and the press goes up again as historical (the centre ignores it); offline, the
    edge calls at once."""
    centre.host(True, receipts=True)  # nobody sends receipts: forwarded rows stay in the outbox
    caller_id = identity("caller", "CALL-03")
    ids = [identity("kiosk", "KSK1"), caller_id, identity("display", "D1")]
    edge, fleet = make_edge(centre.broker.url, ids, call_answer_timeout_s=1.0)
    kiosk, caller, display = fleet["KSK1"], fleet["CALL-03"], fleet["D1"]
    wait_for(lambda: edge.uplink_live, 10, "edge live")
    for service in ("cash", "cash", "cash"):
        kiosk.request_ticket(service)
    wait_for(lambda: len(kiosk.printed) == 3, 10, "tickets printed")

    # online, answered by the centre (a mini-program ticket)
    first = caller.call_next()
    wait_for(lambda: any(e.data["request_id"] == first for e in centre.events("caller.call_next")))
    _answer(centre, caller_id, first, "RA001")
    wait_for(lambda: caller.state["serving"] == "RA001", 10, "the centre's call shown")
    wait_for(lambda: edge.stats["calls_answered_by_centre"] == 1, 5)
    # past the press's timeout, the edge settles it: answered, so nothing local
    settled = lambda: edge.call_outcome("CALL-03", first)  # noqa: E731
    wait_for(lambda: settled() is not None, 10, "the answered press settled after its timeout")
    assert settled() == "answered"
    assert [t.ticket_no for t in edge.queue.waiting()] == ["A001", "A002", "A003"]
    assert edge.stats["calls_local_fallback"] == 0

    # online, unanswered, the uplink still live: the centre declined; nothing local
    caller.call_next()
    wait_for(lambda: edge.stats["calls_unanswered_online"] == 1, 10, "unanswered online")
    assert [t.ticket_no for t in edge.queue.waiting()] == ["A001", "A002", "A003"]
    assert caller.state["serving"] == "RA001"

    # online, unanswered, and the uplink drops before the timeout: a local call
    third = caller.call_next()
    wait_for(lambda: any(e.data["request_id"] == third for e in centre.events("caller.call_next")))
    centre.host(False)
    wait_for(lambda: not edge.uplink_live, 10, "uplink down")
    wait_for(lambda: caller.state["serving"] == "A001", 10, "called locally after the timeout")
    assert edge.stats["calls_local_fallback"] == 1
    wait_for(
        lambda: display.state["calls"][:1] == [{"ticket_no": "A001", "counter_id": "3"}],
        10,
        "the local call shown on the hall display",
    )

    # offline: at once, not through the answer timeout (no pending press, no second
    # fallback; conditions, not a time limit: a busy machine may take a while to deliver)
    fourth = caller.call_next()
    wait_for(lambda: caller.state["serving"] == "A002", 10, "called locally at once")
    assert edge.stats["calls_to_centre"] == 3
    assert edge.stats["calls_local_fallback"] == 1
    assert edge.call_outcome("CALL-03", fourth) is None  # never waited for the centre

    centre.host(True)
    wait_for(
        lambda: (
            len([e for e in centre.events("caller.call_next") if e.data["request_id"] == third])
            >= 2
        ),
        15,
        "the unanswered press replayed",
    )
    copies = [e for e in centre.events("caller.call_next") if e.data["request_id"] == third]
    assert not copies[0].historical and copies[-1].historical is True
    wait_for(lambda: len(centre.distinct("queue.ticket_called")) == 2, 10, "local calls forwarded")


def test_a_rewind_is_answered_first_then_the_unreceipted_rows_go_again(centre, make_edge):
    centre.host(True, receipts=True)
    edge, fleet = make_edge(centre.broker.url, [identity("lock", "L1")], receipt_timeout_s=60)
    wait_for(lambda: edge.uplink_live, 10, "edge live")
    dev = fleet["L1"]
    sent = [dev.publish("telemetry", "lock.status", {"n": n}).id for n in range(5)]
    wait_for(lambda: set(sent) <= centre.ids(), 10, "first sending")
    with centre.lock:
        mark = len(centre.received)

    hub = MqttClient(centre.broker.url, "new-owner").connect(5)
    rewind = make_envelope("ingest.rewind", {"token": "tok-1"}, 0)
    hub.publish(f"fe/v1/{BRANCH}/edge/edge-br5/receipt", encode(rewind))

    def after() -> list:
        with centre.lock:
            return [
                env
                for topic, env in centre.received[mark:]
                if "/telemetry" in topic or env.type == "edge.rewound"
            ]

    wait_for(lambda: len([e for e in after() if e.id in sent]) >= len(sent), 10, "sent again")
    first = after()[0]
    assert first.type == "edge.rewound" and first.data == {"token": "tok-1"}
    again = [e.id for e in after() if e.id in sent]
    assert again[: len(sent)] == sent  # from the oldest unreceipted row, in order
    assert not [r for r in edge.store.peek(100) if r.envelope_id == first.id]  # not an outbox row
    hub.close()
