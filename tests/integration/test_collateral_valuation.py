"""Online valuation over HTTP on SQLite and PostgreSQL: a 201 with the range, the blend and
the breakdown; bad facts and an unknown city 400 with details and nothing logged; a registered
property valued by its RM (its latest value set) and not by another RM (404), whose valuations
the other RM cannot read either; every valuation logged with its inputs and the model; the
model registry read by staff and promoted by admins only. The champion is the seeded one
(trained once per test process, ``backend/collateral/seed.py``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.collateral import modelstore, valuer
from backend.collateral.models import AvmModel, Property, Valuation
from backend.collateral.seed import demo_model
from backend.identity import service as identity
from backend.identity.models import Org, User
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM
from backend.platform.errors import NotFound
from tests.conftest import login

FACTS = {
    "city": "杭州",
    "district": "西湖区",
    "community": "翠苑新村",
    "area_m2": "89.50",
    "floor": 5,
    "total_floors": 18,
    "build_year": 2012,
    "orientation": "SN",
    "decoration": "fine",
    "rooms": 2,
    "property_type": "apartment",
}


class Api:
    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self._headers: dict[str, dict] = {}

    def headers(self, user: str) -> dict:
        if user not in self._headers:
            self._headers[user] = login(self.client, user)
        return self._headers[user]

    def get(self, user: str, path: str):
        return self.client.get(f"/api/v1/collateral{path}", headers=self.headers(user))

    def post(self, user: str, path: str, json=None):
        return self.client.post(f"/api/v1/collateral{path}", headers=self.headers(user), json=json)

    def session(self):
        return self.app.extensions["finedge"].session_factory()

    def valuations(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(Valuation))

    def property_of(self, rm: str, city: str = "苏州") -> int:
        """A property of one of ``rm``'s clients, registered directly."""
        now = utcnow()
        with self.session() as s:
            user = s.scalar(select(User).where(User.username == rm))
            org = s.scalar(select(Org).order_by(Org.id))
            prop = Property(
                code=f"P-{rm}-{now.timestamp()}",
                owner_org_id=org.id,
                owner_name="张三",
                rm_user_id=user.id,
                city=city,
                district="姑苏区",
                community="金色花园",
                address="姑苏区某路 1 号",
                area_m2=Decimal("120.00"),
                floor=3,
                total_floors=6,
                build_year=2005,
                orientation="S",
                decoration="simple",
                rooms=3,
                property_type="apartment",
                lat=None,
                lon=None,
                status="active",
                created_at=now,
                updated_at=now,
            )
            s.add(prop)
            s.commit()
            return prop.id


@pytest.fixture
def api(make_app, db_url) -> Api:
    return Api(make_app(db_url))


def test_a_valuation_is_201_with_range_blend_breakdown_and_is_logged(api: Api):
    """And the model registry: read by staff, promoted by admins only."""
    r = api.post("rm1", "/valuations", FACTS)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    value, low, high = (Decimal(body[k]) for k in ("value", "low", "high"))
    assert low < value < high and value > 100_000
    assert body["confidence"] in ("high", "medium", "low") and body["confidence_sd"] > 0
    assert abs(sum(body["blend"].values()) - 1) < 1e-3
    assert set(body["methods"]) == set(body["blend"])
    b = body["breakdown"]
    assert Decimal(b["base_price_per_m2"]) > 10_000
    assert [c["factor"] for c in b["corrections"]][:5] == [
        "floor",
        "orientation",
        "age",
        "area",
        "decoration",
    ]
    assert Decimal(b["base_value"]) + sum(
        Decimal(c["amount"]) for c in b["corrections"]
    ) == Decimal(b["comparison_value"])
    with api.session() as s:
        row = s.get(Valuation, body["id"])
        champion = s.scalar(select(AvmModel).where(AvmModel.status == "champion"))
        assert row.model_id == champion.id and body["model_id"] == champion.id
        assert row.inputs["area_m2"] == "89.50" and row.inputs["city"] == "杭州"
        assert row.purpose == "adhoc" and row.value == value
    # the log: rm1 sees it, rm2 does not
    assert api.get("rm1", f"/valuations/{body['id']}").status_code == 200
    assert api.get("rm2", f"/valuations/{body['id']}").status_code == 404
    listed = api.get("rm1", "/valuations").get_json()["items"]
    assert body["id"] in {v["id"] for v in listed}
    assert body["id"] not in {v["id"] for v in api.get("rm2", "/valuations").get_json()["items"]}
    # the registry
    models = api.get("rm1", "/models").get_json()["items"]
    assert len(models) == 1 and models[0]["status"] == "champion"
    model = api.get("approver1", f"/models/{models[0]['id']}").get_json()
    assert model["metrics"]["ensemble"]["n"] > 0 and model["metrics"]["baseline"]["n"] > 0
    assert len(model["data_hash"]) == 64 and model["trained_rows"] > 0
    assert "杭州" in model["feature_spec"]["coverage"]["cities"]
    for user in ("rm1", "approver1"):
        r = api.post(user, f"/models/{models[0]['id']}/promote")
        assert r.status_code == 403, r.get_json()
    assert api.get("dealer1", "/models").status_code == 403
    assert api.post("admin", "/models/999999/promote").status_code == 404
    r = api.post("admin", f"/models/{models[0]['id']}/promote")
    assert r.status_code == 200 and r.get_json()["status"] == "champion"
    # a challenger promoted: the old champion retired, the next valuation by the new one
    with api.session() as s:
        challenger = modelstore.register(s, SYSTEM, demo_model(), status="challenger")
        s.commit()
        challenger_id = challenger.id
    assert api.get("rm1", "/models?status=challenger").get_json()["items"][0]["id"] == (
        challenger_id
    )
    r = api.post("admin", f"/models/{challenger_id}/promote")
    assert r.status_code == 200 and r.get_json()["version"] == 2
    assert api.get("rm1", f"/models/{models[0]['id']}").get_json()["status"] == "retired"
    assert api.post("rm1", "/valuations", FACTS).get_json()["model_id"] == challenger_id


