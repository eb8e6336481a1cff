"""The branch edge's offline queue (edge/localqueue.py) with the hall's rules: counters' skills
from the centre's counter map, priority with aging by category, the starvation bound, positions
per service, the first-come-first-served fallback without a map, and an edge database from
before categories upgraded in place."""

from __future__ import annotations

import logging
import random
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from edge import queue_rules
from edge.localqueue import CounterMap, LocalQueue, check_category
from edge.protocol import format_ts, parse_ts
from edge.store import EdgeStore

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def counter_map(*counters: tuple[str, list[str], str | None], version: int = 1) -> CounterMap:
    return CounterMap.from_dict(
        {
            "version": version,
            "counters": [
                {"counter_id": c, "skills": skills, "caller_id": caller}
                for c, skills, caller in counters
            ],
        }
    )


@pytest.fixture
def store(tmp_path):
    store = EdgeStore(tmp_path / "edge.db")
    yield store
    store.close()


@pytest.fixture
def hall(store):
    """Window 1 serves cash only, window 2 loans and accounts (the case FCFS got wrong)."""
    queue = LocalQueue(store, service_s=100)
    queue.set_counter_map(counter_map(("1", ["cash"], "CALL-01"), ("2", ["loan", "account"], None)))
    return queue


def test_a_window_calls_only_the_services_it_serves(hall):
    loan, _ = hall.issue("loan", at(0), request_id="r1")
    cash, _ = hall.issue("cash", at(10), request_id="r2")
    called, done = hall.call_next("1", at(20))
    assert called.ticket_no == cash.ticket_no and called.counter_id == "1" and done is None
    called, done = hall.call_next("1", at(30))  # only a loan waits: not for a cash window
    assert called is None and done.ticket_no == cash.ticket_no
    called, _ = hall.call_next("2", at(40))
    assert called.ticket_no == loan.ticket_no == "C001"
    assert hall.waiting() == []


def test_vip_then_elderly_then_normal_and_waiting_time_counts(hall):
    normal, _ = hall.issue("cash", at(0), request_id="n")
    elderly, _ = hall.issue("cash", at(10), request_id="e", category="elderly")
    vip, _ = hall.issue("cash", at(20), request_id="v", category="vip")
    assert (vip.category, elderly.category, normal.category) == ("vip", "elderly", "normal")
    order = [hall.call_next("1", at(30 + i))[0].ticket_no for i in range(3)]
    assert order == [vip.ticket_no, elderly.ticket_no, normal.ticket_no]
    # a normal client who waited longer than the VIP bonus goes before a VIP just arrived
    bonus = queue_rules.CATEGORY_BONUS_S["vip"]
    early, _ = hall.issue("cash", at(100), request_id="early")
    late_vip, _ = hall.issue("cash", at(100 + bonus + 1), request_id="late", category="vip")
    assert hall.call_next("1", at(100 + bonus + 2))[0].ticket_no == early.ticket_no
    assert hall.call_next("1", at(100 + bonus + 3))[0].ticket_no == late_vip.ticket_no


def test_nobody_starves_a_vip_every_minute_to_one_window(hall):
    """One window, a VIP every 60 s, 90 s per client: the VIP queue only grows, yet the normal
    client is called before anybody issued more than MAX_LEAD_S after them."""
    normal, _ = hall.issue("cash", at(0), request_id="normal")
    issued: dict[str, datetime] = {normal.ticket_no: at(0)}
    called_before: list[str] = []
    called_at = None
    for step in range(1, 6 * 120):  # 30 s steps, up to 6 hours
        now = at(30 * step)
        if step % 2 == 0:
            vip, _ = hall.issue("cash", now, request_id=f"vip{step}", category="vip")
            issued[vip.ticket_no] = now
        if step % 3 == 0:
            called, _ = hall.call_next("1", now)
            if called is not None and called.ticket_no == normal.ticket_no:
                called_at = now
                break
            if called is not None:
                called_before.append(called.ticket_no)
    assert called_at is not None, "the normal client was never called"
    assert called_before, "VIPs should have gone first for a while"
    latest = max(issued[no] for no in called_before)
    assert latest - at(0) < timedelta(seconds=queue_rules.MAX_LEAD_S)
    # at the edge there are no transfer boosts: the VIP bonus alone is the lead
    assert latest - at(0) < timedelta(seconds=queue_rules.CATEGORY_BONUS_S["vip"])
    assert len(hall.waiting()) > 0  # VIPs issued later still wait: they were not overtaking


