"""Orgs and branches over HTTP (admin creates and edits; everyone signed in lists branches): a
branch made in one request with its org, opening hours and hall (time zone, services,
counters), then used by the hall; bad input changes nothing; every change audited. On SQLite
and PostgreSQL."""

import pytest
from sqlalchemy import select

from backend.branch.models import BranchHall, HallCounter
from backend.identity.models import Branch, Org
from backend.platform.audit import AuditRecord
from tests.conftest import login
from tests.integration.test_app_errors import assert_error

HOURS = {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "sat": [["10:00", "14:00"]]}
NEW_BRANCH = {
    "code": "BR002",
    "name": "Branch Two",
    "opening_hours": HOURS,
    "timezone": "Asia/Urumqi",
    "services": ["cash", "account"],
    "counters": [
        {"counter_id": "1", "name": "Window 1", "skills": ["cash"], "device_id": "BR002-CALL-01"},
        {"counter_id": "2", "name": "Window 2", "skills": ["cash", "account"]},
    ],
}


@pytest.fixture
def api(make_app, db_url):
    app = make_app(db_url)
    client = app.test_client()
    tokens: dict[str, dict] = {}

    def auth(user: str) -> dict:
        if user not in tokens:
            tokens[user] = login(client, user)
        return tokens[user]

    return app, client, auth


def _actions(app, prefix: str) -> list[str]:
    with app.extensions["finedge"].session_factory() as s:
        return list(
            s.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.action.like(f"{prefix}%"))
                .order_by(AuditRecord.id)
            )
        )


def test_orgs_are_created_and_edited_by_admins_only(api):
    app, client, auth = api
    admin = auth("admin")
    oem = client.post(
        "/api/v1/orgs", json={"code": "OEM9", "name": "Nine Motors", "kind": "oem"}, headers=admin
    )
    assert oem.status_code == 201, oem.get_json()
    dealer = client.post(
        "/api/v1/orgs",
        json={"code": "DLR9", "name": "Dealer Nine", "kind": "dealer", "parent_id": oem.json["id"]},
        headers=admin,
    )
    assert dealer.status_code == 201 and dealer.json["parent_id"] == oem.json["id"]
    body = {"code": "OEM9", "name": "Again", "kind": "oem"}
    assert_error(client.post("/api/v1/orgs", json=body, headers=admin), 409, "org_exists")
    body = {"code": "X1", "name": "x", "kind": "pirate"}
    assert_error(client.post("/api/v1/orgs", json=body, headers=admin), 400)
    body = {"code": "bad code", "name": "x", "kind": "oem"}
    assert_error(client.post("/api/v1/orgs", json=body, headers=admin), 400)
    body = {"code": "X2", "name": "x", "kind": "oem"}
    assert_error(client.post("/api/v1/orgs", json=body, headers=auth("rm1")), 403, "forbidden")
    url = f"/api/v1/orgs/{oem.json['id']}"
    assert_error(
        client.patch(url, json={"parent_id": dealer.json["id"]}, headers=admin), 400, "org_cycle"
    )
    assert_error(client.patch(url, json={"name": "Hijacked"}, headers=auth("dealer1")), 403)
    renamed = client.patch(url, json={"name": "Nine Motors Ltd"}, headers=admin)
    assert renamed.status_code == 200 and renamed.json["name"] == "Nine Motors Ltd"
    assert _actions(app, "org.")[-3:] == ["org.created", "org.created", "org.changed"]


