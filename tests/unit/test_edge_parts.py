"""Edge building blocks without a broker: credentials, tracking, the durable store, the local
queue, and the agent's parts (assembled without brokers) handling the centre's queue.sync and
the hall's timezone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge.agent import EdgeParts, assemble
from edge.credentials import (
    derive_edge_key,
    hash_password,
    new_hmac_secret,
    secret_bytes,
    verify_password,
)
from edge.localqueue import LocalQueue
from edge.protocol import (
    RecentIds,
    build_topic,
    default_edge_id,
    encode,
    format_ts,
    host_state_topic,
    make_envelope,
    parse_topic,
)
from edge.registry import DeviceRegistry
from edge.settings import EdgeSettings, EdgeStats
from edge.store import EdgeStore, RegistryEntry
from edge.tracking import RateLimiter, SeqTracker, Throttle

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def edge_parts(settings: EdgeSettings, store: EdgeStore) -> EdgeParts:
    """An edge's parts over ``store``, without brokers (nothing reaches a device)."""
    return assemble(
        settings,
        store=store,
        queue=LocalQueue(store, timezone=settings.timezone),
        registry=DeviceRegistry(store),
        branch=None,
        broker=None,
        stats=EdgeStats(),
        clock=lambda: NOW,
    )


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_password_hashes_are_mosquitto_pbkdf2_and_verify_in_constant_form():
    digest = hash_password("s3cret")
    assert digest.startswith("$7$1000$") and len(digest.split("$")) == 5
    assert verify_password(digest, "s3cret")
    assert not verify_password(digest, "s3cret!")
    assert not verify_password(digest, "")
    assert not verify_password("$6$x$y", "s3cret")
    assert not verify_password("$7$abc$!!$??", "s3cret")
    assert hash_password("s3cret") != digest  # salted


def test_edge_key_is_derived_and_differs_from_the_secret():
    secret = secret_bytes(new_hmac_secret())
    assert len(secret) == 32
    key = derive_edge_key(secret)
    assert key == derive_edge_key(secret) and key != secret and len(key) == 32
    with pytest.raises(ValueError):
        derive_edge_key(b"")


def test_extension_topics():
    assert host_state_topic() == "fe/v1/STATE/finedge"
    assert default_edge_id("BR001") == "edge-br001"
    assert parse_topic(f"fe/v1/BR001/edge/{default_edge_id('BR001')}/event").device_type == "edge"
    sync = build_topic("BR001", "edge", "edge-br001", "queue/sync")
    assert sync == "fe/v1/BR001/edge/edge-br001/queue/sync"
    assert parse_topic(sync).channel == "queue/sync"


def test_seq_tracker_gaps_resets_births_and_deaths():
    seqs = SeqTracker()
    assert seqs.observe("d", 5, "x.y").kind == "first"
    assert seqs.observe("d", 6, "x.y").kind == "ok"
    gap = seqs.observe("d", 9, "x.y")
    assert (gap.kind, gap.expected, gap.got, gap.missing) == ("gap", 7, 9, 2)
    assert seqs.observe("d", 3, "x.y").kind == "reset"
    assert seqs.observe("d", 1, "device.death").kind == "death"
    assert seqs.last("d") == 3  # a death does not move the sequence
    assert seqs.observe("d", 50, "device.birth").kind == "birth"
    assert seqs.observe("d", 51, "x.y").kind == "ok"


def test_recent_ids_rate_limiter_and_throttle():
    recent = RecentIds(capacity=2)
    assert not recent.seen("a") and recent.seen("a")
    recent.seen("b")
    recent.seen("c")  # "a" leaves (least recently used)
    assert not recent.seen("a")

    clock = FakeClock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.allow("d") for _ in range(4)] == [True, True, True, False]
    clock.t += 1.0
    assert [limiter.allow("d") for _ in range(3)] == [True, True, False]
    assert limiter.allow("other")

    throttle = Throttle(10, clock=clock)
    assert throttle.ready("k") == (True, 0)
    assert throttle.ready("k") == (False, 0)
    assert throttle.ready("k") == (False, 0)
    clock.t += 11
    assert throttle.ready("k") == (True, 2)


