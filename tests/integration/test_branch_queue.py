"""Queue rules against the database: remote tickets and check-in, calls by skills and
priority, transfer and return, no-show and recall, starvation, re-routing when a counter's
device goes offline, the edge's offline queue reconciled without duplicates or losses (and
numbered by the branch's local day, as the centre names its tickets), what the centre did with
the edge's tickets synced back to it (``queue.sync``), and the pushes."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.branch import events, reconcile, rules
from backend.branch.halls import get_hall
from backend.branch.models import HallCounter, ServiceLeg, Ticket
from backend.branch.queue import queries
from backend.branch.queue import service as queue
from backend.branch.queue.snapshot import effective_skills
from backend.platform.audit import AuditRecord
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound
from edge.localqueue import CounterMap, LocalQueue
from edge.protocol import format_ts, make_envelope
from edge.store import EdgeStore
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import (
    actor,
)

branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_factory = support.hall_factory  # fixture
hall_url = support.hall_url  # fixture


B = "BR001"


@pytest.fixture
def s(hall_factory):
    with hall_factory() as session:
        # a clean hall: no demo tickets, counters 1 (cash, account) and 2 (cash, loan, wealth)
        session.query(HallCounter).update({"current_ticket_id": None})
        session.query(Ticket).delete()
        for c in session.scalars(select(HallCounter)):
            if c.counter_id in ("3", "9"):
                c.status = "closed"
        session.commit()
        yield session


def issue(s, hall, user, service, **kw):
    return queue.issue_ticket(s, actor(s, user), hall, B, service, **kw)


def call(s, hall, counter="1", user="teller1"):
    return queue.call_next(s, actor(s, user), hall, B, counter)


def here(hall) -> str:
    """The code on BR001's hall display now: the client is in the hall."""
    return support.presence_code(hall, B)


def test_remote_ticket_waits_for_check_in_then_keeps_its_place(s, hall, clock):
    remote = issue(s, hall, "client1", "cash")
    assert remote["status"] == "remote" and remote["ticket_no"].startswith("RA")
    assert remote["position"] == 1 and remote["category"] == "vip"  # client1 is a VIP
    clock.tick(60)
    walk_in = issue(s, hall, "teller1", "cash")
    assert walk_in["ticket_no"] == "SA001" and walk_in["position"] == 2
    clock.tick(30)
    assert call(s, hall)["called"]["ticket_no"] == "SA001"  # the remote one is not here yet
    checked = queue.check_in(
        s, actor(s, "client1"), hall, B, remote["ticket_no"], presence_code=here(hall)
    )
    assert checked["status"] == "waiting" and checked["position"] == 1
    clock.tick(30)
    result = call(s, hall)
    assert result["finished"]["ticket_no"] == "SA001"
    assert result["called"]["ticket_no"] == remote["ticket_no"]
    with pytest.raises(Conflict):
        issue(s, hall, "client1", "cash")  # one open ticket per service and client


def test_remote_ticket_expires_without_check_in(s, hall, clock):
    t = issue(s, hall, "client1", "loan")
    clock.tick(1801)
    with pytest.raises(BusinessRuleViolation) as err:
        queue.check_in(s, actor(s, "client1"), hall, B, t["ticket_no"], presence_code=here(hall))
    assert err.value.code == "ticket_expired"
    t2 = issue(s, hall, "client1", "wealth")
    clock.tick(1801)
    assert queue.expire_remote_tickets(s, hall, clock()) == 1
    assert s.scalar(select(Ticket.status).where(Ticket.ticket_no == t2["ticket_no"])) == "expired"


