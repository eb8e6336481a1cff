"""Concurrent acceptances on one pool serialise on the locked pool row: of four bills of 40 % of
the capacity each, sent at once from four sessions, exactly two are accepted, the capacity
never goes below zero and equals a recomputation (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from backend.assetpool import rules, service
from backend.assetpool.models import Pool, PoolBill
from backend.identity.models import Org
from backend.platform.context import SYSTEM, Actor
from backend.platform.db import session_scope
from backend.platform.errors import DomainError
from backend.seed import seed_identity
from tests.integration.test_assetpool_support import assert_pools_consistent
from tests.wiring import runtime_for

T0 = datetime(2032, 5, 3, 10, 0, tzinfo=UTC)


def test_concurrent_acceptances_serialise(db_url):
    runtime = runtime_for(db_url)
    factory = runtime.session_factory
    try:
        with session_scope(factory) as s:
            seed_identity(s, None)
            service.change_config(s, SYSTEM, rules.DEFAULT_CONFIG, now=T0)
            org = s.scalar(select(Org).where(Org.code == "SUPP04"))
            pool = service.open_pool(s, SYSTEM, org.id, now=T0)
            actor = Actor(user_id=None, username="ent", role="enterprise", org_id=org.id)
            service.deposit_cash(s, SYSTEM, pool.id, "1000.00", now=T0)
            service.enter_asset(
                s,
                actor,
                pool.id,
                kind="edeposit",
                number="CONC0001",
                issuer_bank="ICBC",
                amount="10000.00",
                maturity_date=(T0 + timedelta(days=100)).date(),
                pledge=True,
                now=T0,
            )
            pool_id = pool.id
        barrier = threading.Barrier(4)
        outcomes: list[str] = []

        def accept(i: int) -> None:
            barrier.wait()
            try:
                with session_scope(factory) as s:
                    service.accept_bill(
                        s,
                        actor,
                        pool_id,
                        payee=f"p{i}",
                        amount="4000.00",
                        maturity_date=(T0 + timedelta(days=30)).date(),
                        now=T0,
                    )
                outcomes.append("ok")
            except DomainError as exc:
                outcomes.append(exc.code)

        threads = [threading.Thread(target=accept, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert sorted(outcomes) == ["insufficient_capacity"] * 2 + ["ok"] * 2
        with factory() as s:
            assert s.get(Pool, pool_id).capacity == Decimal("2000.00")
            assert len(list(s.scalars(select(PoolBill).where(PoolBill.pool_id == pool_id)))) == 2
        assert_pools_consistent(factory, T0)
    finally:
        runtime.stop()
