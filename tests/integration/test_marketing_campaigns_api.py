"""The campaigns and RM tasks API: the team drafts, previews the power and launches; RMs see
and complete only their own tasks (another RM's is 404), tellers are refused (403); bad input
is 400 in the contract's shape and changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from backend.identity.models import User
from backend.marketing import synth
from backend.marketing.campaigns.delivery import run_campaigns
from backend.marketing.campaigns.service import freeze_members
from backend.marketing.load import load_clients
from backend.marketing.models import Campaign, Segment
from backend.platform.db import session_scope
from backend.platform.notifier import FakeNotifier, InboxNotifier
from tests.api_client import ApiClient

API = "/api/v1/marketing"
DAYTIME = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
TODAY_10AM = datetime.combine(date.today(), datetime.min.time(), UTC).replace(hour=2)


class Api(ApiClient):
    def call(self, method, user, path, **kw):
        headers = self.headers(user) if user else {}
        return getattr(self.client, method)(f"{API}{path}", headers=headers, **kw)

    def ok(self, response, status=200):
        assert response.status_code == status, response.get_json()
        return response.get_json()


@pytest.fixture
def api(app):
    factory = app.extensions["finedge"].session_factory
    with session_scope(factory) as session:
        rms = [session.scalar(select(User.id).where(User.username == u)) for u in ("rm1", "rm2")]
        ids = load_clients(session, synth.clients(120, seed=21), rm_user_ids=rms)
        segment = Segment(name="api list", kind="rule", definition={}, created_at=DAYTIME)
        session.add(segment)
        session.flush()
        freeze_members(session, segment, ids)
    api = Api(app)
    api.segment_id = segment.id
    api.factory = factory
    return api


def body(api, **over):
    return {
        "code": "API-RENEW",
        "name": "到期续作",
        "target_indicator": "renewal",
        "segment_id": api.segment_id,
        "product_code": "WM-180",
        "script": "您好，理财到期可续作",
        "sms_template": "尊敬的{name}：理财即将到期",
        "channels": ["sms", "call"],
        "starts_on": (date.today() - timedelta(days=1)).isoformat(),
        "ends_on": (date.today() + timedelta(days=30)).isoformat(),
        "budget": "1000.00",
        "cost_per_contact": "0.50",
        **over,
    }


def test_campaign_lifecycle_over_http(api):
    for user, status in (("rm1", 403), ("teller1", 403), (None, 401)):
        assert api.call("post", user, "/campaigns", json=body(api)).status_code == status
        assert api.call("get", user, "/campaigns").status_code == status
    created = api.ok(api.call("post", "mkt1", "/campaigns", json=body(api)), 201)
    cid = created["id"]
    assert created["status"] == "draft" and created["budget"] == "1000.00"
    assert created["control_share"] == 0.25
    assert api.call("get", "rm1", f"/campaigns/{cid}").status_code == 403
    power = api.ok(api.call("get", "mkt1", f"/campaigns/{cid}/power"))
    assert power["overall"]["treatment"] + power["overall"]["control"] == 120
    assert 0 < power["overall"]["power"] < 1 and power["tiers"]
    edited = api.ok(
        api.call("patch", "mkt1", f"/campaigns/{cid}", json={"name": "改名", "target_uplift": 0.1})
    )
    assert edited["name"] == "改名"
    assert api.ok(api.call("get", "mkt1", f"/campaigns/{cid}/power"))["target_uplift"] == 0.1
    launched = api.ok(api.call("post", "mkt1", f"/campaigns/{cid}/launch"))
    assert launched["status"] == "launched" and launched["power"]["overall"]
    again = api.call("post", "mkt1", f"/campaigns/{cid}/launch")
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "campaign_already_launched"
    assert api.call("patch", "mkt1", f"/campaigns/{cid}", json={"name": "x"}).status_code == 409
    detail = api.ok(api.call("get", "mkt1", f"/campaigns/{cid}"))
    assert sum(detail["arms"]["total"].values()) == 120
    page = api.ok(api.call("get", "mkt1", "/campaigns?status=launched"))
    assert cid in [c["id"] for c in page["items"]]
    drafts = api.ok(api.call("get", "mkt1", "/campaigns?status=draft"))
    assert cid not in [c["id"] for c in drafts["items"]]
    assert api.call("get", "mkt1", f"/campaigns/{2**63 - 1}").status_code == 404


BAD = [
    {"control_share": float("nan")},
    {"segment_id": 2**63},
    {"budget": 1000.5},
    {"budget": "1.005"},
    {"sms_template": "{name.__init__.__globals__}"},
    {"channels": ["fax"]},
    {"ends_on": "2000-05-01"},
    {"starts_on": "not a date"},
    {"unknown": 1},
    {"code": "a b"},
]


def test_bad_drafts_are_400_and_change_nothing(api):
    with api.factory() as session:
        before = session.scalar(select(func.count()).select_from(Campaign))
    for over in BAD:
        response = api.call("post", "mkt1", "/campaigns", json=body(api, **over))
        assert response.status_code == 400, (over, response.get_json())
        assert response.get_json()["error"]["code"]
    response = api.call("post", "mkt1", "/campaigns", json=body(api, segment_id=987654321))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "segment_not_found"
    with api.factory() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == before


def test_rm_tasks_are_their_own(api):
    cid = api.ok(api.call("post", "mkt1", "/campaigns", json=body(api)), 201)["id"]
    api.ok(api.call("post", "mkt1", f"/campaigns/{cid}/launch"))
    with session_scope(api.factory) as session:
        run_campaigns(session, TODAY_10AM, InboxNotifier(FakeNotifier()))
    mine = api.ok(api.call("get", "rm1", f"/tasks?limit=200&campaign_id={cid}"))["items"]
    theirs = api.ok(api.call("get", "rm2", f"/tasks?limit=200&campaign_id={cid}"))["items"]
    every = api.ok(api.call("get", "mkt1", f"/tasks?limit=200&campaign_id={cid}"))["items"]
    assert mine and theirs and len(every) == len(mine) + len(theirs)
    assert not {t["id"] for t in mine} & {t["id"] for t in theirs}
    assert api.call("get", "teller1", "/tasks").status_code == 403
    task = mine[0]
    assert api.call("get", "rm2", f"/tasks/{task['id']}").status_code == 404
    outcome = {"outcome": "interested", "opportunity": True, "note": "下周来网点"}
    assert api.call("post", "rm2", f"/tasks/{task['id']}/outcome", json=outcome).status_code == 404
    detail = api.ok(api.call("get", "rm1", f"/tasks/{task['id']}"))
    assert detail["campaign"]["script"] and detail["client"]["client_no"]
    assert set(detail["client"]["consents"]) == {"sms", "call", "miniapp"}
    headers = {**api.headers("rm1"), "Idempotency-Key": "outcome-1"}
    first = api.client.post(f"{API}/tasks/{task['id']}/outcome", json=outcome, headers=headers)
    replay = api.client.post(f"{API}/tasks/{task['id']}/outcome", json=outcome, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert first.get_json() == replay.get_json()
    assert first.get_json()["status"] == "done" and first.get_json()["opportunity"] is True
    same = api.call("post", "rm1", f"/tasks/{task['id']}/outcome", json=outcome)
    assert same.status_code == 200
    other = api.call("post", "rm1", f"/tasks/{task['id']}/outcome", json={"outcome": "declined"})
    assert other.status_code == 409
    bad = api.call("post", "rm1", f"/tasks/{task['id']}/outcome", json={"outcome": "maybe"})
    assert bad.status_code == 400
    done = api.ok(api.call("get", "rm1", f"/tasks?status=done&campaign_id={cid}"))["items"]
    assert [t["id"] for t in done] == [task["id"]]
    figures = api.ok(api.call("get", "mkt1", f"/campaigns/{cid}"))
    assert figures["tasks"]["by_outcome"] == {"interested": 1}
    assert figures["contacts"]


def test_a_clients_mini_program_messages_are_their_own(api):
    from backend.marketing.models import Assignment, Client, ContactConsent

    created = api.ok(
        api.call("post", "mkt1", "/campaigns", json=body(api, channels=["miniapp"])), 201
    )
    api.ok(api.call("post", "mkt1", f"/campaigns/{created['id']}/launch"))
    with session_scope(api.factory) as session:
        client1 = session.scalar(select(User.id).where(User.username == "client1"))
        # client1's login moves to a treated client of this campaign (the demo base may link
        # it to another client: a login is one client's)
        session.execute(update(Client).where(Client.user_id == client1).values(user_id=None))
        session.flush()
        treated = session.scalar(
            select(Client)
            .join(Assignment, Assignment.client_id == Client.id)
            .where(Assignment.campaign_id == created["id"], Assignment.arm == "treatment")
            .order_by(Client.id)
            .limit(1)
        )
        treated.user_id = client1
        consent = session.scalar(
            select(ContactConsent).where(
                ContactConsent.client_id == treated.id, ContactConsent.channel == "miniapp"
            )
        )
        consent.granted = True
    with session_scope(api.factory) as session:
        run_campaigns(session, TODAY_10AM, InboxNotifier(FakeNotifier()))
    inbox = api.ok(api.call("get", "client1", "/messages"))["items"]
    assert [m["campaign_id"] for m in inbox] == [created["id"]]
    assert inbox[0]["body"] == "尊敬的" + treated.name + "：理财即将到期"
    for user in ("rm1", "mkt1", "teller1"):
        assert api.call("get", user, "/messages").status_code == 403
