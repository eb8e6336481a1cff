"""Discovery for clients (``GET /api/v1/branches``): any signed-in user, a client included,
reads every branch a cursor page at a time, with its opening hours and whether it is open now,
the services offered and per service the live queue (waiting, booked, counters open), the
same figures as the branch's own queue summary; nobody unsigned does."""

from __future__ import annotations

from datetime import timedelta

from backend.branch.seed import DEMO_HOURS
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import check_in

api = support.api  # fixture
branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_app = support.hall_app  # fixture
hall_url = support.hall_url  # fixture

B = "BR001"


def _listed(api, user: str = "client1") -> dict:
    page = api.ok(api.get(user, "/branches"))
    assert set(page) == {"items", "next_cursor"}
    return {b["code"]: b for b in page["items"]}


def _queue(branch: dict) -> dict:
    return {q["service"]: q for q in branch["queue"]}


def _summary(api) -> dict:
    """The branch's own queue summary as a client sees it (GET /branches/{b}/queue)."""
    services = api.ok(api.get("client1", f"/branches/{B}/queue"))["services"]
    return {s["service"]: (s["waiting"], s["booked"], s["counters_open"]) for s in services}


def test_a_client_finds_branches_with_hours_services_and_live_queues(api, hall, clock):
    branches = _listed(api)
    assert {"BR001", "BR002"} <= set(branches)
    br1 = branches[B]
    assert br1["opening_hours"] == DEMO_HOURS and br1["timezone"] == "Asia/Shanghai"
    assert br1["open_now"] is True  # the test clock: Monday 10:00 in Shanghai
    assert br1["services"] == sorted(_queue(br1)) and "counters" not in br1
    assert set(br1["queue"][0]) == {"service", "name", "waiting", "booked", "counters_open"}
    live = {k: (q["waiting"], q["booked"], q["counters_open"]) for k, q in _queue(br1).items()}
    assert live == _summary(api)
    assert _queue(br1)["cash"]["waiting"] == 3  # the seeded hall's queue
    assert branches["BR002"]["open_now"] is None  # no published hours

    ticket = api.ok(api.post("client1", f"/branches/{B}/tickets", {"service": "loan"}), 201)
    loan = _queue(_listed(api)[B])["loan"]
    assert (loan["waiting"], loan["booked"]) == (1, 1)
    check_in(api, "client1", B, ticket["ticket_no"], hall)
    loan = _queue(_listed(api, "teller9")[B])["loan"]  # any signed-in user, another branch's too
    assert (loan["waiting"], loan["booked"]) == (2, 0)

    clock.tick(timedelta(days=6).total_seconds())  # Sunday: closed
    assert _listed(api)[B]["open_now"] is False


def test_the_list_is_a_cursor_page_and_needs_a_sign_in(api):
    first = api.ok(api.get("client1", "/branches?limit=1"))
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = api.ok(api.get("client1", f"/branches?limit=1&cursor={first['next_cursor']}"))
    assert second["items"][0]["code"] != first["items"][0]["code"]
    unsigned = api.client.get("/api/v1/branches")
    assert unsigned.status_code == 401
    assert unsigned.get_json()["error"]["code"] == "unauthenticated"