def test_a_repeated_kiosk_request_gets_its_first_ticket(hall):
    first, created = hall.issue("cash", at(0), request_id="same", kiosk_id="K1", category="vip")
    again, created_again = hall.issue("loan", at(5), request_id="same", category="elderly")
    assert created and not created_again
    assert (again.ticket_no, again.service, again.category) == ("A001", "cash", "vip")
    assert again.issued_at == first.issued_at and again.position == 1
    assert [t.ticket_no for t in hall.waiting()] == ["A001"]
    assert hall.issue("cash", at(6), request_id="other")[0].ticket_no == "A002"


def test_position_and_wait_are_per_service_in_call_order(hall):
    a1, _ = hall.issue("cash", at(0), request_id="a1")
    c1, _ = hall.issue("loan", at(1), request_id="c1")
    a2, _ = hall.issue("cash", at(2), request_id="a2")
    assert (a1.position, a1.estimated_wait_s) == (1, 0)
    assert (c1.position, c1.estimated_wait_s) == (1, 0)  # the cash ticket ahead is not in its way
    assert (a2.position, a2.estimated_wait_s) == (2, 100)  # one cash ahead, 100 s, one window
    elderly, _ = hall.issue("cash", at(3), request_id="old", category="elderly")
    assert elderly.position == 1  # by score: ahead of both normal cash tickets
    # asked again (the kiosk repeating itself), a normal ticket has moved down
    assert hall.issue("cash", at(4), request_id="a2")[0].position == 3


def test_an_unknown_counter_serves_every_service_by_priority(hall, caplog):
    hall.issue("loan", at(0), request_id="c")
    vip, _ = hall.issue("wealth", at(1), request_id="d", category="vip")
    with caplog.at_level(logging.WARNING, logger="edge.localqueue"):
        assert hall.call_next("5", at(2))[0].ticket_no == vip.ticket_no
        assert hall.call_next("5", at(3))[0].ticket_no == "C001"
    assert sum("not in the centre's counter map" in r.message for r in caplog.records) == 1


def test_callers_are_resolved_by_the_counter_id_they_send_or_their_device(hall):
    assert hall.counter_for("CALL-01", "2") == "2"  # a counter the map knows
    assert hall.counter_for("CALL-01", "7") == "1"  # unknown id: the window the device is at
    assert hall.counter_for("CALL-01", None) == "1"
    assert hall.counter_for("CALL-09", "7") == "7"  # neither: as sent
    assert hall.counter_for("CALL-09", None) == "CALL-09"


def test_without_a_map_calls_are_first_come_first_served_logged_once(store, caplog):
    queue = LocalQueue(store)
    assert queue.counter_map is None
    loan, _ = queue.issue("loan", at(0), request_id="1")
    vip, _ = queue.issue("cash", at(10), request_id="2", category="vip")
    assert vip.position == 1 and loan.position == 1
    with caplog.at_level(logging.WARNING, logger="edge.localqueue"):
        assert queue.call_next("1", at(20))[0].ticket_no == loan.ticket_no
        assert queue.call_next("1", at(30))[0].ticket_no == vip.ticket_no
        assert queue.call_next("1", at(40))[0] is None
    assert sum("no counter map" in r.message for r in caplog.records) == 1


def test_the_counter_map_survives_a_restart_and_bad_maps_are_refused(tmp_path):
    store = EdgeStore(tmp_path / "edge.db")
    queue = LocalQueue(store)
    cmap = counter_map(("1", ["cash", "teleport"], "CALL-01"), version=42)
    assert cmap.get("1").skills == ("cash",)  # an unknown service code is skipped
    assert queue.set_counter_map(cmap) and not queue.set_counter_map(cmap)
    store.close()
    store = EdgeStore(tmp_path / "edge.db")
    again = LocalQueue(store)
    assert again.counter_map == cmap and again.skills_for("1") == ("cash",)
    store.close()
    for bad in (
        {"counters": []},
        {"version": 1, "counters": {}},
        {"version": 1, "counters": [{"counter_id": "1"}]},
        {"version": 1, "counters": [{"counter_id": "1", "skills": "cash"}]},
        {"version": 1, "counters": [{"counter_id": "1", "skills": [], "caller_id": 5}]},
    ):
        with pytest.raises(ValueError):
            CounterMap.from_dict(bad)


