"""The branch edge's offline queue (edge/localqueue/) with the hall's rules: counters' skills
from the centre's counter map, priority with aging by category, the starvation bound, positions
per service, the first-come-first-served fallback without a map, an edge database from
before categories upgraded in place, the centre's ``queue.sync`` applied by time, and ticket
numbers by the branch's local day (the hall's timezone from the counter map)."""

from __future__ import annotations

import logging
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge import queue_rules
from edge.localqueue import CounterMap, LocalQueue, QueueSync, check_category
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
    from devices.fleet import make_device
    from devices.identity import DeviceIdentity
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


# --------------------------------------------------------------------------- the centre's sync


def centre(ticket, status: str, seconds: float, counter: str | None = None, service=None):
    """An entry of ``queue.sync``: ``ticket`` as the centre has it after a change at ``seconds``."""
    return {
        "ticket_no": ticket.ticket_no,
        "issued_at": ticket.issued_at,
        "status": status,
        "service": service or ticket.service,
        "counter_id": counter,
        "at": format_ts(at(seconds)),
    }


def sync(*entries, full: bool = False) -> QueueSync:
    return QueueSync.from_dict({"at": format_ts(at(0)), "full": full, "tickets": list(entries)})


def test_a_ticket_called_at_the_centre_is_never_called_again_and_no_longer_counted(hall, store):
    a1, _ = hall.issue("cash", at(0), request_id="r1")
    a2, _ = hall.issue("cash", at(10), request_id="r2")
    result = hall.apply_sync(sync(centre(a1, "called", 60, counter="9")))
    assert result.applied == ["A001"] and result.unknown == [] and result.unchanged == 0
    assert [t.ticket_no for t in hall.waiting()] == ["A002"]
    synced = hall.ticket("A001")
    assert (synced.status, synced.counter_id, synced.called_at) == (
        "called",
        "9",
        format_ts(at(60)),
    )
    a3, _ = hall.issue("cash", at(70), request_id="r3")
    assert a3.position == 2  # only A002 is ahead: A001 is at the centre's counter 9
    assert hall.call_next("1", at(80))[0].ticket_no == a2.ticket_no
    assert hall.call_next("1", at(90))[0].ticket_no == a3.ticket_no
    called, done = hall.call_next("1", at(100))
    assert called is None and done.ticket_no == a3.ticket_no  # A001 is never called again
    assert hall.ticket("A001").status == "called"
    assert store.pending == 0  # applying wrote nothing for the centre: no echo


def test_applying_is_idempotent_and_the_order_of_messages_does_not_matter(hall):
    a1, _ = hall.issue("cash", at(0), request_id="r1")
    b1, _ = hall.issue("account", at(5), request_id="r2")
    entries = [
        centre(a1, "called", 60, "9"),
        centre(a1, "done", 120, "9"),
        centre(b1, "called", 70, "8"),
        centre(b1, "no_show", 130, "8"),
    ]
    # newest first, then everything again in the other order, twice, as full pages
    first = hall.apply_sync(sync(entries[1], entries[3]))
    assert sorted(first.applied) == ["A001", "B001"]
    for _ in range(2):
        again = hall.apply_sync(sync(*entries, full=True))
        assert again.applied == [] and again.unchanged == 4
    states = {no: hall.ticket(no) for no in ("A001", "B001")}
    assert {no: (t.status, t.counter_id) for no, t in states.items()} == {
        "A001": ("done", "9"),
        "B001": ("no_show", "8"),
    }
    assert hall.waiting() == [] and hall.call_next("2", at(200))[0] is None


def test_the_newer_change_wins_and_a_finished_ticket_is_never_reopened(hall):
    a1, _ = hall.issue("cash", at(0), request_id="r1")
    a2, _ = hall.issue("cash", at(5), request_id="r2")
    # the edge calls A001 at window 1 at 100 (its uplink is down)
    assert hall.call_next("1", at(100))[0].ticket_no == a1.ticket_no
    # the centre's call at its counter 2 at 50, heard only now, is older: the edge's call wins
    late = hall.apply_sync(sync(centre(a1, "called", 50, "2")))
    assert late.applied == [] and late.unchanged == 1
    assert (hall.ticket("A001").status, hall.ticket("A001").counter_id) == ("called", "1")
    # the centre's no-show at 150 is newer: applied; window 1 then has nobody to finish
    assert hall.apply_sync(sync(centre(a1, "no_show", 150, "1"))).applied == ["A001"]
    called, done = hall.call_next("1", at(160))
    assert called.ticket_no == a2.ticket_no and done is None
    # finished is final: a later "waiting" or "called" for it changes nothing
    for status in ("waiting", "called"):
        assert hall.apply_sync(sync(centre(a1, status, 300, "2"))).applied == []
    assert hall.ticket("A001").status == "no_show"
    # the edge finishes A002 at 170; the centre's view of it from before is stale
    hall.call_next("1", at(170))
    assert hall.apply_sync(sync(centre(a2, "called", 165, "1"))).applied == []
    assert hall.ticket("A002").status == "done"