def test_counters_call_by_skills_and_priority(s, hall, clock):
    loan = issue(s, hall, "teller1", "loan")
    clock.tick(10)
    cash = issue(s, hall, "teller1", "cash")
    clock.tick(10)
    elderly = issue(s, hall, "teller1", "cash", category="elderly")
    clock.tick(10)
    # counter 1 serves cash and account: the elderly client first, despite arriving last
    assert call(s, hall, "1")["called"]["ticket_no"] == elderly["ticket_no"]
    # counter 2 serves cash, loan and wealth: the loan client waited longest
    assert call(s, hall, "2")["called"]["ticket_no"] == loan["ticket_no"]
    assert call(s, hall, "1")["called"]["ticket_no"] == cash["ticket_no"]
    empty = call(s, hall, "1")
    assert empty["called"] is None and empty["finished"]["ticket_no"] == cash["ticket_no"]


def test_transfer_then_return_with_raised_priority(s, hall, clock):
    first = issue(s, hall, "teller1", "cash")
    clock.tick(5)
    assert call(s, hall, "1")["called"]["ticket_no"] == first["ticket_no"]
    for _ in range(3):
        clock.tick(20)
        issue(s, hall, "teller1", "loan")
    clock.tick(60)
    moved = queue.transfer(s, actor(s, "teller1"), hall, B, "1", "loan", return_after=True)
    t = moved["transferred"]
    assert t["service"] == "loan" and t["return_service"] == "cash" and t["transfers"] == 1
    assert t["position"] == 1  # kept its queue time and got the transfer boost
    done = call(s, hall, "2")
    assert done["called"]["ticket_no"] == first["ticket_no"]
    for _ in range(2):
        clock.tick(10)
        issue(s, hall, "teller1", "cash")
    clock.tick(300)
    # loan done: back to cash, ahead of the newer cash clients (counter 2 also serves cash)
    back = call(s, hall, "2")
    assert back["called"]["ticket_no"] == first["ticket_no"]
    assert back["called"]["service"] == "cash" and back["called"]["return_service"] is None
    clock.tick(60)
    final = queue.finish(s, actor(s, "teller1"), hall, B, "2")
    assert final["finished"]["status"] == "done"
    legs = [
        leg.outcome
        for leg in s.scalars(
            select(ServiceLeg).where(ServiceLeg.ticket_id == first["id"]).order_by(ServiceLeg.id)
        )
    ]
    assert legs == ["transferred", "returned", "done"]


def test_no_show_and_recall(s, hall, clock):
    t = issue(s, hall, "teller1", "cash")
    call(s, hall)
    recalled = queue.recall(s, actor(s, "teller1"), hall, B, "1")
    assert recalled["called"]["recalls"] == 1
    skipped = queue.no_show(s, actor(s, "teller1"), hall, B, "1")
    assert skipped["skipped"]["ticket_no"] == t["ticket_no"]
    assert skipped["skipped"]["status"] == "no_show"
    with pytest.raises(BusinessRuleViolation):
        queue.recall(s, actor(s, "teller1"), hall, B, "1")
    assert hall.send_command.sent == []  # commands leave only after the commit
    s.commit()
    shown = hall.send_command.named("display.show")
    assert [(d, a["ticket_no"]) for d, a in shown] == [("BR001-DSP-01", t["ticket_no"])] * 2
    assert hall.send_command.named("caller.show_call")[0][0] == "BR001-CALL-01"


def test_long_waiting_client_is_called_despite_priority_stream(s, hall, clock):
    normal = issue(s, hall, "teller1", "cash")
    called = None
    for step in range(120):
        clock.tick(60)
        issue(s, hall, "teller1", "cash", category="vip")
        result = call(s, hall, "1")
        if result["called"]["ticket_no"] == normal["ticket_no"]:
            called = step
            break
    assert called is not None
    assert (called + 1) * 60 <= rules.MAX_LEAD_S + 60


