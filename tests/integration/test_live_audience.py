"""Live events reach only those who may read the same object over REST (issue 13, item 9).

A socket joins ``user:<id>``, ``org:<id>``, ``role:<role>`` and, for staff with a branch,
``branch:<code>:<role>``; every declared event carries an ``Audience`` rule that the Socket.IO
emitter enforces: a ``branch:<code>`` named by a service reaches only the branch's staff whose
role may read the object, and a room the rule does not allow is dropped."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.bootstrap import collect_areas, live_audiences
from backend.branch.models import VeinEnrolment
from backend.branch.runtime import Hall
from backend.branch.veins import records as vein_records
from backend.identity.models import User
from backend.platform.areas import Area, LiveEvent
from backend.platform.clock import utcnow
from backend.platform.context import ROLES
from backend.platform.live import Audience, branch_room, rooms_for, socket_rooms
from tests.conftest import login
from tests.iot_support import wait_for


def _token(client, username: str) -> str:
    return login(client, username)["Authorization"].split()[1]


def _socket(app, client, username: str):
    sock = app.extensions["finedge"].socketio.test_client(
        app, namespace="/live", auth={"token": _token(client, username)}
    )
    assert sock.is_connected("/live"), username
    return sock


def _names(sock, event: str) -> list[dict]:
    return [e["args"][0] for e in sock.get_received("/live") if e["name"] == event]


def _id(app, username: str) -> int:
    with app.extensions["finedge"].session_factory() as s:
        return s.scalar(select(User.id).where(User.username == username))


def test_a_loader_hears_only_their_own_vein_enrolment(app, client):
    """Two loaders of BR001: loader1's enrolment reaches loader1 and the branch's tellers, never
    loader2 (who may not list it over REST: GET /locks/{id}/vein-enrolments shows a loader only
    their own)."""
    ext = app.extensions["finedge"]
    loader1, loader2 = _socket(app, client, "loader1"), _socket(app, client, "loader2")
    teller, rm = _socket(app, client, "teller1"), _socket(app, client, "rm1")
    row = VeinEnrolment(
        branch_id="BR001",
        lock_id="BR001-LCK-01",
        user_id=_id(app, "loader1"),
        username="loader1",
        status="capturing",
        requested_at=utcnow(),
        captures=0,
    )
    with ext.session_factory() as session:
        session.execute(select(1))  # a transaction, so the push leaves at its commit
        vein_records.push(session, Hall(live=ext.live), row)
        session.commit()
    wait_for(lambda: _names(teller, "vein_enrolment.update"), what="the teller heard")
    assert [e["username"] for e in _names(loader1, "vein_enrolment.update")] == ["loader1"]
    assert _names(rm, "vein_enrolment.update")
    assert _names(loader2, "vein_enrolment.update") == []
    for sock in (loader1, loader2, teller, rm):
        sock.disconnect(namespace="/live")


def test_branch_staff_hear_what_they_may_read_and_nothing_else(app, client):
    """The queue (every staff role of the branch reads it) reaches both loaders; a device of
    BR001 does too; a risk signal (risk readers only) reaches neither loader nor teller."""
    ext = app.extensions["finedge"]
    loader1, loader2 = _socket(app, client, "loader1"), _socket(app, client, "loader2")
    teller, approver = _socket(app, client, "teller1"), _socket(app, client, "approver1")
    client1 = _socket(app, client, "client1")
    ext.live.send("queue.update", {"branch_id": "BR001"}, rooms=rooms_for(branches=["BR001"]))
    ext.live.send(
        "risk.signal", {"id": 1}, rooms=rooms_for(branches=["BR001"], roles=["approver", "teller"])
    )
    wait_for(lambda: _names(approver, "risk.signal"), what="the approver heard the signal")
    for sock in (loader1, loader2, teller):
        got = sock.get_received("/live")
        assert [e["name"] for e in got] == ["queue.update"]
    assert client1.get_received("/live") == []  # a client hears only their own ticket
    for sock in (loader1, loader2, teller, approver, client1):
        sock.disconnect(namespace="/live")


def test_a_socket_joins_only_role_qualified_branch_rooms():
    rooms = socket_rooms(7, "loader", 3, "BR001")
    assert rooms == ["user:7", "role:loader", "org:3", "branch:BR001:loader"]
    assert "branch:BR001" not in rooms  # nothing is ever sent to the bare branch room


DECLARED = [(area.name, e) for area in collect_areas() for e in area.live_events]


@pytest.mark.parametrize("event", [e for _a, e in DECLARED], ids=[e.name for _a, e in DECLARED])
def test_every_declared_live_event_has_an_audience_rule(event):
    """Table-driven over every declared event: it has a rule; a bare ``branch:<code>`` expands
    only to staff roles of a branch; the rule never names a role that is not a role; an event
    that reaches branch rooms reaches no client, dealer or device there."""
    rule = event.rule
    assert isinstance(rule, Audience), f"{event.name} declares no audience rule"
    assert rule.users or rule.orgs or rule.roles or rule.branch_roles, event.name
    assert set(rule.roles) <= set(ROLES) and set(rule.branch_roles) <= set(ROLES)
    assert not set(rule.branch_roles) & {"client", "dealer", "oem", "supervisor", "device"}
    routed, refused = rule.route(["branch:BR001", "user:1", "org:2", "role:client", "anyone"])
    assert "anyone" in refused and "role:client" in refused and "branch:BR001" not in routed
    assert set(routed) == (
        {branch_room("BR001", r) for r in rule.branch_roles}
        | ({"user:1"} if rule.users else set())
        | ({"org:2"} if rule.orgs else set())
    )


# What REST lets each role of a branch read, event by event: the rule must say the same.
EXPECTED_BRANCH_ROLES = {
    "queue.update": {"teller", "rm", "approver", "loader"},
    "cash_task.update": {"teller", "rm", "approver", "loader"},
    "device.state": {"teller", "rm", "approver", "loader"},
    "device.alarm": {"teller", "rm", "approver", "loader"},
    "vein_enrolment.update": {"teller", "rm", "approver"},  # a loader: only their own (user:)
    "client.arrived": set(),
    "risk.signal": set(),
    "vehicle.alert": set(),
    "session.revoked": set(),
}


def test_the_audience_table_covers_every_declared_event():
    audiences = live_audiences(collect_areas())
    assert set(audiences) == set(EXPECTED_BRANCH_ROLES)
    for name, roles in EXPECTED_BRANCH_ROLES.items():
        assert set(audiences[name].branch_roles) == roles, name


def test_an_event_without_a_rule_is_refused_at_bootstrap():
    bare = Area(name="bare", live_events=(LiveEvent("bare.thing", None, "someone"),))
    with pytest.raises(ValueError, match="declares no audience rule"):
        live_audiences([bare])


def test_the_openapi_document_shows_each_events_rooms(client):
    events = client.get("/api/v1/openapi.json").get_json()["x-live-events"]
    for _area, event in DECLARED:
        assert events[event.name]["rooms"] == event.rule.describe(), event.name
