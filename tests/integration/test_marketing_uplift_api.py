"""The evaluation, uplift model and KPI endpoints with two RMs, the marketing team and a
teller, on SQLite and PostgreSQL: an RM sees a campaign's figures over their own clients only
and their own KPI row only; the team sees all; others are refused; bad input is 400."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, insert, select

from backend.identity.models import User
from backend.marketing import kpi
from backend.marketing.models import Contact, KpiCredit, Segment, SegmentMember, Task
from backend.marketing.uplift import evaluate
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM
from tests.api_client import ApiClient
from tests.integration.marketing_uplift_support import AS_OF, planted_campaign

BASE = "/api/v1/marketing"


class Api(ApiClient):
    def get(self, user, path):
        return self.client.get(f"{BASE}{path}", headers=self.headers(user))

    def post(self, user, path, json=None):
        return self.client.post(f"{BASE}{path}", json=json or {}, headers=self.headers(user))

    def ok(self, r, status=200):
        assert r.status_code == status, r.get_json()
        return r.get_json()

    def error(self, r, status):
        assert r.status_code == status, r.get_json()
        return r.get_json()["error"]["code"]

    def session(self):
        return self.app.extensions["finedge"].session_factory()


@pytest.fixture
def api(make_app, db_url):
    return Api(make_app(db_url))


def _users(api):
    with api.session() as s:
        return dict(
            s.execute(
                select(User.username, User.id).where(User.username.in_(["rm1", "rm2", "mkt1"]))
            ).all()
        )


def _campaign(api, n=3_000, seed=41, code="RENEW-API"):
    users = _users(api)
    with api.session() as s:
        campaign, truth = planted_campaign(
            s, n=n, seed=seed, code=code, rm_user_ids=(users["rm1"], users["rm2"])
        )
        s.commit()
        cid = campaign.id
    truth["rm_user_id"] = [(users["rm1"], users["rm2"])[i % 2] for i in range(n)]
    return cid, truth, users


def test_evaluation_and_uplift_models_team_sees_all_rm_their_own_clients(api):
    cid, truth, users = _campaign(api)
    team = api.ok(api.get("mkt1", f"/campaigns/{cid}/evaluation"))
    assert team["scope"] == "all" and team["clients"] == 3_000
    t = truth["treated"].to_numpy()
    assert team["arms"]["treatment"]["n"] == int(t.sum())
    assert team["arms"]["control"]["conversions"] == int(truth["converted"][~t].sum())
    expected = evaluate.uplift_interval(truth["converted"], t)
    assert team["uplift"]["uplift"] == pytest.approx(expected["uplift"])
    assert team["uplift"]["low"] <= truth["true_uplift"][t].mean() <= team["uplift"]["high"]
    assert len(team["qini"]["x"]) == 101 and team["qini"]["auuc_ratio"] > 1.0
    assert [u["k"] for u in team["uplift_at_k"]] == [0.1, 0.2, 0.3, 0.5]
    growth = team["aum_growth"]
    assert growth["mean_growth_difference"]["low"] > 0  # planted: contact moves money in
    assert float(growth["treatment"]["aum_now"]) > float(growth["treatment"]["aum_before"])
    assert team["tier_up"]["treatment"]["tier_ups"] == int(truth["tier_up"][t].sum())
    assert {row["tier"] for row in team["by_tier"]} == set(truth["tier"])
    for row in team["by_tier"]:  # stratified: the control share holds within each tier
        n = row["arms"]["treatment"]["n"] + row["arms"]["control"]["n"]
        assert abs(row["arms"]["control"]["n"] - 0.25 * n) <= 1

    mine = api.ok(api.get("rm1", f"/campaigns/{cid}/evaluation"))
    own = truth["rm_user_id"] == users["rm1"]
    assert mine["scope"] == "own_clients" and mine["clients"] == int(own.sum())
    assert mine["arms"]["treatment"]["conversions"] == int(
        truth["converted"][own & truth["treated"]].sum()
    )
    theirs = api.ok(api.get("rm2", f"/campaigns/{cid}/evaluation"))
    assert mine["clients"] + theirs["clients"] == 3_000

    assert api.error(api.get("teller1", f"/campaigns/{cid}/evaluation"), 403) == "forbidden"
    assert api.error(api.get("mkt1", "/campaigns/999999/evaluation"), 404) == ("campaign_not_found")
    assert api.error(api.get("mkt1", f"/campaigns/{2**63}/evaluation"), 400)

    # the uplift model, retrained on this campaign, picks the next list (the team only)
    assert api.error(api.post("rm1", "/uplift/models", {}), 403)
    assert api.error(api.get("rm1", "/uplift/models"), 403)
    assert api.error(api.post("mkt1", "/uplift/models", {"holdout": 0.9}), 400)
    assert api.error(api.post("mkt1", "/uplift/models", {"method": "magic"}), 400)
    assert api.error(api.post("mkt1", "/uplift/models", {"campaigns": ["NOPE"]}), 404)
    body = {"method": "t_learner", "seed": 3, "campaigns": ["RENEW-API"]}  # not the seed's
    model = api.ok(api.post("mkt1", "/uplift/models", body), 201)
    assert model["status"] == "champion" and model["trained_on"] == ["RENEW-API"]
    assert "artifact" not in model and len(model["artifact_sha256"]) == 64
    page = api.ok(api.get("mkt1", "/uplift/models?status=champion"))
    assert [m["id"] for m in page["items"]] == [model["id"]]
    assert api.ok(api.get("admin", f"/uplift/models/{model['id']}"))["id"] == model["id"]
    second = api.ok(api.post("mkt1", "/uplift/models", {"method": "s_learner"}), 201)
    assert second["status"] == "challenger"
    assert api.error(api.post("rm1", f"/uplift/models/{second['id']}/promote"), 403)
    assert api.ok(api.post("mkt1", f"/uplift/models/{second['id']}/promote"))["status"] == (
        "champion"
    )

    body = {"name": "next renewal list", "top": 300}
    assert api.error(api.post("rm1", f"/uplift/models/{model['id']}/list", body), 403)
    for bad in ({"name": "x", "top": 0}, {"name": "x", "top": 2**63}, {"name": "", "top": 5}):
        assert api.error(api.post("mkt1", f"/uplift/models/{model['id']}/list", bad), 400)
    assert api.error(api.post("mkt1", "/uplift/models/999999/list", body), 404)
    got = api.ok(api.post("mkt1", f"/uplift/models/{model['id']}/list", body), 201)
    assert got["size"] == 300 and got["kind"] == "model"
    assert got["definition"] == {"model": "uplift", "model_id": model["id"], "top": 300}
    assert api.error(api.post("mkt1", f"/uplift/models/{model['id']}/list", body), 409) == (
        "segment_name_taken"
    )
    with api.session() as s:
        models = select(func.count()).select_from(Segment).where(Segment.kind == "model")
        assert s.scalar(models) == 1  # the seed's segments are rule segments
        listed = select(func.count()).where(SegmentMember.segment_id == got["segment_id"])
        assert s.scalar(listed) == 300
        assert (
            s.scalar(
                select(func.count()).where(AuditRecord.action == "marketing.uplift_list_created")
            )
            == 1
        )


def test_kpis_credit_incremental_conversions_and_activity(api):
    cid, truth, users = _campaign(api, n=2_000, seed=43, code="RENEW-K")
    rm1, rm2 = users["rm1"], users["rm2"]
    now = datetime.combine(AS_OF, datetime.min.time(), UTC) + timedelta(days=20)
    mine = truth[(truth["rm_user_id"] == rm1) & truth["treated"]]
    ids = mine["client_id"].tolist()[:10]
    # rm1: 10 call tasks done (7 reached, 3 not), 4 opportunities of which 1 converted; rm2: none
    outcomes = ["reached"] * 3 + ["interested"] * 2 + ["converted"] * 2 + ["not_reached"] * 3
    with api.session() as s:
        s.execute(
            insert(Task),
            [
                {
                    "campaign_id": cid,
                    "client_id": c,
                    "rm_user_id": rm1,
                    "kind": "call",
                    "due_on": AS_OF,
                    "status": "done",
                    "outcome": outcomes[i],
                    "opportunity": i in (2, 3, 4, 5),
                    "note": "",
                    "done_at": now,
                    "created_at": now,
                }
                for i, c in enumerate(ids)
            ],
        )
        s.execute(
            insert(Contact),
            [
                {
                    "key": f"sms-{cid}-{c}",
                    "campaign_id": cid,
                    "client_id": c,
                    "channel": "sms",
                    "status": "sent" if i < 6 else "refused",
                    "reason": None if i < 6 else "no_consent",
                    "body": "",
                    "at": now,
                }
                for i, c in enumerate(ids)
            ],
        )
        first = kpi.compute(s, SYSTEM, now, campaign_ids=[cid])  # not the seed's campaign
        s.commit()
        again = kpi.compute(s, SYSTEM, now + timedelta(days=1), campaign_ids=[cid])
        s.commit()
        assert first["credits"] == again["credits"] == 10 and again["changed"] == 0
        ours = select(func.count()).select_from(KpiCredit).where(KpiCredit.campaign_id == cid)
        assert s.scalar(ours) == 10

    # the expected incremental conversions, by hand
    control = truth[~truth["treated"]]
    rate = control.groupby("tier")["converted"].mean()
    treated = truth[truth["treated"]]
    credit = treated["converted"] - treated["tier"].map(rate).fillna(control["converted"].mean())
    by_rm = credit.groupby(treated["rm_user_id"]).sum()

    row = api.ok(api.get("rm1", "/kpis?level=rm"))["items"]
    assert [r["key"] for r in row] == [str(rm1)] and row[0]["name"] == "rm1"
    m = row[0]["metrics"]
    assert m["incremental_conversions"]["value"] == pytest.approx(by_rm[rm1])
    assert m["incremental_conversions"]["points"] == pytest.approx(10 * by_rm[rm1])
    assert m["calls"]["value"] == 10 and m["sms"]["value"] == 6
    assert m["reach_rate"]["value"] == pytest.approx(0.7)
    assert m["opportunity_completion"]["value"] == pytest.approx(0.25)
    assert m["opportunity_completion"]["points"] == pytest.approx(0.25 * 20)
    assert api.error(api.get("rm1", "/kpis?level=outlet"), 403) == "kpi_level_forbidden"
    assert api.error(api.get("teller1", "/kpis?level=rm"), 403)
    assert api.error(api.get("mkt1", "/kpis?level=planet"), 400)
    assert api.error(api.get("mkt1", "/kpis?cursor=notacursor"), 400) == "invalid_cursor"

    team = api.ok(api.get("mkt1", "/kpis?level=rm&limit=1"))
    assert len(team["items"]) == 1 and team["next_cursor"]
    rest = api.ok(api.get("mkt1", f"/kpis?level=rm&limit=1&cursor={team['next_cursor']}"))
    assert {team["items"][0]["key"], rest["items"][0]["key"]} == {str(rm1), str(rm2)}
    total = sum(by_rm[r] for r in (rm1, rm2))
    office = api.ok(api.get("mkt1", "/kpis?level=head_office"))["items"]
    assert len(office) == 1
    assert office[0]["metrics"]["incremental_conversions"]["value"] == pytest.approx(total)
    outlets = api.ok(api.get("mkt1", "/kpis?level=outlet"))["items"]
    assert [o["key"] for o in outlets] == ["BR001"]  # both demo RMs work at BR001
    branches = api.ok(api.get("mkt1", "/kpis?level=branch"))["items"]
    assert [b["key"] for b in branches] == ["BANK"]  # BR001's org's parent
    assert np.isclose(branches[0]["points"], office[0]["points"])