def test_offline_counter_device_reroutes_its_client_and_service(s, hall, clock):
    s.get(HallCounter, s.scalar(select(HallCounter.id).where(HallCounter.counter_id == "2")))
    counter2 = s.scalar(select(HallCounter).where(HallCounter.counter_id == "2"))
    counter1 = s.scalar(select(HallCounter).where(HallCounter.counter_id == "1"))
    loan = issue(s, hall, "teller1", "loan")
    assert call(s, hall, "2")["called"]["ticket_no"] == loan["ticket_no"]
    death = make_envelope("device.death", {"online": False}, 9, now=clock())
    assert (
        events.on_device_event(
            s, B, "caller", counter2.device_id, death, channel="state", hall=hall
        )
        == "rerouted"
    )
    s.refresh(counter1)
    assert counter2.status == "offline"
    assert "loan" in effective_skills(counter1) and "wealth" in effective_skills(counter1)
    assert call(s, hall, "1")["called"]["ticket_no"] == loan["ticket_no"]  # re-routed
    birth = make_envelope("device.birth", {"online": True}, 10, now=clock())
    events.on_device_event(s, B, "caller", counter2.device_id, birth, channel="state", hall=hall)
    s.refresh(counter1)
    assert counter2.status == "open" and effective_skills(counter1) == ["cash", "account"]


def test_pushes_reach_the_branch_and_the_client_only(s, hall):
    issue(s, hall, "client1", "cash")
    s.commit()  # pushes leave after commit
    events_sent = [(e, rooms) for e, _d, rooms in hall.live.sent]
    client_id = actor(s, "client1").user_id
    assert ("queue.update", ["branch:BR001", "role:admin"]) in events_sent
    assert ("queue.update", [f"user:{client_id}"]) in events_sent
    client_push = next(d for e, d, r in hall.live.sent if r == [f"user:{client_id}"])
    assert set(client_push) == {"branch_id", "version", "ticket"}


def test_other_branch_teller_and_other_client_see_nothing(s, hall):
    t = issue(s, hall, "client1", "cash")
    with pytest.raises(NotFound):
        queries.queue_view(s, actor(s, "teller9"), B, hall.now())
    with pytest.raises(NotFound):
        call(s, hall, "1", user="teller9")
    with pytest.raises(NotFound):
        queries.get_ticket(s, actor(s, "client2"), B, t["ticket_no"], hall.now())
    view = queries.queue_view(s, actor(s, "client2"), B, hall.now())
    assert "tickets" not in view and view["mine"] == []


def _edge_events(store_dir, clock, n=12, seed=7):
    """The edge's own queue (edge/localqueue/) working while the uplink is down: kiosk
    tickets and calls, captured as the events it would forward later."""
    store = EdgeStore(store_dir / "edge.db")
    local = LocalQueue(store)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        clock.tick(20)
        ticket, _created = local.issue(
            rng.choice(["cash", "account"]), clock(), request_id=f"req{i}", kiosk_id="K1"
        )
        out.append(("queue.ticket_issued", ticket.to_dict(), clock()))
        if i % 3 == 2:
            clock.tick(5)
            called, done = local.call_next("1", clock())
            if done is not None:
                out.append(("queue.ticket_done", done.to_dict(), clock()))
            if called is not None:
                out.append(("queue.ticket_called", called.to_dict(), clock()))
    store.close()
    return out


def test_edge_offline_queue_reconciles_without_duplicates_or_losses(s, hall, clock, tmp_path):
    produced = _edge_events(tmp_path, clock)
    issued = {d["ticket_no"] for t, d, _at in produced if t == "queue.ticket_issued"}
    replay = [
        make_envelope(t, d, i, now=at, historical=True) for i, (t, d, at) in enumerate(produced)
    ]
    # at-least-once delivery: every event twice, the second copies late and out of order
    duplicates = list(replay)
    random.Random(3).shuffle(duplicates)
    clock.tick(600)
    remote = issue(s, hall, "client1", "cash")  # the centre kept issuing meanwhile
    outcomes = [
        events.on_device_event(s, B, "edge", "edge-br001", env, hall=hall)
        for env in [*replay, *duplicates]
    ]
    assert outcomes.count("created") == len(issued)
    kiosk = {t.ticket_no: t for t in s.scalars(select(Ticket).where(Ticket.channel == "kiosk"))}
    assert set(kiosk) == issued
    assert s.scalar(select(func.count(Ticket.id))) == len(issued) + 1
    called = [d["ticket_no"] for t, d, _ in produced if t == "queue.ticket_called"]
    assert kiosk[called[-1]].status == "called" and kiosk[called[-1]].counter_id == "1"
    assert all(kiosk[no].status == "done" for no in called[:-1])
    assert (
        kiosk[called[0]]
        .issued_at.isoformat()
        .startswith(format_ts(produced[0][2])[:16].replace("T", "T"))
    )
    assert remote["ticket_no"] not in kiosk


