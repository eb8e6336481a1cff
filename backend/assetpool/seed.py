"""Demo pools (idempotent, through the services): CORE1, CORE2 and SUPP01..SUPP05 each get a
pool, money in their deposit account, a few e-bills and e-deposit certificates (most pledged)
and some margin cash; one bill is issued from CORE1's pool. A pool that already holds assets
is left as it is; configuration version 1 is the defaults."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.assetpool import service
from backend.assetpool.models import Asset, Pool, PoolBill, PoolConfig
from backend.identity.models import Org, User
from backend.identity.service import actor_for
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM, Actor

ORGS = ("CORE1", "CORE2", *(f"SUPP{i:02d}" for i in range(1, 6)))
BANKS = ("ICBC", "CMB", "NBCB", "CCB", "CITIC")


def _actor(session: Session, org_id: int) -> Actor:
    user = session.scalar(
        select(User).where(User.org_id == org_id, User.role == "enterprise").order_by(User.id)
    )
    return actor_for(user) if user is not None else SYSTEM


def seed_assetpool(session: Session, options) -> dict:
    started = time.perf_counter()
    now = utcnow()
    if session.scalar(select(PoolConfig.id).limit(1)) is None:
        service.change_config(session, SYSTEM, {}, note="demo defaults", now=now)
    seeded = 0
    for n, code in enumerate(ORGS):
        org = session.scalar(select(Org).where(Org.code == code))
        if org is None:
            continue
        pool = service.open_pool(session, SYSTEM, org.id, now=now)
        if session.scalar(select(Asset.id).where(Asset.pool_id == pool.id).limit(1)):
            continue
        who = _actor(session, org.id)
        scale = Decimal(4 if code.startswith("CORE") else 1)
        service.deposit_cash(session, SYSTEM, pool.id, Decimal("2000000.00") * scale, now=now)
        for i in range(3):
            service.enter_asset(
                session,
                who,
                pool.id,
                kind="ebill",
                number=f"EB{n + 1:02d}{i + 1:04d}{org.id:06d}",
                issuer_bank=BANKS[(n + i) % len(BANKS)],
                amount=Decimal("500000.00") * scale * (i + 1),
                maturity_date=(now + timedelta(days=40 + 60 * i + 7 * n)).date(),
                pledge=i < 2,
                now=now,
            )
        service.enter_asset(
            session,
            who,
            pool.id,
            kind="edeposit",
            number=f"CD{n + 1:02d}{org.id:06d}",
            issuer_bank="ICBC" if n % 2 else "CMB",
            amount=Decimal("1000000.00") * scale,
            maturity_date=(now + timedelta(days=120 + 10 * n)).date(),
            pledge=True,
            now=now,
        )
        service.pay_in_margin(session, who, pool.id, Decimal("200000.00") * scale, now=now)
        seeded += 1
    core1 = session.scalar(select(Pool).join(Org, Org.id == Pool.org_id).where(Org.code == "CORE1"))
    if (
        core1 is not None
        and session.scalar(select(PoolBill.id).where(PoolBill.pool_id == core1.id).limit(1)) is None
    ):
        service.accept_bill(
            session,
            _actor(session, core1.org_id),
            core1.id,
            payee="SUPP01 Demo Supplier Co.",
            amount=Decimal("1500000.00"),
            maturity_date=(now + timedelta(days=90)).date(),
            now=now,
        )
    return {
        "assetpool": {"pools_seeded": seeded, "seconds": round(time.perf_counter() - started, 2)}
    }