BAD = [
    ({"area_m2": "-80"}, "area_m2"),
    ({"area_m2": "0"}, "area_m2"),
    ({"area_m2": "1e30"}, "area_m2"),
    ({"area_m2": "NaN"}, "area_m2"),
    ({"area_m2": "lots"}, "area_m2"),
    ({"floor": 19}, "floor"),
    ({"floor": "five"}, "floor"),
    ({"build_year": 2999}, "build_year"),
    ({"city": "北京"}, "city"),
    ({"city": " \t "}, "city"),  # blank once stripped (was valued as "(all)" cities)
    ({"orientation": "NE"}, "orientation"),
    ({"decoration": "gold"}, "decoration"),
    ({"property_type": "castle"}, "property_type"),
    ({"colour": "red"}, "colour"),
    ({"area_m2": 1e308}, None),  # the strict JSON layer: number_out_of_range
    ({"rooms": 2**63}, None),
]


def test_bad_facts_are_400_with_details_and_nothing_is_logged(api: Api):
    for change, field in BAD:
        r = api.post("rm1", "/valuations", {**FACTS, **change})
        assert r.status_code == 400, (change, r.get_json())
        error = r.get_json()["error"]
        if field is not None:
            assert field in error["details"], (change, error)
    body = {k: v for k, v in FACTS.items() if k != "area_m2"}
    r = api.post("rm1", "/valuations", body)
    assert r.status_code == 400 and "area_m2" in r.get_json()["error"]["details"]
    # an unknown city says which cities the model covers
    r = api.post("approver1", "/valuations", {**FACTS, "city": "北京"})
    assert r.status_code == 400
    assert "杭州" in r.get_json()["error"]["details"]["city"][0]
    assert api.valuations() == 0
    # no model at all: 422 no_avm_model (bad facts are still 400)
    with api.session() as s:
        for model in s.scalars(select(AvmModel)):
            s.delete(model)
        s.commit()
    r = api.post("rm1", "/valuations", FACTS)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "no_avm_model"
    assert api.post("rm1", "/valuations", {**FACTS, "floor": 30}).status_code == 400


def test_a_registered_property_is_valued_by_its_rm_only(api: Api):
    prop_id = api.property_of("rm1")
    assert api.post("rm2", "/valuations", {"property_id": prop_id}).status_code == 404
    assert api.valuations() == 0
    r = api.post("rm1", "/valuations", {"property_id": prop_id})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["property_id"] == prop_id and body["purpose"] == "property"
    with api.session() as s:
        prop = s.get(Property, prop_id)
        assert prop.latest_valuation_id == body["id"]
        assert prop.latest_value == Decimal(body["value"])
        assert prop.latest_valued_at is not None
    # rm2 cannot read it, by id or by the property's filter; approvers can
    assert api.get("rm2", f"/valuations/{body['id']}").status_code == 404
    assert api.get("rm2", f"/valuations?property_id={prop_id}").status_code == 404
    assert api.get("approver1", f"/valuations/{body['id']}").status_code == 200
    mine = api.get("rm1", f"/valuations?property_id={prop_id}").get_json()["items"]
    assert [v["id"] for v in mine] == [body["id"]]
    # facts and a property together are refused
    r = api.post("rm1", "/valuations", {"property_id": prop_id, "city": "杭州"})
    assert r.status_code == 400
    # the client moves to rm2: its property's valuations go with it, rm1's own request too
    with api.session() as s:
        s.get(Property, prop_id).rm_user_id = s.scalar(
            select(User.id).where(User.username == "rm2")
        )
        s.commit()
    assert api.get("rm1", f"/valuations/{body['id']}").status_code == 404
    listed = api.get("rm1", "/valuations?limit=200").get_json()["items"]
    assert body["id"] not in {v["id"] for v in listed}
    assert api.get("rm2", f"/valuations/{body['id']}").status_code == 200


def test_a_batch_values_like_one_by_one_and_skips_what_fails(api: Api):
    first, second = api.property_of("rm1"), api.property_of("rm1")
    outside = api.property_of("rm1", city="北京")  # not covered by the champion
    other = api.property_of("rm2")
    single = api.post("rm1", "/valuations", {"property_id": first}).get_json()
    with api.session() as s:
        rm1 = identity.actor_for(s.scalar(select(User).where(User.username == "rm1")))
        with pytest.raises(NotFound):
            valuer.value_properties(s, rm1, [first, other])
        s.rollback()
        done, failed = valuer.value_properties(s, rm1, [first, second, outside])
        s.commit()
        assert [v.property_id for v in done] == [first, second]
        assert list(failed) == [outside] and "city" in failed[outside]
        assert done[0].value == Decimal(single["value"])  # the batch values as one by one
        assert done[0].breakdown["comparison_value"] == single["breakdown"]["comparison_value"]
        assert all(v.purpose == "revaluation" for v in done)
        assert s.get(Property, second).latest_valuation_id == done[1].id
        assert s.get(Property, outside).latest_valuation_id is None