def test_edge_call_for_an_unknown_ticket_creates_it(s, hall, clock):
    data = {
        "ticket_no": "B042",
        "service": "account",
        "issued_at": format_ts(clock()),
        "counter_id": "1",
        "called_at": format_ts(clock() + timedelta(minutes=2)),
    }
    assert (
        reconcile.apply_edge_event(s, hall, B, "edge-br001", "queue.ticket_called", data, clock())
        == "called"
    )
    ticket = s.scalar(select(Ticket).where(Ticket.ticket_no == "B042"))
    assert ticket.status == "called" and ticket.channel == "kiosk"


def test_the_kiosk_category_reaches_the_centre(s, hall, clock, tmp_path):
    """An elderly client's kiosk ticket, issued at the edge while the uplink is down, is
    elderly at the centre too, whether its issue or only its call arrives; an unknown category
    (an edge of another version) becomes normal."""
    store = EdgeStore(tmp_path / "edge.db")
    local = LocalQueue(store)
    local.set_counter_map(
        CounterMap.from_dict(
            {"version": 1, "counters": [{"counter_id": "1", "skills": ["cash", "account"]}]}
        )
    )
    elderly, _ = local.issue("cash", clock(), request_id="old1", kiosk_id="K1", category="elderly")
    vip, _ = local.issue("account", clock(), request_id="vip1", kiosk_id="K1", category="vip")
    clock.tick(30)
    called, _ = local.call_next("1", clock())
    store.close()
    assert called.ticket_no == vip.ticket_no  # the hall's priority rules at the edge
    replay = [
        make_envelope("queue.ticket_issued", elderly.to_dict(), 1, now=clock(), historical=True),
        # the issue of the VIP ticket was lost: its call creates it
        make_envelope("queue.ticket_called", called.to_dict(), 2, now=clock(), historical=True),
    ]
    outcomes = [events.on_device_event(s, B, "edge", "edge-br001", e, hall=hall) for e in replay]
    assert outcomes == ["created", "called"]
    odd = {**elderly.to_dict(), "ticket_no": "A077", "request_id": "odd", "category": "king"}
    assert (
        reconcile.apply_edge_event(s, hall, B, "edge-br001", "queue.ticket_issued", odd, clock())
        == "created"
    )
    by_no = {t.ticket_no: t for t in s.scalars(select(Ticket).where(Ticket.channel == "kiosk"))}
    assert by_no[elderly.ticket_no].category == "elderly"
    assert by_no[vip.ticket_no].category == "vip" and by_no[vip.ticket_no].status == "called"
    assert by_no["A077"].category == "normal"


