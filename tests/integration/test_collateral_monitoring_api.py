"""Collateral monitoring over HTTP on both databases: rm2 does not see rm1's credits' LTV or
alerts (404 / filtered), a loan's outstanding reported (idempotent by value, audited), bad
input on outstanding and on the sales import (400 with details, nothing changed)."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.collateral.models import CreditLink, MarketSale
from backend.platform.audit import AuditRecord
from tests.api_client import ApiClient
from tests.integration.collateral_monitoring_support import add_property, link

BASE = "/api/v1/collateral"


class Api(ApiClient):
    def call(self, method: str, user: str, path: str, json=None, raw=None, headers=None):
        h = {**self.headers(user), **(headers or {})}
        if raw is not None:
            h["Content-Type"] = "application/json"
            return self.client.open(f"{BASE}{path}", method=method, data=raw, headers=h)
        return self.client.open(f"{BASE}{path}", method=method, json=json, headers=h)

    def session(self):
        return self.app.extensions["finedge"].session_factory()


@pytest.fixture
def api(make_app, db_url):
    from backend.seed import seed_identity

    app = make_app(db_url, seeded=False)  # orgs and users are all these tests need
    api = Api(app)
    with api.session() as s:
        seed_identity(s, None)
        p1 = add_property(s, value="1000000.00", rm="rm1")
        p2 = add_property(s, value="1000000.00", rm="rm2", owner="CORE2")
        api.rm1_loan = link(s, p1, "API-LOAN-1", outstanding="850000.00").id
        api.rm2_loan = link(s, p2, "API-LOAN-2", outstanding="950000.00", borrower="CORE2").id
        s.commit()
    return api


SALE = {
    "source_ref": "S-1",
    "city": "Hangzhou",
    "district": "Xihu",
    "community": "Garden A",
    "area_m2": 89.5,
    "floor": 5,
    "total_floors": 18,
    "build_year": 2012,
    "orientation": "S",
    "decoration": "fine",
    "rooms": 3,
    "property_type": "apartment",
    "price": "1790000.00",
    "sale_date": "2026-10-15",
}


def test_rm2_does_not_see_rm1s_credits_or_alerts(api):
    r = api.call("PUT", "rm1", f"/credits/{api.rm1_loan}/outstanding", {"outstanding": "860000.00"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["ltv_bp"] == 8600 and r.get_json()["ltv_level"] == "alarm"
    r = api.call("PUT", "rm2", f"/credits/{api.rm2_loan}/outstanding", {"outstanding": "960000.00"})
    assert r.status_code == 200 and r.get_json()["ltv_level"] == "block"
    for user, mine, theirs in (
        ("rm1", api.rm1_loan, api.rm2_loan),
        ("rm2", api.rm2_loan, api.rm1_loan),
    ):
        assert api.call("GET", user, f"/ltv/{mine}").status_code == 200
        r = api.call("GET", user, f"/ltv/{theirs}")
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "credit_not_found"
        r = api.call("PUT", user, f"/credits/{theirs}/outstanding", {"outstanding": "1.00"})
        assert r.status_code == 404
        listed = api.call("GET", user, "/ltv?over=true").get_json()["items"]
        assert [x["id"] for x in listed] == [mine]
        assert listed[0]["rm_username"] == user
        dist = api.call("GET", user, "/ltv/distribution").get_json()
        assert dist["credits"] == 1
    both = {x["id"] for x in api.call("GET", "approver1", "/ltv?over=true").get_json()["items"]}
    assert both == {api.rm1_loan, api.rm2_loan}
    for outsider in ("client1", "core1", "dealer1"):
        assert api.call("GET", outsider, "/ltv").status_code == 403
        assert api.call("GET", outsider, f"/ltv/{api.rm1_loan}").status_code == 404


def test_outstanding_is_idempotent_by_value_and_audited(api):
    path = f"/credits/{api.rm1_loan}/outstanding"
    for _ in range(3):
        r = api.call("PUT", "rm1", path, {"outstanding": "700000.00"})
        assert r.status_code == 200 and r.get_json()["outstanding"] == "700000.00"
    with api.session() as s:
        n = s.scalar(
            select(func.count()).where(AuditRecord.action == "collateral.outstanding_reported")
        )
    assert n == 1


BAD_OUTSTANDING = [
    '{"outstanding": "-1.00"}',
    '{"outstanding": NaN}',
    '{"outstanding": 1e308}',
    '{"outstanding": 1.5}',
    '{"outstanding": "1.234"}',
    '{"outstanding": 9223372036854775808}',
    '{"outstanding": "abc"}',
    '{"outstanding": "100.00", "extra": 1}',
    "{}",
]


def test_bad_outstanding_is_400_and_changes_nothing(api):
    for body in BAD_OUTSTANDING:
        r = api.call("PUT", "rm1", f"/credits/{api.rm1_loan}/outstanding", raw=body)
        assert r.status_code == 400, (body, r.get_json())
        error = r.get_json()["error"]
        assert error["details"] or error["code"] != "validation_error", body
    with api.session() as s:
        assert s.get(CreditLink, api.rm1_loan).outstanding == Decimal("850000.00")
        assert not s.scalar(
            select(func.count()).where(AuditRecord.action == "collateral.outstanding_reported")
        )


def test_unknown_and_huge_ids(api):
    assert api.call("GET", "admin", "/ltv/999999").status_code == 404
    r = api.call(
        "PUT", "admin", "/credits/99999999999999999999/outstanding", {"outstanding": "1.00"}
    )
    assert r.status_code == 400
    assert api.call("GET", "admin", "/revaluations/424242").status_code == 404


def bad_sales():
    cases = {
        "negative area": {"area_m2": -5},
        "floor above total": {"floor": 30},
        "NaN price": {"price": "NaN"},
        "float price": {"price": 1790000.5},
        "negative price": {"price": "-1.00"},
        "huge price": {"price": "1" + "0" * 20 + ".00"},
        "future sale": {"sale_date": "2099-01-01"},
        "build year ahead of sale": {"build_year": 2027},
        "unknown orientation": {"orientation": "up"},
        "string floor": {"floor": "five"},
        "huge int": {"rooms": 2**63},
        "missing city": {"city": None},
        "unknown field": {"asking_price": "1.00"},
    }
    for name, change in cases.items():
        sale = {**copy.deepcopy(SALE), **change}
        if change.get("city", 1) is None:
            sale.pop("city")
        yield name, sale


def test_bad_sales_are_400_and_nothing_is_imported(api):
    good = {**SALE, "source_ref": "S-GOOD"}
    for name, sale in bad_sales():
        r = api.call("POST", "rm1", "/sales", {"sales": [good, sale]})
        assert r.status_code == 400, (name, r.get_json())
        assert r.get_json()["error"]["details"], name
    with api.session() as s:
        assert s.scalar(select(func.count()).select_from(MarketSale)) == 0


def test_sales_import_is_idempotent_by_source_ref(api):
    batch = {"sales": [SALE, {**SALE, "source_ref": "S-2", "price": "1800000.00"}]}
    r = api.call("POST", "rm1", "/sales", batch)
    assert r.status_code == 201 and r.get_json() == {
        "received": 2,
        "imported": 2,
        "already_known": 0,
    }
    r = api.call("POST", "approver1", "/sales", batch)
    assert r.get_json() == {"received": 2, "imported": 0, "already_known": 2}
    assert api.call("POST", "client1", "/sales", batch).status_code == 403
    assert api.call("POST", "rm1", "/sales", {"sales": [SALE, SALE]}).status_code == 400
    assert api.call("POST", "rm1", "/sales", {"sales": []}).status_code == 400


def test_an_approver_revalues_the_book_with_the_champion(api):
    """Through the API with the AVM's demo champion: every active property valued once in the
    run, then its credits' LTV; the same run key again values nothing; an RM may not start it."""
    from backend.collateral import modelstore
    from backend.collateral.models import Property, Valuation
    from backend.collateral.seed import demo_model
    from backend.platform.context import SYSTEM

    with api.session() as s:
        modelstore.register(s, SYSTEM, demo_model(1000), status="champion")
        for prop in s.scalars(select(Property)):  # in the generated market's communities
            prop.city, prop.district, prop.community = "杭州", "上城区", "西御家园"
        s.commit()
    assert api.call("POST", "rm1", "/revaluations", {}).status_code == 403
    r = api.call("POST", "approver1", "/revaluations", {"run_key": "api-1"})
    assert r.status_code == 200, r.get_json()
    run = r.get_json()
    assert (run["status"], run["done"], run["total"]) == ("done", 2, 2)
    assert run["summary"]["failed"] == [] and run["summary"]["ltv"]["credits"] == 2
    again = api.call("POST", "admin", "/revaluations", {"run_key": "api-1"}).get_json()
    assert again["id"] == run["id"] and again["done"] == 2
    got = api.call("GET", "rm1", f"/revaluations/{run['id']}").get_json()
    assert got["status"] == "done"
    with api.session() as s:
        assert s.scalar(select(func.count()).select_from(Valuation)) == 2
        values = [p.latest_value for p in s.scalars(select(Property))]
    assert all(v is not None and v > 0 for v in values)
    mine = api.call("GET", "rm1", f"/ltv/{api.rm1_loan}").get_json()
    assert mine["property_value"] == f"{values[0]:.2f}" or mine["ltv_bp"] is not None
    assert api.call("GET", "client1", "/revaluations").status_code == 403