def test_a_branch_is_created_with_its_hall_and_the_hall_runs_by_it(api):
    app, client, auth = api
    admin = auth("admin")
    made = client.post("/api/v1/branches", json=NEW_BRANCH, headers=admin)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["opening_hours"] == HOURS and body["timezone"] == "Asia/Urumqi"
    assert body["services"] == ["account", "cash"]
    counters = {c["counter_id"]: c for c in body["counters"]}
    assert counters["1"]["device_id"] == "BR002-CALL-01" and counters["2"]["skills"] == [
        "cash",
        "account",
    ]
    with app.extensions["finedge"].session_factory() as s:
        branch = s.scalar(select(Branch).where(Branch.code == "BR002"))
        org = s.get(Org, branch.org_id)
        bank = s.scalar(select(Org).where(Org.code == "BANK"))
        assert (org.code, org.kind, org.parent_id) == ("BR002", "branch", bank.id)
        hall = s.scalar(select(BranchHall).where(BranchHall.branch_id == "BR002"))
        assert hall.timezone == "Asia/Urumqi"
        assert s.scalar(select(HallCounter).where(HallCounter.branch_id == "BR002")) is not None
    assert {"branch.created", "branch.services", "branch.counter", "branch.timezone"} <= set(
        _actions(app, "branch.")
    )
    # the hall uses it: the queue's counters are the configured ones
    queue = client.get("/api/v1/branches/BR002/queue", headers=admin)
    assert queue.status_code == 200, queue.get_json()
    # staff for it: a teller of the new branch's org gets the branch by default
    teller = client.post(
        "/api/v1/admin/users",
        json={
            "username": "teller-br2",
            "password": "longenough1",
            "role": "teller",
            "org_id": org.id,
        },
        headers=admin,
    )
    assert teller.status_code == 201 and teller.json["branch_id"] == "BR002"
    # discovery: everyone signed in sees the branch's public facts, not its counters
    listed = client.get("/api/v1/branches", headers=auth("client1")).get_json()["items"]
    br2 = next(b for b in listed if b["code"] == "BR002")
    assert br2["opening_hours"] == HOURS and br2["services"] == ["account", "cash"]
    assert "counters" not in br2
    assert "counters" not in client.get("/api/v1/branches/BR002", headers=auth("teller1")).json
    own = client.get("/api/v1/branches/BR002", headers=login(client, "teller-br2", "longenough1"))
    assert len(own.json["counters"]) == 2
    assert_error(client.get("/api/v1/branches/BR404", headers=admin), 404, "branch_not_found")


def test_bad_branch_input_changes_nothing(api):
    _app, client, auth = api
    admin = auth("admin")
    assert client.post("/api/v1/branches", json=NEW_BRANCH, headers=admin).status_code == 201
    bad_hours = [
        {"mon": [["17:00", "09:00"]]},
        {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]},
        {"mon": [["9am", "5pm"]]},
        {"funday": [["09:00", "17:00"]]},
    ]
    for hours in bad_hours:
        assert_error(
            client.patch(
                "/api/v1/branches/BR002",
                json={"name": "Renamed", "opening_hours": hours},
                headers=admin,
            ),
            400,
        )
    assert_error(
        client.patch(
            "/api/v1/branches/BR002",
            json={"name": "Renamed", "timezone": "Mars/Olympus"},
            headers=admin,
        ),
        400,
        "unknown_timezone",
    )
    assert_error(
        client.patch("/api/v1/branches/BR002", json={"services": ["teleport"]}, headers=admin),
        400,
    )
    now = client.get("/api/v1/branches/BR002", headers=admin).json
    assert now["name"] == "Branch Two" and now["opening_hours"] == HOURS
    assert now["timezone"] == "Asia/Urumqi"
    body = {**NEW_BRANCH, "code": "BR002"}
    assert_error(client.post("/api/v1/branches", json=body, headers=admin), 409, "branch_exists")
    body = {**NEW_BRANCH, "code": "STATE"}
    assert_error(client.post("/api/v1/branches", json=body, headers=admin), 400)
    body = {**NEW_BRANCH, "code": "BR003"}
    assert_error(client.post("/api/v1/branches", json=body, headers=auth("teller1")), 403)
    assert_error(
        client.patch("/api/v1/branches/BR002", json={"name": "x"}, headers=auth("rm1")), 403
    )
    changed = client.patch(
        "/api/v1/branches/BR002",
        json={"name": "Branch 2", "opening_hours": None, "services": ["cash"]},
        headers=admin,
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.json["opening_hours"] is None and changed.json["services"] == ["cash"]