def test_a_client_transferred_at_the_centre_waits_again_in_the_new_service(hall):
    a1, _ = hall.issue("cash", at(0), request_id="r1")
    hall.apply_sync(sync(centre(a1, "called", 60, "1")))
    # transferred to accounts at 120: waiting again, in a service window 1 does not serve
    moved = hall.apply_sync(sync(centre(a1, "waiting", 120, None, "account")))
    assert moved.applied == ["A001"]
    (waiting,) = hall.waiting()
    assert (waiting.ticket_no, waiting.service, waiting.status) == ("A001", "account", "waiting")
    assert hall.call_next("1", at(130))[0] is None  # cash only
    assert hall.call_next("2", at(140))[0].ticket_no == "A001"  # loans and accounts
    # the transfer heard again after the edge's own call changes nothing
    assert hall.apply_sync(sync(centre(a1, "waiting", 120, None, "account"))).applied == []
    assert hall.ticket("A001").status == "called"


def test_unknown_tickets_are_ignored_and_recorded_and_unusable_entries_refused(hall, store):
    a1, _ = hall.issue("cash", at(0), request_id="r1")
    yesterday = {**centre(a1, "done", 60, "1"), "issued_at": format_ts(at(-86_400))}
    stranger = {**centre(a1, "called", 60, "1"), "ticket_no": "B042"}
    bad = [
        {**centre(a1, "teleported", 60)},
        {**centre(a1, "done", 60), "issued_at": "yesterday"},
        {**centre(a1, "done", 60), "service": "mortgage"},
        "A001",
    ]
    message = sync(yesterday, stranger, centre(a1, "called", 30, "1"), *bad)
    assert message.refused == 4
    result = hall.apply_sync(message)
    assert result.unknown == ["A001", "B042"] and result.refused == 4
    assert result.applied == ["A001"]  # today's A001 is another ticket than yesterday's
    assert hall.ticket("A001").status == "called"
    recorded = hall.sync_unknown()
    assert recorded == [
        {"ticket_no": "A001", "issued_at": format_ts(at(-86_400))},
        {"ticket_no": "B042", "issued_at": format_ts(at(0))},
    ]
    again = hall.apply_sync(message)
    assert again.applied == [] and again.unchanged == 1
    assert hall.sync_unknown() == recorded  # recorded once
    assert store.pending == 0
    with pytest.raises(ValueError):
        QueueSync.from_dict({"tickets": "A001"})
    with pytest.raises(ValueError):
        QueueSync.from_dict({"tickets": [], "full": "yes"})


def test_an_edge_database_from_before_the_sync_takes_it_by_its_own_times(tmp_path):
    path = tmp_path / "edge.db"
    old = sqlite3.connect(path)
    old.executescript(OLD_TICKETS)
    old.execute(
        "INSERT INTO tickets (ticket_no, service, request_id, status, counter_id, issued_at,"
        " called_at, day) VALUES ('A001', 'cash', 'r1', 'called', '1', ?, ?, ?)",
        (format_ts(at(0)), format_ts(at(100)), at(0).date().isoformat()),
    )
    old.commit()
    old.close()
    store = EdgeStore(path)
    queue = LocalQueue(store)
    ticket = queue.ticket("A001")
    assert queue.apply_sync(sync(centre(ticket, "done", 90, "1"))).applied == []  # older
    assert queue.apply_sync(sync(centre(ticket, "done", 110, "1"))).applied == ["A001"]
    assert queue.ticket("A001").status == "done"
    store.close()