def test_edge_tickets_either_side_of_utc_midnight_stay_two_at_the_centre(s, hall, clock, tmp_path):
    """Shanghai is UTC+8: 07:30 and 08:30 local are one local day but two UTC days. The edge
    numbers them A001 and A002 (its local day), so the centre, which names an edge ticket by
    the local day of its issue and its number, keeps both; the centre's calls reach the right
    one back at the edge (queue.sync names it by number and issue time)."""
    from backend.branch import edge_sync
    from edge.localqueue import QueueSync

    store = EdgeStore(tmp_path / "edge.db")
    local = LocalQueue(store)  # no map yet: the default timezone, Asia/Shanghai
    clock.tick(hours=21, minutes=30)  # 07:30 local on 3 March, 23:30 UTC on 2 March
    assert clock().hour == 23
    early, _ = local.issue("cash", clock(), request_id="k-early", kiosk_id="K1")
    early_env = make_envelope("queue.ticket_issued", early.to_dict(), 1, now=clock())
    clock.tick(hours=1)  # 08:30 local, 00:30 UTC on 3 March
    later, _ = local.issue("cash", clock(), request_id="k-later", kiosk_id="K1")
    later_env = make_envelope("queue.ticket_issued", later.to_dict(), 2, now=clock())
    assert (early.ticket_no, later.ticket_no) == ("A001", "A002")
    outcomes = [
        events.on_device_event(s, B, "edge", "edge-br001", env, hall=hall)
        for env in (early_env, later_env, early_env)
    ]
    assert outcomes == ["created", "created", "duplicate"]
    kiosk = list(s.scalars(select(Ticket).where(Ticket.channel == "kiosk").order_by(Ticket.id)))
    assert [(t.ticket_no, t.day, t.request_id) for t in kiosk] == [
        ("A001", "2026-03-03", "kiosk:k-early"),
        ("A002", "2026-03-03", "kiosk:k-later"),
    ]
    # what two A001 of one local day would have done (the edge's old UTC-day numbering)
    clash = {**later.to_dict(), "ticket_no": "A001", "request_id": "k-clash"}
    assert (
        reconcile.apply_edge_event(s, hall, B, "edge-br001", "queue.ticket_issued", clash, clock())
        == "duplicate"
    )

    clock.tick(minutes=5)
    assert call(s, hall, "1")["called"]["ticket_no"] == "A001"  # the longest waiting
    entries = edge_sync.edge_ticket_statuses(s, B, "edge-br001", clock())
    assert [(e["ticket_no"], e["issued_at"]) for e in entries] == [("A001", early.issued_at)]
    assert local.apply_sync(QueueSync.from_dict({"tickets": entries})).applied == ["A001"]
    assert [t.ticket_no for t in local.waiting()] == ["A002"]
    store.close()


def test_the_centre_syncs_the_counter_map_to_the_edge(s, hall, hall_factory):
    """The hall's counters as the hub publishes them to the branch edge (retained
    ``edge.counters``): effective skills and the caller at each window; again only on change."""
    from backend.branch import edge_counters
    from backend.branch.ports import HallPort
    from backend.platform.live import RecordingEmitter
    from backend.roles.hub import DeviceHub
    from edge.protocol import decode_envelope

    cmap = edge_counters.counter_map(s, B)
    assert {c["counter_id"]: (c["skills"], c["caller_id"]) for c in cmap}["1"] == (
        ["cash", "account"],
        "BR001-CALL-01",
    )
    assert edge_counters.counter_map(s, "NOPE") is None
    assert HallPort().counter_map(s, B) == cmap  # what the hall offers the device area

    hub = DeviceHub(hall_factory, RecordingEmitter(), "k" * 32, "mqtt://127.0.0.1:1")
    sent: list[tuple[str, bytes, bool]] = []
    hub.publish = lambda topic, payload, qos=1, retain=False, **_kw: sent.append(
        (topic, payload, retain)
    )
    assert (
        hub.publisher.publish_counter_map(s, B) == 1
        and hub.publisher.publish_counter_map(s, B) == 0
    )
    topic, payload, retain = sent[0]
    assert topic == "fe/v1/BR001/edge/edge-br001/config/counters" and retain
    env = decode_envelope(payload, max_skew_s=None)
    assert env.type == "edge.counters"
    synced = CounterMap.from_dict(env.data)
    assert synced.get("2").skills == ("cash", "loan", "wealth")
    assert synced.of_caller("BR001-CALL-03").counter_id == "3"

    queue.upsert_counter(s, actor(s, "admin"), hall, B, "1", skills=["cash"])
    assert hub.publisher.publish_counter_map(s, B) == 1
    changed = CounterMap.from_dict(decode_envelope(sent[-1][1], max_skew_s=None).data)
    assert changed.get("1").skills == ("cash",) and changed.version != synced.version

    # the hall's timezone travels with the map (the edge numbers by the branch's local day)
    assert synced.timezone == "Asia/Shanghai" == HallPort().timezone(s, B)
    assert edge_counters.hall_timezone(s, "NOPE") == "Asia/Shanghai"  # a new hall's default
    get_hall(s, B).timezone = "Asia/Urumqi"
    s.flush()
    assert hub.publisher.publish_counter_map(s, B) == 1
    moved = CounterMap.from_dict(decode_envelope(sent[-1][1], max_skew_s=None).data)
    assert moved.timezone == "Asia/Urumqi" and moved.version != changed.version
    assert moved.counters == changed.counters