def test_outbox_survives_a_restart_in_order(tmp_path):
    store = EdgeStore(tmp_path / "edge.db")
    ids = [
        store.append(f"t/{n}", f"p{n}".encode(), "telemetry", historical=False) for n in range(5)
    ]
    assert ids == sorted(ids) and store.pending == 5
    assert store.delete_through(ids[1]) == 2
    store.close()

    again = EdgeStore(tmp_path / "edge.db")
    assert again.pending == 3
    again.mark_historical()
    rows = again.peek(10)
    assert [r.topic for r in rows] == ["t/2", "t/3", "t/4"]
    assert all(r.historical for r in rows)
    assert [r.topic for r in again.peek(10, after_id=rows[0].id)] == ["t/3", "t/4"]
    again.append("e/1", b"event", "event", historical=False)
    assert again.drop_oldest_telemetry(2) == 2
    assert [r.topic for r in again.peek(10)] == ["t/4", "e/1"]
    again.close()


def test_a_delivered_face_encoding_leaves_no_bytes_in_the_edge_database(tmp_path):
    """A door camera's message is kept only until the centre's receipt; once deleted, its
    bytes are overwritten (secure_delete), not left in a free page of the file."""
    store = EdgeStore(tmp_path / "edge.db")
    marker = b'"encoding":[0.0873141,-0.1290447,0.0511237]' * 40
    store.append("fe/v1/B/camera/C/event", marker, "event", historical=False, envelope_id="e1")
    store.append("fe/v1/B/counter/K/event", b"{}", "event", historical=False, envelope_id="e2")
    store.flush()
    assert store.delete_envelopes(["e1"]) == 1
    store.close()  # the last connection checkpoints the WAL into the file
    files = [p for p in tmp_path.iterdir() if p.name.startswith("edge.db")]
    assert files and not any(b"0.0873141" in p.read_bytes() for p in files)


def test_registry_and_counters_persist(tmp_path):
    store = EdgeStore(tmp_path / "edge.db")
    entries = [
        RegistryEntry("L1", "lock", "active", "$7$h", "ab"),
        RegistryEntry("R", "lock", "retired"),
    ]
    store.replace_registry(entries, 7)
    assert store.next_counter("c") == 1 and store.next_counter("c") == 2
    store.close()
    again = EdgeStore(tmp_path / "edge.db")
    registry = again.registry()
    assert registry["L1"].admitted and not registry["R"].admitted
    assert again.kv_get("registry_version") == "7"
    assert again.next_counter("c") == 3
    again.close()


def test_local_queue_issues_idempotently_and_calls_in_order(tmp_path):
    store = EdgeStore(tmp_path / "edge.db")
    queue = LocalQueue(store, service_s=120)
    a1, created = queue.issue("cash", NOW, request_id="r1", kiosk_id="K")
    assert created and (a1.ticket_no, a1.position, a1.estimated_wait_s) == ("A001", 1, 0)
    same, created = queue.issue("cash", NOW, request_id="r1")
    assert not created and same.ticket_no == "A001"
    b1, _ = queue.issue("account", NOW, request_id="r2")
    a2, _ = queue.issue("cash", NOW, request_id="r3")
    # position per service; without a counter map every window serves everything, so the
    # wait counts all the work ahead
    assert (b1.ticket_no, b1.position, b1.estimated_wait_s) == ("B001", 1, 120)
    assert (a2.ticket_no, a2.position, a2.estimated_wait_s) == ("A002", 2, 240)
    with pytest.raises(ValueError):
        queue.issue("mortgage", NOW)

    called, done = queue.call_next("1", NOW)
    assert called.ticket_no == "A001" and called.counter_id == "1" and done is None
    called, done = queue.call_next("1", NOW)
    assert called.ticket_no == "B001" and done.ticket_no == "A001" and done.status == "done"
    assert [t.ticket_no for t in queue.waiting()] == ["A002"]
    queue.call_next("2", NOW)
    assert queue.call_next("2", NOW)[0] is None  # nobody waits

    tomorrow = NOW.replace(day=2)
    assert queue.issue("cash", tomorrow)[0].ticket_no == "A001"  # numbers restart daily
    store.close()


