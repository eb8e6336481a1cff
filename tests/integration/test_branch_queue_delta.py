"""The branch room's ``queue.update`` is a delta (backend/branch/queue/delta.py): applied to the
last picture as docs/branch.md says, every push gives exactly what a fresh
``GET /branches/{b}/queue`` gives, through tickets issued, checked in, called, recalled,
skipped, transferred, finished and cancelled and counters opened and closed; a missed push is
seen (``base_version``) and mended by a GET; a rolled-back change pushes nothing and leaves the
next delta applicable; and clients only ever hear of their own tickets, each time it changes."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select
from sqlalchemy import update as sql_update

from backend.branch.models import Ticket
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import presence_code, user_id

api = support.api  # fixture
branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_app = support.hall_app  # fixture
hall_url = support.hall_url  # fixture

B = "BR001"
PICTURE = ("branch_id", "version", "at", "services", "counters", "tickets", "serving")
QUEUED = ("remote", "waiting")


class Gap(Exception):
    """The update does not apply to the picture held: reload it with GET."""


def apply(picture: dict, update: dict) -> dict:
    """A staff client's handling of one ``queue.update`` (docs/branch.md, *Pushes*)."""
    if update["version"] <= picture["version"]:
        return picture  # old news (pushes of two instances may cross)
    if update["kind"] == "full":
        return {k: update[k] for k in PICTURE}
    if update["base_version"] != picture["version"]:
        raise Gap(f"holding {picture['version']}, update applies to {update['base_version']}")
    tickets = {t["id"]: t for t in picture["tickets"] + picture["serving"]}
    for ticket_id in update["removed"]:
        del tickets[ticket_id]
    for ticket in update["tickets"] + update["serving"]:
        tickets[ticket["id"]] = ticket
    for standing in update["standings"]:
        tickets[standing["id"]] = {
            **tickets[standing["id"]],
            "position": standing["position"],
            "estimated_wait_s": standing["estimated_wait_s"],
        }
    counters = {c["counter_id"]: c for c in picture["counters"]}
    counters.update({c["counter_id"]: c for c in update["counters"]})
    return {
        "branch_id": update["branch_id"],
        "version": update["version"],
        "at": update["at"],
        "services": update["services"],
        "counters": [counters[k] for k in sorted(counters)],
        "tickets": sorted(
            (t for t in tickets.values() if t["status"] in QUEUED), key=lambda t: t["order_key"]
        ),
        "serving": sorted(
            (t for t in tickets.values() if t["status"] == "called"), key=lambda t: t["id"]
        ),
    }


class Watch:
    """The pushes the hall sent since the last look, split by audience."""

    def __init__(self, hall):
        self.hall, self.seen = hall, 0

    def new(self):
        sent = self.hall.live.sent[self.seen :]
        self.seen = len(self.hall.live.sent)
        room = [d for e, d, rooms in sent if e == "queue.update" and "branch:BR001" in rooms]
        users = [
            (rooms, d) for e, d, rooms in sent if e == "queue.update" and rooms[0][:5] == "user:"
        ]
        return room, users


def picture(api) -> dict:
    return api.ok(api.get("teller1", f"/branches/{B}/queue"))


def client_id(api, username: str) -> int:
    with api.session() as s:
        return user_id(s, username)


def owner_of(api, ticket_id: int) -> int | None:
    with api.session() as s:
        return s.scalar(select(Ticket.client_user_id).where(Ticket.id == ticket_id))