# --------------------------------------------------------------------------- the local day

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(day: int, hour: int, minute: int) -> datetime:
    """A wall-clock time of March 2025 in Shanghai (UTC+8), as the edge's UTC clock gives it."""
    return datetime(2025, 3, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def days(store: EdgeStore) -> list[tuple[str, str]]:
    return store._db.execute("SELECT ticket_no, day FROM tickets ORDER BY id").fetchall()


def test_numbers_follow_the_branchs_local_day_not_the_utc_one(store):
    """Asia/Shanghai (the default): 07:30 and 08:30 local are one local day across UTC
    midnight, so A001 then A002 (the centre names both by that day); 23:59 and 00:01 local are
    one UTC day but two local ones, so the count restarts at local midnight."""
    queue = LocalQueue(store)
    assert (queue.timezone, queue.timezone_synced) == ("Asia/Shanghai", False)
    early, _ = queue.issue("cash", shanghai(2, 7, 30), request_id="r1")  # 23:30 UTC, 1 March
    later, _ = queue.issue("cash", shanghai(2, 8, 30), request_id="r2")  # 00:30 UTC, 2 March
    assert shanghai(2, 7, 30).date() != shanghai(2, 8, 30).date()
    assert (early.ticket_no, later.ticket_no) == ("A001", "A002")
    late, _ = queue.issue("cash", shanghai(2, 23, 59), request_id="r3")  # 15:59 UTC, 2 March
    next_day, _ = queue.issue("cash", shanghai(3, 0, 1), request_id="r4")  # 16:01 UTC, 2 March
    assert shanghai(2, 23, 59).date() == shanghai(3, 0, 1).date()
    assert (late.ticket_no, next_day.ticket_no) == ("A003", "A001")
    assert queue.issue("account", shanghai(3, 0, 2), request_id="r5")[0].ticket_no == "B001"
    assert days(store) == [
        ("A001", "2025-03-02"),
        ("A002", "2025-03-02"),
        ("A003", "2025-03-02"),
        ("A001", "2025-03-03"),
        ("B001", "2025-03-03"),
    ]
    assert queue.local_day(shanghai(3, 0, 1)) == "2025-03-03"


def test_the_halls_timezone_from_the_counter_map_is_kept_and_used(tmp_path, caplog):
    """Until the centre sends the hall's timezone the configured default numbers the tickets;
    the one the counter map brings is used at once and survives a restart (offline); a map
    without one keeps it, and one this edge cannot use is logged while the map still applies."""
    path = tmp_path / "edge.db"
    store = EdgeStore(path)
    queue = LocalQueue(store, timezone="UTC")
    assert (queue.timezone, queue.timezone_synced) == ("UTC", False)
    # 23:30 and 00:30 UTC: two UTC days, so two first tickets
    assert queue.issue("cash", shanghai(2, 7, 30), request_id="u1")[0].ticket_no == "A001"
    assert queue.issue("cash", shanghai(2, 8, 30), request_id="u2")[0].ticket_no == "A001"

    hall_map = CounterMap.from_dict(
        {
            "version": 5,
            "counters": [{"counter_id": "1", "skills": ["cash"], "caller_id": "CALL-01"}],
            "timezone": "America/New_York",
        }
    )
    assert hall_map.timezone == "America/New_York"
    assert CounterMap.from_dict(hall_map.to_dict()) == hall_map
    assert queue.set_counter_map(hall_map) and not queue.set_counter_map(hall_map)
    assert (queue.timezone, queue.timezone_synced) == ("America/New_York", True)
    # 22:00 and 23:30 New York on 1 March (03:00 and 04:30 UTC on 2 March), then 00:30 on 2 March
    new_york = ZoneInfo("America/New_York")
    first = datetime(2025, 3, 1, 22, 0, tzinfo=new_york).astimezone(UTC)
    assert queue.issue("loan", first, request_id="n1")[0].ticket_no == "C001"
    assert queue.issue("loan", first + timedelta(minutes=90), request_id="n2")[0].ticket_no == (
        "C002"
    )
    assert queue.issue("loan", first + timedelta(minutes=150), request_id="n3")[0].ticket_no == (
        "C001"
    )
    store.close()

    store = EdgeStore(path)  # restarted while offline, with another default
    again = LocalQueue(store, timezone="Asia/Shanghai")
    assert (again.timezone, again.timezone_synced) == ("America/New_York", True)
    assert again.local_day(first) == "2025-03-01"
    older = CounterMap.from_dict({"version": 6, "counters": [{"counter_id": "1", "skills": []}]})
    assert older.timezone is None and "timezone" not in older.to_dict()
    assert again.set_counter_map(older) and again.timezone == "America/New_York"
    odd = CounterMap.from_dict({**older.to_dict(), "version": 7, "timezone": "Mars/Olympus"})
    with caplog.at_level(logging.WARNING, logger="edge.localqueue"):
        assert again.set_counter_map(odd)
    assert again.counter_map.version == 7 and again.timezone == "America/New_York"
    assert any("Mars/Olympus" in r.getMessage() for r in caplog.records)
    store.close()

    for bad in (
        {"version": 1, "counters": [], "timezone": 8},
        {"version": 1, "counters": [], "timezone": ""},
    ):
        with pytest.raises(ValueError):
            CounterMap.from_dict(bad)
    other = EdgeStore(tmp_path / "other.db")
    with pytest.raises(ValueError):
        LocalQueue(other, timezone="Nope/Nowhere")
    other.close()


def test_an_older_edge_database_keeps_the_days_it_has(tmp_path):
    """Rows written before the local day keep their (UTC) ``day``; new ones get the local day.
    An upgrade in business hours continues the day's numbers (the UTC and the local day's key
    are the same then)."""
    path = tmp_path / "edge.db"
    old = sqlite3.connect(path)
    old.executescript(OLD_TICKETS)
    old.execute(
        "INSERT INTO tickets (ticket_no, service, request_id, status, issued_at, day)"
        " VALUES ('A001', 'cash', 'r1', 'waiting', ?, '2025-03-02')",
        (format_ts(shanghai(2, 9, 0)),),
    )
    old.execute("INSERT INTO kv VALUES ('queue:2025-03-02:cash', '1')")
    old.commit()
    old.close()
    store = EdgeStore(path)
    queue = LocalQueue(store)
    assert queue.issue("cash", shanghai(2, 9, 30), request_id="r2")[0].ticket_no == "A002"
    assert queue.issue("cash", shanghai(3, 7, 0), request_id="r3")[0].ticket_no == "A001"
    assert days(store) == [("A001", "2025-03-02"), ("A002", "2025-03-02"), ("A001", "2025-03-03")]
    store.close()