def test_the_agent_applies_the_centres_sync_without_echo_and_never_from_the_branch(tmp_path):
    """``queue.sync`` from the central client changes the local queue and sends nothing back;
    the same message arriving on the branch side (where devices publish) is never applied; a
    malformed one is refused whole."""
    from backend.platform.mqtt import Message

    store = EdgeStore(tmp_path / "edge.db")
    edge = edge_parts(EdgeSettings("BR001", "mqtt://127.0.0.1:1", tmp_path), store)
    ticket, _ = edge.queue.issue("cash", NOW, request_id="r1", kiosk_id="K1")
    entry = {
        "ticket_no": ticket.ticket_no,
        "issued_at": ticket.issued_at,
        "status": "called",
        "service": "cash",
        "counter_id": "2",
        "at": format_ts(NOW.replace(minute=5)),
    }
    topic = edge.messages.topic("queue/sync")
    payload = encode(make_envelope("queue.sync", {"full": False, "tickets": [entry]}, 0))
    stats = edge.gate.stats

    edge.gate.on_message(Message(topic, payload, 1, False))  # the branch side: ignored
    assert [t.ticket_no for t in edge.queue.waiting()] == ["A001"]
    assert store.pending == 0

    edge.downlinks.on_queue_sync(Message(topic, payload, 1, False))  # the central client
    assert edge.queue.waiting() == [] and edge.queue.ticket("A001").counter_id == "2"
    edge.downlinks.on_queue_sync(Message(topic, payload, 1, False))  # again: nothing changes
    assert stats["queue_syncs"] == 2 and stats["queue_sync_applied"] == 1
    assert store.pending == 0  # no queue.* event (nor anything else) went into the outbox

    wrong = encode(make_envelope("edge.counters", {"tickets": [entry]}, 0))
    edge.downlinks.on_queue_sync(Message(topic, wrong, 1, False))
    edge.downlinks.on_queue_sync(Message(topic, b"{not json", 1, False))
    edge.downlinks.on_queue_sync(
        Message(topic, encode(make_envelope("queue.sync", {"tickets": {}}, 0)), 1, False)
    )
    assert stats["queue_sync_refused"] == 3 and stats["errors"] == 0
    store.close()


def test_the_agent_numbers_by_its_default_timezone_until_the_centre_sends_the_halls(tmp_path):
    """``EdgeSettings.timezone`` (``finedge edge --timezone``) is the local queue's zone until
    the counter map (``edge.counters``) brings the hall's, which the edge store keeps; an
    unknown zone in the settings is refused at once."""
    from backend.platform.mqtt import Message

    with pytest.raises(ValueError):
        EdgeSettings("BR001", "mqtt://127.0.0.1:1", tmp_path, timezone="Nope/Nowhere")
    settings = EdgeSettings("BR001", "mqtt://127.0.0.1:1", tmp_path, timezone="UTC")
    assert EdgeSettings("BR001", "mqtt://127.0.0.1:1", tmp_path).timezone == "Asia/Shanghai"
    store = EdgeStore(tmp_path / "edge.db")
    edge = edge_parts(settings, store)
    late = NOW.replace(hour=23, minute=30)  # 07:30 on 2 March in Shanghai
    assert edge.queue.local_day(late) == "2025-03-01"
    data = {
        "version": 9,
        "counters": [{"counter_id": "1", "skills": ["cash"], "caller_id": None}],
        "timezone": "Asia/Shanghai",
    }
    topic = edge.messages.topic("config/counters")
    counters = encode(make_envelope("edge.counters", data, 0))
    edge.downlinks.on_counters(Message(topic, counters, 1, True))
    assert edge.downlinks.stats["counter_map_syncs"] == 1
    assert edge.queue.timezone == "Asia/Shanghai" and edge.queue.timezone_synced
    assert edge.queue.local_day(late) == "2025-03-02"
    assert store.kv_get("hall_timezone") == "Asia/Shanghai"
    store.close()