def test_deltas_rebuild_the_picture_a_fresh_get_gives(api, hall, clock):
    held = picture(api)
    watch = Watch(hall)
    client2 = client_id(api, "client2")
    told: dict[int, dict] = {}  # client2's tickets as last pushed to client2
    kinds = []

    def step(user, path, body=None, status=200):
        clock.tick(37)
        body = body() if callable(body) else body
        answer = api.ok(api.post(user, f"/branches/{B}{path}", body), status)
        nonlocal held
        room, users = watch.new()
        assert len(room) == 1, path  # one change, one update
        for update in room:
            kinds.append(update["kind"])
            held = apply(held, update)
        assert held == picture(api), path
        for rooms, update in users:
            assert set(update) == {"branch_id", "version", "ticket"}
            assert owner_of(api, update["ticket"]["id"]) == int(rooms[0][5:])  # their own only
            if rooms == [f"user:{client2}"]:
                told[update["ticket"]["id"]] = update["ticket"]
        mine = api.ok(api.get("client2", f"/branches/{B}/queue"))["mine"]
        for ticket in mine:  # each open ticket as client2 last heard of it, standing included
            assert told[ticket["id"]] == ticket, path
        return answer

    step("teller1", "/counters/3/status", {"status": "closed"})
    step("teller1", "/tickets", {"service": "cash"}, 201)
    step(
        "teller1", "/tickets", {"service": "cash", "client_id": client2, "category": "normal"}, 201
    )
    step("teller1", "/tickets", {"service": "account", "client_id": client2}, 201)
    step("teller1", "/tickets", {"service": "cash", "category": "vip"}, 201)  # jumps the queue
    remote = step("client1", "/tickets", {"service": "loan"}, 201)
    step(
        "client1",
        f"/tickets/{remote['ticket_no']}/check-in",
        lambda: {"presence_code": presence_code(hall, B)},  # scanned in the hall, now
    )
    step("teller1", "/counters/1/call-next")
    step("teller1", "/counters/2/call-next")
    step("teller1", "/counters/1/recall")
    step("teller1", "/counters/1/no-show")
    step("teller1", "/counters/2/transfer", {"service": "account", "return_after": True})
    step("teller1", "/counters/3/status", {"status": "open"})
    step("teller1", "/counters/3/call-next")
    step("teller1", "/counters/3/finish")
    step("teller1", "/counters/1/call-next")
    step("teller1", "/counters/1/call-next")
    step("teller1", "/counters/2/call-next")
    step("teller1", "/counters/2/finish")
    step("teller1", "/counters/3/status", {"status": "closed"})
    mine = api.ok(api.get("client2", f"/branches/{B}/queue"))["mine"]
    waiting = [t for t in mine if t["status"] in QUEUED]
    assert waiting
    for ticket in waiting:
        step("client2", f"/tickets/{ticket['ticket_no']}/cancel")
        assert told[ticket["id"]]["status"] == "cancelled"  # told as it left
    assert kinds[0] == "full" and set(kinds[1:]) == {"delta"}


def test_a_missed_update_is_seen_and_a_get_mends_it(api, hall, clock):
    watch = Watch(hall)
    api.ok(api.post("teller1", f"/branches/{B}/tickets", {"service": "cash"}), 201)
    watch.new()
    held = picture(api)
    api.ok(api.post("teller1", f"/branches/{B}/tickets", {"service": "loan"}), 201)
    lost, _users = watch.new()
    api.ok(api.post("teller1", f"/branches/{B}/counters/1/call-next"))
    room, _users = watch.new()
    assert lost[0]["version"] == held["version"] + 1
    with pytest.raises(Gap):
        apply(held, room[0])
    held = picture(api)  # reload
    api.ok(api.post("teller1", f"/branches/{B}/tickets", {"service": "wealth"}), 201)
    room, _users = watch.new()
    assert apply(held, room[0]) == picture(api)


def test_a_rolled_back_change_pushes_nothing_and_the_next_delta_applies(api, hall, clock):
    watch = Watch(hall)
    remote = api.ok(api.post("client1", f"/branches/{B}/tickets", {"service": "cash"}), 201)
    api.ok(api.post("teller1", f"/branches/{B}/tickets", {"service": "cash"}), 201)
    watch.new()
    held = picture(api)
    clock.tick(hours=1)  # past the remote ticket's lifetime
    refused = api.post(
        "client1",
        f"/branches/{B}/tickets/{remote['ticket_no']}/check-in",
        {"presence_code": presence_code(hall, B)},
    )
    assert refused.status_code == 422
    assert watch.new() == ([], [])
    api.ok(api.post("teller1", f"/branches/{B}/counters/1/call-next"))
    room, _users = watch.new()
    assert [u["kind"] for u in room] == ["delta"] and room[0]["base_version"] == held["version"]
    assert apply(held, room[0]) == picture(api)


def test_a_normal_ticket_pushes_only_itself(api, hall, clock):
    """Issuing a ticket that joins the end of the queue moves nobody: the room hears of that
    ticket and the services, and no other client is told anything."""
    with api.session() as s:  # the demo's tickets were queued at the seed's real time
        s.execute(sql_update(Ticket).values(status="done"))
        s.commit()
    watch = Watch(hall)
    client2 = client_id(api, "client2")
    for service in ("cash", "account", "loan", "cash"):
        api.ok(api.post("teller1", f"/branches/{B}/tickets", {"service": service}), 201)
    api.ok(api.post("client1", f"/branches/{B}/tickets", {"service": "wealth"}), 201)
    watch.new()
    held = copy.deepcopy(picture(api))
    clock.tick(5)
    body = {"service": "cash", "client_id": client2, "category": "normal"}
    new = api.ok(api.post("teller1", f"/branches/{B}/tickets", body), 201)
    room, users = watch.new()
    (update,) = room
    assert [t["id"] for t in update["tickets"]] == [new["id"]]
    assert update["standings"] == [] and update["removed"] == [] and update["serving"] == []
    assert [(rooms, u["ticket"]["id"]) for rooms, u in users] == [([f"user:{client2}"], new["id"])]
    assert apply(held, update) == picture(api)
