"""Helpers shared by the collateral registry tests (imported by the other
test_collateral_registry_* modules)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from backend.factoring.models import Agreement
from backend.floorplan.models import CreditLine
from backend.identity.models import Org, User
from backend.platform.audit import AuditRecord
from tests.api_client import ApiClient

_codes = itertools.count(1)

FACTS = {
    "city": "杭州",  # a city of the demo champion's generated market
    "district": "西湖区",
    "community": "测试花园",
    "address": "1 Test Road, unit 1-101",
    "area_m2": "89.50",
    "floor": 7,
    "total_floors": 18,
    "build_year": 2012,
    "orientation": "S",
    "decoration": "fine",
    "rooms": 3,
    "property_type": "apartment",
}


class Api(ApiClient):
    """A test client on /api/v1/collateral that logs demo users in once and speaks JSON."""

    base = "/api/v1/collateral"

    def get(self, user: str, path: str, **kw):
        return self.client.get(f"{self.base}{path}", headers=self.headers(user), **kw)

    def post(self, user: str, path: str, json=None, headers=None, **kw):
        h = {**self.headers(user), **(headers or {})}
        return self.client.post(f"{self.base}{path}", json=json or {}, headers=h, **kw)

    def patch(self, user: str, path: str, json=None, **kw):
        return self.client.patch(f"{self.base}{path}", json=json, headers=self.headers(user), **kw)

    def ok(self, response, status: int = 200) -> dict:
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def error(self, response, status: int) -> str:
        assert response.status_code == status, response.get_json()
        return response.get_json()["error"]["code"]

    def session(self):
        return self.app.extensions["finedge"].session_factory()

    def org_id(self, code: str) -> int:
        with self.session() as s:
            return s.scalar(select(Org.id).where(Org.code == code))

    def user_id(self, username: str) -> int:
        with self.session() as s:
            return s.scalar(select(User.id).where(User.username == username))

    def line_id(self, dealer: str) -> str:
        with self.session() as s:
            org = self.org_id(dealer)
            return str(s.scalar(select(CreditLine.id).where(CreditLine.dealer_org_id == org)))

    def agreement_code(self, core: str = "CORE1") -> str:
        with self.session() as s:
            org = self.org_id(core)
            return s.scalar(
                select(Agreement.code).where(
                    Agreement.core_org_id == org, Agreement.status == "active"
                )
            )

    def register(self, user: str = "rm1", owner: str = "DEALER1", **over) -> dict:
        body = {**FACTS, "owner_org_id": self.org_id(owner), **over}
        body.setdefault("code", f"TCOL-{next(_codes):06d}")
        return self.ok(self.post(user, "/properties", body), 201)

    def counts(self) -> dict:
        """Rows of every registry table and the audit records of the area: what "nothing
        changed" compares."""
        from backend.collateral import models as m

        with self.session() as s:
            rows = {
                t.__tablename__: s.scalar(select(func.count()).select_from(t))
                for t in (m.Property, m.CreditLink, m.MortgageRegistration, m.PropertyDocument)
            }
            rows["audit"] = s.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.action.like("collateral.%"))
            )
            return rows


@pytest.fixture
def api(app) -> Api:
    return Api(app)


@pytest.fixture
def pg_or_sqlite_api(make_app, db_url) -> Api:
    return Api(make_app(db_url))