def test_the_centre_tells_the_edge_what_it_did_with_its_kiosk_tickets(
    s, hall, hall_factory, clock, tmp_path, monkeypatch
):
    """Kiosk tickets issued at the edge and reconciled, then called, no-showed and transferred
    by staff at the centre: the hub sends the edge their centre state (``queue.sync``), all of
    it at first and after the edge's birth, otherwise only what changed; the edge's own queue
    applies it and calls none of those clients again. Staff tickets are not the edge's."""
    from backend.branch import edge_sync
    from backend.platform.live import RecordingEmitter
    from backend.platform.mqtt import Message
    from backend.platform.ports import DeviceLink
    from backend.platform.wiring import wiring_of
    from backend.roles import hub_publisher as hub_module
    from backend.roles.hub import DeviceHub, HubSettings
    from edge.localqueue import QueueSync
    from edge.protocol import decode_envelope, encode
    from tests.wiring import RecordingLink

    store = EdgeStore(tmp_path / "edge.db")
    local = LocalQueue(store)
    local.set_counter_map(
        CounterMap.from_dict(
            {
                "version": 1,
                "counters": [
                    {"counter_id": "1", "skills": ["cash", "account"], "caller_id": "C1"},
                    {"counter_id": "2", "skills": ["cash", "loan", "wealth"], "caller_id": "C2"},
                ],
            }
        )
    )
    kiosk = []
    for i in range(3):
        clock.tick(10)
        ticket, _ = local.issue("cash", clock(), request_id=f"k{i}", kiosk_id="K1")
        kiosk.append(ticket)
        env = make_envelope("queue.ticket_issued", ticket.to_dict(), i, now=clock())
        assert events.on_device_event(s, B, "edge", "edge-br001", env, hall=hall) == "created"
    clock.tick(10)
    issue(s, hall, "teller1", "cash")  # a staff ticket: not the edge's
    assert edge_sync.edge_ticket_statuses(s, B, "edge-br001", clock()) == []  # only waiting
    assert edge_sync.edge_ticket_statuses(s, "NOPE", "edge-nope", clock()) is None

    link = RecordingLink()
    wiring_of(s).provide(DeviceLink, link)
    clock.tick(30)
    assert call(s, hall, "1")["called"]["ticket_no"] == "A001"
    assert link.queues == []  # nothing before the commit
    s.commit()  # the hub hears of the committed change at once
    assert link.queues == [B]
    clock.tick(30)
    queue.no_show(s, actor(s, "teller1"), hall, B, "1")
    clock.tick(10)
    assert call(s, hall, "2")["called"]["ticket_no"] == "A002"
    clock.tick(10)
    queue.transfer(s, actor(s, "teller1"), hall, B, "2", "loan")

    hub = DeviceHub(
        hall_factory,
        RecordingEmitter(),
        "k" * 32,
        "mqtt://127.0.0.1:1",
        HubSettings(leases=False),  # not started: it takes every branch without leases
        clock=clock,
    )
    sent: list[tuple[str, dict, bool]] = []

    def publish(topic, payload, qos=1, retain=False, **_kw):
        env = decode_envelope(payload, max_skew_s=None)
        assert env.type == "queue.sync"
        sent.append((topic, env.data, retain))

    hub.publish = publish
    assert hub.publisher.publish_queue_sync(s, B) == 1  # the first time: everything
    topic, data, retain = sent[-1]
    assert topic == "fe/v1/BR001/edge/edge-br001/queue/sync" and not retain and data["full"]
    states = {t["ticket_no"]: (t["status"], t["service"], t["counter_id"]) for t in data["tickets"]}
    assert states == {"A001": ("no_show", "cash", "1"), "A002": ("waiting", "loan", "2")}
    assert hub.publisher.publish_queue_sync(s, B) == 0  # nothing changed since

    clock.tick(10)
    assert call(s, hall, "2")["called"]["ticket_no"] == "A002"  # in loans, boosted
    assert hub.publisher.publish_queue_sync(s, B) == 1
    assert not sent[-1][1]["full"]
    assert [(t["ticket_no"], t["status"]) for t in sent[-1][1]["tickets"]] == [("A002", "called")]

    # the edge is (re)born: the whole picture again, in pages
    monkeypatch.setattr(hub_module, "QUEUE_SYNC_PAGE", 1)
    birth = make_envelope("edge.birth", {"online": True, "session": "x"}, 1, now=clock())
    hub._on_uplink(Message("fe/v1/BR001/edge/edge-br001/state", encode(birth), 1, True))
    assert hub.publisher.publish_queue_sync(s, B) == 2
    pages = [d for _t, d, _r in sent[-2:]]
    assert [(d["full"], d["part"], d["parts"]) for d in pages] == [(True, 1, 2), (True, 2, 2)]

    # the edge applies whatever it got, in any order and repeatedly: A003 alone still waits
    for _topic, message, _retain in [*reversed(sent), *sent]:
        local.apply_sync(QueueSync.from_dict(message))
    assert [t.ticket_no for t in local.waiting()] == ["A003"]
    assert local.ticket("A001").status == "no_show"
    assert (local.ticket("A002").status, local.ticket("A002").counter_id) == ("called", "2")
    clock.tick(10)
    assert local.call_next("1", clock())[0].ticket_no == "A003"
    assert local.call_next("1", clock())[0] is None
    assert store.pending == 0
    store.close()


