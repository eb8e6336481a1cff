"""The asset pool's jobs, on SQLite and PostgreSQL: matured assets roll into margin cash (or
the deposit), bills due are paid (margin cash, deposit, then a bank advance with a
``pool_shortfall`` risk event), and a capacity turned negative by a configuration change is
told to risk once a day per pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend import ledger
from backend.assetpool import jobs, rules, service
from backend.assetpool.models import Asset, Pool, PoolBill
from backend.identity.models import Org
from backend.platform.context import SYSTEM, Actor
from backend.platform.db import session_scope
from backend.platform.ports import RiskEvents
from backend.seed import seed_identity
from tests.integration.test_assetpool_support import recomputed
from tests.wiring import runtime_for

T0 = datetime(2031, 3, 2, 8, 0, tzinfo=UTC)


class Events(list):
    def record_internal_event(self, session, actor, **kw):
        self.append(kw)


@pytest.fixture
def rig(db_url):
    events = Events()
    runtime = runtime_for(db_url, ports={RiskEvents: events})
    factory = runtime.session_factory
    with session_scope(factory) as s:
        seed_identity(s, None)
        service.change_config(s, SYSTEM, rules.DEFAULT_CONFIG, now=T0)
        org = s.scalar(select(Org).where(Org.code == "SUPP03"))
        pool = service.open_pool(s, SYSTEM, org.id, now=T0)
        actor = Actor(user_id=None, username="ent", role="enterprise", org_id=org.id)
        ids = {"pool": pool.id, "org": org.id}
    yield factory, events, actor, ids
    runtime.stop()


def _enter(s, actor, pool_id, number, amount, days, *, pledge=True, bank="ICBC"):
    return service.enter_asset(
        s,
        actor,
        pool_id,
        kind="ebill",
        number=number,
        issuer_bank=bank,
        amount=amount,
        maturity_date=(T0 + timedelta(days=days)).date(),
        pledge=pledge,
        now=T0,
    ).id


def _check(factory, now) -> None:
    with factory() as s:
        assert ledger.verify(s).ok
        for pool in s.scalars(select(Pool)):
            assert pool.capacity == recomputed(s, pool, now)


def test_assets_mature_into_margin_and_bills_are_paid(rig):
    factory, events, actor, ids = rig
    p = ids["pool"]
    with session_scope(factory) as s:
        service.deposit_cash(s, SYSTEM, p, "1000.00", now=T0)
        pledged = _enter(s, actor, p, "JOB0001", "50000.00", 20)
        held = _enter(s, actor, p, "JOB0002", "3000.00", 20, pledge=False)
        bill = service.accept_bill(
            s,
            actor,
            p,
            payee="payee",
            amount="40000.00",
            maturity_date=(T0 + timedelta(days=30)).date(),
            now=T0,
        ).id
    day20 = T0 + timedelta(days=20)
    with session_scope(factory) as s:
        result = jobs.asset_maturity(s, day20)
    assert result["matured"] == 2
    with factory() as s:
        pool = s.get(Pool, p)
        assert pool.margin_cash == Decimal("50000.00")  # the pledged bill's face, as cash
        assert s.get(Asset, pledged).status == s.get(Asset, held).status == "matured"
        deposit = ledger.balance_of(s.get(ledger.Account, pool.deposit_account_id))
        assert deposit.posted == Decimal("1000.00") - Decimal("20.00") + Decimal("3000.00")
        assert pool.capacity == Decimal("10000.00")
    _check(factory, day20)
    day30 = T0 + timedelta(days=30)
    with session_scope(factory) as s:
        assert jobs.bill_maturity(s, day30) == {"paid": 1, "advanced": 0}
    with factory() as s:
        paid = s.get(PoolBill, bill)
        assert paid.status == "paid" and paid.paid_from_margin == Decimal("40000.00")
        assert s.get(Pool, p).margin_cash == Decimal("10000.00")
    with session_scope(factory) as s:  # a second run pays nothing twice
        assert jobs.bill_maturity(s, day30) == {"paid": 0, "advanced": 0}
    _check(factory, day30)
    assert events == []


def test_a_short_bill_is_advanced_and_told_to_risk(rig):
    factory, events, actor, ids = rig
    p = ids["pool"]
    with session_scope(factory) as s:
        service.deposit_cash(s, SYSTEM, p, "100.00", now=T0)
        _enter(s, actor, p, "JOB0101", "10000.00", 90)
        bill = service.accept_bill(
            s,
            actor,
            p,
            payee="x",
            amount="9000.00",
            maturity_date=(T0 + timedelta(days=10)).date(),
            now=T0,
        ).id
    day10 = T0 + timedelta(days=10)
    with session_scope(factory) as s:
        assert jobs.bill_maturity(s, day10) == {"paid": 1, "advanced": 1}
    with factory() as s:
        paid = s.get(PoolBill, bill)
        # the deposit paid what it had after the fee (100.00 − 4.50), the bank the rest
        assert paid.paid_from_deposit == Decimal("95.50")
        assert paid.advanced == Decimal("8904.50")
        advance = ledger.balance_of(s.get(ledger.Account, s.get(Pool, p).advance_account_id))
        assert advance.posted == Decimal("8904.50")
    assert [(e["kind"], e["data"]["amount"], e["org_id"]) for e in events] == [
        ("pool_shortfall", "8904.50", ids["org"])
    ]
    _check(factory, day10)


def test_a_negative_capacity_is_told_once_a_day(rig):
    factory, events, actor, ids = rig
    p = ids["pool"]
    with session_scope(factory) as s:
        service.deposit_cash(s, SYSTEM, p, "100.00", now=T0)
        _enter(s, actor, p, "JOB0201", "10000.00", 90, bank="NBCB")  # tier other: 90 %
        service.accept_bill(
            s,
            actor,
            p,
            payee="x",
            amount="9000.00",
            maturity_date=(T0 + timedelta(days=60)).date(),
            now=T0,
        )
    with session_scope(factory) as s:  # the bank cuts the small banks' haircut to 50 %
        hc = {
            **rules.DEFAULT_CONFIG["haircuts_bp"],
            "ebill": {"state": 10000, "joint_stock": 9500, "other": 5000},
        }
        service.change_config(s, SYSTEM, {"haircuts_bp": hc}, now=T0 + timedelta(hours=1))
    with factory() as s:
        assert s.get(Pool, p).capacity == Decimal("-4000.00")
    assert [e["data"]["amount"] for e in events] == ["4000.00"]
    for hours in (2, 5):  # the same day: nothing more
        with session_scope(factory) as s:
            jobs.asset_maturity(s, T0 + timedelta(hours=hours))
    assert len(events) == 1
    with session_scope(factory) as s:  # the next day: told again
        jobs.asset_maturity(s, T0 + timedelta(days=1))
    assert len(events) == 2 and events[0]["external_id"] != events[1]["external_id"]
    _check(factory, T0 + timedelta(days=1))
