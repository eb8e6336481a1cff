"""Helpers and fixtures shared by the asset-pool tests (imported by the other test_assetpool_*
modules), plus a check of the demo seed."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.assetpool import rules
from backend.assetpool.models import Asset, Movement, Pool, PoolBill
from backend.assetpool.service.config import in_force
from backend.identity.models import Org, User
from backend.identity.service import actor_for
from backend.models import metadata
from backend.platform.clock import utcnow
from tests.api_client import ApiClient

_numbers = itertools.count(1)


def new_number(prefix: str = "TB") -> str:
    return f"{prefix}{next(_numbers):010d}"


def in_days(n: int) -> str:
    return (utcnow() + timedelta(days=n)).date().isoformat()


class Api(ApiClient):
    def get(self, user: str, path: str, **kw):
        return self.client.get(f"/api/v1/assetpool{path}", headers=self.headers(user), **kw)

    def post(self, user: str, path: str, json=None, headers=None, **kw):
        h = {**self.headers(user), **(headers or {})}
        return self.client.post(f"/api/v1/assetpool{path}", json=json or {}, headers=h, **kw)

    def ok(self, response, status: int = 200) -> dict:
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def session(self):
        return self.app.extensions["finedge"].session_factory()

    def org_id(self, code: str) -> int:
        with self.session() as s:
            return s.scalar(select(Org.id).where(Org.code == code))

    def pool_of(self, code: str) -> int:
        with self.session() as s:
            return s.scalar(
                select(Pool.id).join(Org, Org.id == Pool.org_id).where(Org.code == code)
            )

    def actor(self, username: str):
        with self.session() as s:
            return actor_for(s.scalar(select(User).where(User.username == username)))


@pytest.fixture
def api(app) -> Api:
    return Api(app)


@pytest.fixture
def pg_or_sqlite_api(make_app, db_url) -> Api:
    return Api(make_app(db_url))


def recomputed(s, pool: Pool, now) -> Decimal:
    """The capacity computed from scratch here, independently of the service's code: assets
    under the configuration in force, the ledger's margin balance, the unpaid bills."""
    config = in_force(s, now).values
    pledged = rules.ZERO
    for a in s.scalars(select(Asset).where(Asset.pool_id == pool.id, Asset.status == "pledged")):
        e = rules.eligibility(config, a.kind, a.issuer_bank, a.maturity_date, now.date())
        if e.eligible:
            pledged += (a.amount * e.haircut_bp / 10000).quantize(Decimal("0.01"), "ROUND_DOWN")
    cash = ledger.balance_of(s.get(ledger.Account, pool.margin_account_id)).posted
    margin = (max(cash, 0) * config["haircuts_bp"]["margin"] / 10000).quantize(
        Decimal("0.01"), "ROUND_DOWN"
    )
    bills = s.scalar(
        select(func.coalesce(func.sum(PoolBill.amount), 0)).where(
            PoolBill.pool_id == pool.id, PoolBill.status == "outstanding"
        )
    )
    return pledged + margin - Decimal(bills or 0).quantize(Decimal("0.01"))


def assert_pools_consistent(session_factory, now=None) -> None:
    """`finedge ledger verify` and every pool's stored capacity equals a recomputation."""
    now = now or utcnow()
    with session_factory() as s:
        report = ledger.verify(s)
        assert report.ok, report.to_dict()
        for pool in s.scalars(select(Pool)):
            assert pool.capacity == recomputed(s, pool, now), pool.id


def snapshot(session_factory) -> dict:
    """Row counts of the pool, ledger and audit tables and every ledger balance and pool."""
    with session_factory() as s:
        counts = {
            t.name: s.scalar(select(func.count()).select_from(t))
            for t in metadata.sorted_tables
            if t.name.startswith(("ap_", "ledger_", "risk_")) or t.name == "audit_records"
        }
        balances = sorted(
            (a.code, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
            for a in s.scalars(select(ledger.Account))
        )
        pools = sorted((p.id, p.capacity, p.version) for p in s.scalars(select(Pool)))
        assets = sorted((a.id, a.status) for a in s.scalars(select(Asset)))
    return {"counts": counts, "balances": balances, "pools": pools, "assets": assets}


def test_demo_seed_pools_and_bill(api: Api):
    """Seven demo pools with assets and margin, one bill from CORE1's, the books balance and
    the seeder changes nothing when run again."""
    core1 = api.pool_of("CORE1")
    with api.session() as s:
        codes = set(s.scalars(select(Org.code).join(Pool, Pool.org_id == Org.id)))
        assert {"CORE1", "CORE2", "SUPP01", "SUPP05"} <= codes and len(codes) == 7
        bills = list(s.scalars(select(PoolBill)))
        assert len(bills) == 1 and bills[0].pool_id == core1
        assert s.scalar(select(func.count()).select_from(Movement)) > 0
    assert_pools_consistent(api.session)
    from backend.assetpool.seed import seed_assetpool
    from backend.platform.db import session_scope
    from backend.platform.seeding import SeedOptions

    before = snapshot(api.session)
    with session_scope(api.app.extensions["finedge"].session_factory) as s:
        seed_assetpool(s, SeedOptions(progress=False))
    assert snapshot(api.session) == before