# --------------------------------------------------------------------------- the window's caller

CALLER = "BR001-CALL-01"  # linked to counter 1 (cash, account)


def press(s, hall, clock, request_id, device=CALLER, historical=None, counter_id="1"):
    env = make_envelope(
        "caller.call_next",
        {"request_id": request_id, "counter_id": counter_id},
        1,
        now=clock(),
        historical=historical,
    )
    return events.on_device_event(s, B, "caller", device, env, hall=hall)


def kiosk_ticket(s, hall, clock, ticket_no, service="cash"):
    data = {
        "ticket_no": ticket_no,
        "service": service,
        "category": "normal",
        "issued_at": format_ts(clock()),
        "request_id": f"req-{ticket_no}",
        "kiosk_id": "BR001-KSK-01",
    }
    env = make_envelope("queue.ticket_issued", data, 1, now=clock())
    assert events.on_device_event(s, B, "edge", "edge-br001", env, hall=hall) == "created"


def test_a_callers_press_calls_from_the_whole_queue_at_the_centre(s, hall, clock):
    """A live ``caller.call_next`` from the caller linked to counter 1 runs the centre's
    call-next: the mini-program client who checked in is called before a kiosk ticket taken
    later, then the kiosk ticket; the caller's answer names the press, the displays show the
    call, and it is audited as the device."""
    remote = issue(s, hall, "client1", "cash")
    clock.tick(60)
    kiosk_ticket(s, hall, clock, "A001")
    clock.tick(30)
    assert press(s, hall, clock, "r-0") == "called"  # the remote one is not here yet: A001
    queue.check_in(s, actor(s, "client1"), hall, B, remote["ticket_no"], presence_code=here(hall))
    clock.tick(10)
    kiosk_ticket(s, hall, clock, "A002")
    clock.tick(10)
    assert press(s, hall, clock, "r-1") == "called"
    s.commit()
    counter = s.scalar(select(HallCounter).where(HallCounter.counter_id == "1"))
    current = s.get(Ticket, counter.current_ticket_id)
    assert current.ticket_no == remote["ticket_no"]
    assert s.scalar(select(Ticket.status).where(Ticket.ticket_no == "A001")) == "done"
    answers = hall.send_command.named("caller.show_call")
    assert [(d, a) for d, a in answers] == [
        (CALLER, {"ticket_no": "A001", "counter_id": "1", "request_id": "r-0"}),
        (CALLER, {"ticket_no": remote["ticket_no"], "counter_id": "1", "request_id": "r-1"}),
    ]
    shown = [a["ticket_no"] for _d, a in hall.send_command.named("display.show")]
    assert shown == ["A001", remote["ticket_no"]]
    assert press(s, hall, clock, "r-2") == "called"
    assert press(s, hall, clock, "r-3") == "empty"  # nobody left: the caller hears so
    s.commit()
    assert hall.send_command.named("caller.show_call")[-1][1] == {
        "ticket_no": None,
        "counter_id": "1",
        "request_id": "r-3",
    }
    record = s.scalar(
        select(AuditRecord)
        .where(AuditRecord.action == "branch.call_next")
        .order_by(AuditRecord.id.desc())
    )
    assert record.actor_username == f"device:{CALLER}" and record.actor_user_id is None
    assert record.after["request_id"] == "r-3"