def test_categories_are_checked():
    assert check_category(None) == "normal"
    assert [check_category(c) for c in queue_rules.CATEGORIES] == list(queue_rules.CATEGORIES)
    for bad in ("king", "VIP", "", 1, ["vip"]):
        with pytest.raises(ValueError):
            check_category(bad)


def test_issue_refuses_unknown_services_and_categories(hall):
    with pytest.raises(ValueError):
        hall.issue("mortgage", at(0))
    with pytest.raises(ValueError):
        hall.issue("cash", at(0), category="king")
    assert hall.waiting() == []


def test_called_and_issued_events_carry_the_category(hall):
    ticket, _ = hall.issue("cash", at(0), request_id="r", kiosk_id="K1", category="elderly")
    assert ticket.to_dict()["category"] == "elderly"
    called, _ = hall.call_next("1", at(60))
    data = called.to_dict()
    assert (data["category"], data["status"], data["counter_id"]) == ("elderly", "called", "1")
    assert parse_ts(data["called_at"]) == at(60) and data["issued_at"] == format_ts(at(0))


OLD_TICKETS = """
CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_no TEXT NOT NULL,
    service TEXT NOT NULL,
    request_id TEXT UNIQUE,
    kiosk_id TEXT,
    status TEXT NOT NULL,
    counter_id TEXT,
    issued_at TEXT NOT NULL,
    called_at TEXT,
    day TEXT NOT NULL
);
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def test_an_edge_database_from_before_categories_is_upgraded_in_place(tmp_path):
    path = tmp_path / "edge.db"
    old = sqlite3.connect(path)
    old.executescript(OLD_TICKETS)
    old.execute(
        "INSERT INTO tickets (ticket_no, service, request_id, kiosk_id, status, issued_at, day)"
        " VALUES ('A001', 'cash', 'old-req', 'K1', 'waiting', ?, ?)",
        (format_ts(at(0)), at(0).date().isoformat()),
    )
    old.execute("INSERT INTO kv VALUES ('queue:2025-03-01:cash', '1')")
    old.commit()
    old.close()

    store = EdgeStore(path)
    queue = LocalQueue(store)
    (kept,) = queue.waiting()
    assert (kept.ticket_no, kept.category, kept.request_id) == ("A001", "normal", "old-req")
    newer, created = queue.issue("cash", at(30), request_id="new", category="elderly")
    assert created and (newer.ticket_no, newer.category) == ("A002", "elderly")
    assert queue.issue("cash", at(40), request_id="old-req")[0].ticket_no == "A001"
    store.close()

    store = EdgeStore(path)  # opening again changes nothing
    columns = [row[1] for row in store._db.execute("PRAGMA table_info(tickets)")]
    assert columns.count("category") == 1
    assert [t.category for t in LocalQueue(store).waiting()] == ["normal", "elderly"]
    store.close()


def test_the_simulated_kiosk_sends_a_category_now_and_then():
    from devices.base import DeviceIdentity
    from devices.fleet import make_device
    from edge.credentials import new_hmac_secret
    from edge.protocol import decode_envelope

    identity = DeviceIdentity("BR1", "kiosk", "K1", "K1", "pw", new_hmac_secret())
    kiosk = make_device(identity, "mqtt://127.0.0.1:1", rng=random.Random(5))
    assert kiosk.config["elderly_share"] == 0.1
    kiosk.request_ticket("loan", "vip")
    kiosk.request_ticket("cash")
    with pytest.raises(ValueError):
        kiosk.request_ticket("cash", "king")
    kiosk.config.update(arrivals_per_min=60.0, elderly_share=0.5)
    for step in range(400):
        kiosk.simulate(float(step), 1.0)
    requests = [
        env.data
        for env in (decode_envelope(i.payload(60), max_skew_s=None) for i in kiosk._pending)
        if env.type == "kiosk.ticket_requested"
    ]
    assert requests[0]["category"] == "vip" and "category" not in requests[1]
    auto = [r.get("category", "normal") for r in requests[2:]]
    assert len(auto) > 100 and set(auto) == {"normal", "elderly"}
    assert 0.3 < auto.count("elderly") / len(auto) < 0.7
