"""The client 360 API over the seeded demo client base: an RM sees and changes only their own
clients (another RM's is 404 on every read and change), the marketing team every client, a
teller nothing (403); the consent change is validated (nothing changes on bad input) and
audited. The list's scoping is SQL: on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.identity.models import User
from backend.marketing.models import Client, ContactConsent
from backend.platform.audit import AuditRecord
from tests.api_client import ApiClient

BASE = "/api/v1/marketing"


class Api(ApiClient):
    def get(self, user, path):
        return self.client.get(f"{BASE}{path}", headers=self.headers(user))

    def put(self, user, path, json=None, **kw):
        return self.client.put(f"{BASE}{path}", json=json, headers=self.headers(user), **kw)

    def ok(self, response, status=200):
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def error(self, response, status):
        assert response.status_code == status, response.get_json()
        return response.get_json()["error"]["code"]

    def session(self):
        return self.app.extensions["finedge"].session_factory()

    def user_id(self, username):
        with self.session() as s:
            return s.scalar(select(User.id).where(User.username == username))

    def listed(self, user, query=""):
        items, cursor = [], ""
        while True:
            page = self.ok(self.get(user, f"/clients?limit=200{query}{cursor}"))
            items += page["items"]
            if not page["next_cursor"]:
                return items
            cursor = f"&cursor={page['next_cursor']}"

    def state(self):
        with self.session() as s:
            return (
                sorted(
                    s.execute(
                        select(
                            ContactConsent.client_id, ContactConsent.channel, ContactConsent.granted
                        )
                    ).all()
                ),
                sorted(s.execute(select(Client.id, Client.dnd_from, Client.dnd_to)).all()),
                s.scalar(
                    select(func.count())
                    .select_from(AuditRecord)
                    .where(AuditRecord.action.like("marketing.%"))
                ),
            )


@pytest.fixture
def api(app):
    return Api(app)


@pytest.fixture
def pg_or_sqlite_api(make_app, db_url):
    return Api(make_app(db_url))


def test_rm_sees_only_their_own_clients_the_team_all_a_teller_none(pg_or_sqlite_api):
    api = pg_or_sqlite_api
    rm1, rm2 = api.user_id("rm1"), api.user_id("rm2")
    mine = api.listed("rm1")
    theirs = api.listed("rm2")
    everyone = api.listed("mkt1")
    assert mine and theirs
    assert {c["rm_user_id"] for c in mine} == {rm1}
    assert {c["rm_user_id"] for c in theirs} == {rm2}
    assert len(everyone) == 400 > len(mine) + len(theirs)  # and some with no RM
    assert len({c["id"] for c in everyone}) == 400
    assert api.error(api.get("teller1", "/clients"), 403)
    other = theirs[0]["id"]
    assert api.error(api.get("rm1", f"/clients/{other}"), 404) == "client_not_found"
    assert api.ok(api.get("rm2", f"/clients/{other}"))["id"] == other
    assert api.ok(api.get("mkt1", f"/clients/{other}"))["id"] == other
    assert api.error(api.get("teller1", f"/clients/{other}"), 403)
    assert api.error(api.get("rm1", "/clients/999999999"), 404) == "client_not_found"
    # the filters stay within the caller's clients
    for item in api.listed("rm1", "&tier=wealth&tag=high_value"):
        assert item["tier"] == "wealth" and "high_value" in item["tags"]
        assert item["rm_user_id"] == rm1


def test_the_360_has_holdings_transactions_tags_consents_and_events(api):
    everyone = api.listed("mkt1")
    busy = [c for c in everyone if c["tags"]]
    assert busy
    detail = api.ok(api.get("mkt1", f"/clients/{busy[0]['id']}"))
    assert {h["kind"] for h in detail["holdings"]} >= {"demand"}
    assert [c["channel"] for c in detail["consents"]] == ["sms", "call", "miniapp"]
    assert detail["tag_details"] and detail["tags"] == sorted(
        t["tag"] for t in detail["tag_details"]
    )
    assert all(isinstance(h["amount"], str) for h in detail["holdings"])
    # some client has events and transactions (the seeder detected them)
    with_events = [
        c
        for c in everyone[:400]
        if c["tags"] and ("large_inflow_30d" in c["tags"] or "large_outflow_30d" in c["tags"])
    ]
    assert with_events
    d = api.ok(api.get("mkt1", f"/clients/{with_events[0]['id']}"))
    assert {e["kind"] for e in d["events"]} & {"large_in", "large_out"}
    assert d["transactions"] and d["transactions"][0]["at"].endswith("Z")
    # q is a fragment, not a pattern
    number = everyone[5]["client_no"]
    assert [c["client_no"] for c in api.listed("mkt1", f"&q={number}")] == [number]
    assert len(api.listed("mkt1", f"&q={number[:-1]}")) >= 2
    assert api.listed("mkt1", "&q=%25") == []
    # client1 is a wealth client (a VIP at the door)
    with api.session() as s:
        linked = s.scalar(select(Client).where(Client.user_id == api.user_id("client1")))
        assert linked is not None and linked.tier == "wealth"


def test_consent_change_by_the_rm_is_audited_and_nobody_elses(api):
    own = api.listed("rm1")[0]["id"]
    other = api.listed("rm2")[0]["id"]
    before = api.state()
    body = {"channel": "sms", "granted": False, "dnd_from": "22:00", "dnd_to": "08:30"}
    assert api.error(api.put("rm2", f"/clients/{own}/consents", body), 404) == "client_not_found"
    assert api.error(api.put("teller1", f"/clients/{own}/consents", body), 403)
    bad = [
        ({**body, "dnd_from": "24:00"}, "validation_error"),
        ({**body, "dnd_to": "8:30"}, "validation_error"),
        ({"channel": "sms", "granted": False, "dnd_from": "22:00"}, "validation_error"),
        ({"channel": "fax", "granted": True}, "validation_error"),
        ({"channel": "sms", "granted": "no"}, "validation_error"),
        ({"channel": "sms"}, "validation_error"),
        ({}, "validation_error"),
        ({**body, "extra": 1}, "validation_error"),
    ]
    for payload, code in bad:
        assert api.error(api.put("rm1", f"/clients/{own}/consents", payload), 400) == code, payload
    assert api.error(api.put("rm1", f"/clients/{2**63}/consents", body), 400)
    assert api.state() == before  # nothing changed
    done = api.ok(api.put("rm1", f"/clients/{own}/consents", body))
    assert {c["channel"]: c["granted"] for c in done["consents"]}["sms"] is False
    assert (done["dnd_from"], done["dnd_to"]) == ("22:00", "08:30")
    after = api.state()
    assert after[2] == before[2] + 1
    with api.session() as s:
        record = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "marketing.consent_changed")
        ).one()
        assert str(record.object_id) == str(own)
    # the team may clear the hours; the other RM's client stays theirs
    cleared = api.ok(
        api.put("mkt1", f"/clients/{own}/consents", {"dnd_from": None, "dnd_to": None})
    )
    assert (cleared["dnd_from"], cleared["dnd_to"]) == (None, None)
    assert api.ok(
        api.put("rm2", f"/clients/{other}/consents", {"channel": "call", "granted": True})
    )


def test_client1_at_the_door_is_a_vip_arrival_on_their_360(api):
    from datetime import UTC, datetime

    from backend.branch.models import FaceConsent, FaceSighting
    from backend.marketing.events.service import detect_arrivals
    from backend.marketing.seed import seed_clients
    from backend.platform.seeding import SeedOptions

    client1 = api.user_id("client1")
    now = datetime.now(UTC)
    with api.session() as s:
        linked = s.scalar(select(Client).where(Client.user_id == client1))
        s.add(
            FaceConsent(
                user_id=client1, status="granted", text_version="v1", channel="app", granted_at=now
            )
        )
        s.add(
            FaceSighting(
                branch_id="BR001", user_id=client1, device_id="door-1", distance=0.31, at=now
            )
        )
        s.commit()
        assert detect_arrivals(s, now) == 1
        s.commit()
        # the seeder again: nothing new
        again = seed_clients(s, SeedOptions())
        s.commit()
    assert again["marketing_transactions_added"] == again["marketing_events_added"] == 0
    viewer = "rm1" if linked.rm_user_id == api.user_id("rm1") else "mkt1"
    events = api.ok(api.get(viewer, f"/clients/{linked.id}"))["events"]
    assert [e["kind"] for e in events if e["kind"] == "vip_arrival"] == ["vip_arrival"]
    assert events[0]["details"]["branch_id"] == "BR001"


def test_bad_list_queries_are_400_in_the_contracts_shape(api):
    for query, code in (
        ("tier=diamond", "validation_error"),
        ("limit=0", "validation_error"),
        ("limit=201", "validation_error"),
        ("q=" + "x" * 81, "validation_error"),
        ("cursor=not-a-cursor", "invalid_cursor"),
    ):
        assert api.error(api.get("mkt1", f"/clients?{query}"), 400) == code, query
    assert api.error(api.get("rm1", f"/clients/{2**63}"), 400)