def test_a_press_delivered_twice_calls_once(s, hall, clock):
    kiosk_ticket(s, hall, clock, "A001")
    kiosk_ticket(s, hall, clock, "A002")
    clock.tick(30)
    assert press(s, hall, clock, "dup-1") == "called"
    assert press(s, hall, clock, "dup-1") == "duplicate"
    s.commit()
    statuses = dict(s.execute(select(Ticket.ticket_no, Ticket.status)).all())
    assert statuses == {"A001": "called", "A002": "waiting"}
    assert len(hall.send_command.named("caller.show_call")) == 1
    # the same request id from another caller is another press
    assert press(s, hall, clock, "dup-1", device="BR001-CALL-02", counter_id="2") == "called"


def test_a_historical_press_is_ignored_at_the_centre(s, hall, clock):
    """Replayed after an outage: the edge served it from its local queue already."""
    kiosk_ticket(s, hall, clock, "A001")
    clock.tick(30)
    assert press(s, hall, clock, "old-1", historical=True) == "historical"
    done = make_envelope(
        "caller.serving_done", {"ticket_no": "A001", "counter_id": "1"}, 2, historical=True
    )
    assert events.on_device_event(s, B, "caller", CALLER, done, hall=hall) == "historical"
    s.commit()
    assert s.scalar(select(Ticket.status).where(Ticket.ticket_no == "A001")) == "waiting"
    assert hall.send_command.named("caller.show_call") == []
    assert press(s, hall, clock, "old-1") == "called"  # its request id was not used up


def test_a_caller_not_linked_to_a_counter_calls_nobody(s, hall, clock, caplog):
    kiosk_ticket(s, hall, clock, "A001")
    with caplog.at_level("WARNING", logger="backend.branch.queue.service.caller"):
        assert press(s, hall, clock, "x-1", device="BR001-CALL-77") == "unlinked"
    assert "not linked to a counter" in caplog.text
    s.commit()
    assert s.scalar(select(Ticket.status).where(Ticket.ticket_no == "A001")) == "waiting"
    assert hall.send_command.named("caller.show_call") == []


def test_serving_done_from_the_caller_finishes_the_named_client_only(s, hall, clock):
    kiosk_ticket(s, hall, clock, "A001")
    clock.tick(30)
    assert press(s, hall, clock, "d-1") == "called"

    def done(ticket_no):
        env = make_envelope("caller.serving_done", {"ticket_no": ticket_no, "counter_id": "1"}, 2)
        return events.on_device_event(s, B, "caller", CALLER, env, hall=hall)

    assert done("A999") == "stale"
    assert done("A001") == "done"
    assert done("A001") == "stale"  # repeated
    assert s.scalar(select(Ticket.status).where(Ticket.ticket_no == "A001")) == "done"
