"""Pools: opened per enterprise org, and their figures recomputed from scratch in the
transaction of every change, on the pool row locked FOR UPDATE (so that concurrent changes to
one pool serialise; the ledger locks its accounts in id order after it).

``refresh`` re-checks every asset of the pool against the configuration in force (eligibility,
tier, haircut, value), reads the margin account's posted balance from the ledger and the
pool's outstanding bills, and stores capacity = Σ pledged value + margin cash × haircut −
outstanding. ``figures`` is the same computation without writing (the read side and the tests
compare them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import ledger
from backend.assetpool import accounts, risk_port, rules
from backend.assetpool.models import Asset, Movement, Pool, PoolBill
from backend.assetpool.service.config import InForce, in_force
from backend.identity.models import Org
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.permissions import ensure_role

ZERO = rules.ZERO


@dataclass(frozen=True)
class Figures:
    config_version: int
    pledged_value: Decimal
    margin_cash: Decimal
    margin_value: Decimal
    outstanding: Decimal
    capacity: Decimal


def open_pool(
    session: Session, actor: Actor, org_id: int | None = None, *, now: datetime | None = None
) -> Pool:
    """Open (or get) the pool of an enterprise org: the enterprise its own on first use, bank
    staff (rm, approver, admin) any enterprise's. Opens its ledger accounts."""
    now = now or utcnow()
    if actor.role == "enterprise":
        if org_id not in (None, actor.org_id):
            raise NotFound("enterprise not found", code="enterprise_not_found")
        org_id = actor.org_id
    else:
        ensure_role(actor, "rm", "approver")
    org = session.get(Org, org_id) if org_id is not None else None
    if org is None or org.kind != "enterprise":
        raise NotFound("enterprise not found", code="enterprise_not_found")
    pool = session.scalar(select(Pool).where(Pool.org_id == org.id))
    if pool is not None:
        return pool
    opened = accounts.open_enterprise_accounts(session, actor, org.id, org.name, now)
    force = in_force(session, now)
    pool = Pool(
        org_id=org.id,
        status="active",
        deposit_account_id=opened["deposit"].id,
        margin_account_id=opened["margin"].id,
        advance_account_id=opened["advance"].id,
        pledged_value=ZERO,
        margin_cash=ZERO,
        margin_value=ZERO,
        outstanding=ZERO,
        capacity=ZERO,
        config_version=force.version,
        computed_at=now,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(pool)
    session.flush()
    audit.record(
        session, actor, "assetpool.pool_opened", "ap_pool", pool.id, after={"org": org.code}
    )
    return pool


def lock_pool(session: Session, pool_id: int) -> Pool:
    return session.get(Pool, pool_id, with_for_update=True, populate_existing=True)


def _margin_cash(session: Session, pool: Pool) -> Decimal:
    return ledger.locked_balances(session, pool.margin_account_id)[pool.margin_account_id].posted


def _outstanding(session: Session, pool_id: int) -> Decimal:
    total = session.scalar(
        select(func.coalesce(func.sum(PoolBill.amount), 0)).where(
            PoolBill.pool_id == pool_id, PoolBill.status == "outstanding"
        )
    )
    return Decimal(total).quantize(rules.CENT) if total else ZERO


def live_assets(session: Session, pool_id: int) -> list[Asset]:
    return list(
        session.scalars(
            select(Asset)
            .where(Asset.pool_id == pool_id, Asset.status.in_(("held", "pledged")))
            .order_by(Asset.id)
        )
    )


def figures(
    session: Session, pool: Pool, force: InForce, today: date, assets: list[Asset] | None = None
) -> Figures:
    """The pool's figures computed from scratch (assets, ledger, bills); writes nothing."""
    pledged = ZERO
    for asset in assets if assets is not None else live_assets(session, pool.id):
        if asset.status == "pledged":
            e = rules.eligibility(
                force.values, asset.kind, asset.issuer_bank, asset.maturity_date, today
            )
            pledged += e.value(asset.amount)
    cash = _margin_cash(session, pool)
    outstanding = _outstanding(session, pool.id)
    margin_value, capacity = rules.capacity(
        pledged, cash, force.values["haircuts_bp"]["margin"], outstanding
    )
    return Figures(force.version, pledged, cash, margin_value, outstanding, capacity)


def refresh(session: Session, actor: Actor, pool: Pool, now: datetime) -> Figures:
    """Re-check every asset, store the figures on the (locked) pool row; records a
    ``pool_shortfall`` risk event, once a day, while the capacity is negative."""
    force = in_force(session, now)
    today = now.date()
    assets = live_assets(session, pool.id)
    for asset in assets:
        e = rules.eligibility(
            force.values, asset.kind, asset.issuer_bank, asset.maturity_date, today
        )
        value = e.value(asset.amount) if asset.status == "pledged" else ZERO
        if (asset.eligible, tuple(asset.reasons), asset.haircut_bp, asset.value) != (
            e.eligible,
            e.reasons,
            e.haircut_bp,
            value,
        ):
            asset.eligible, asset.reasons = e.eligible, list(e.reasons)
            asset.tier, asset.haircut_bp, asset.value = e.tier, e.haircut_bp, value
    f = figures(session, pool, force, today, assets)
    pool.pledged_value, pool.margin_cash, pool.margin_value = (
        f.pledged_value,
        f.margin_cash,
        f.margin_value,
    )
    pool.outstanding, pool.capacity, pool.config_version = (
        f.outstanding,
        f.capacity,
        f.config_version,
    )
    pool.computed_at = pool.updated_at = now
    pool.version += 1
    if f.capacity < 0 and pool.shortfall_on != today:
        pool.shortfall_on = today
        risk_port.record_shortfall(
            session,
            actor,
            org_id=pool.org_id,
            amount=-f.capacity,
            source_time=now,
            external_id=f"ap:shortfall:{pool.id}:{today.isoformat()}",
        )
        audit.record(
            session,
            actor,
            "assetpool.shortfall",
            "ap_pool",
            pool.id,
            after={"capacity": f.capacity, "config_version": f.config_version},
        )
    return f


def refresh_all(session: Session, actor: Actor, *, now: datetime) -> dict:
    """Recompute every pool (a configuration change, the daily job); counts shortfalls."""
    ids = list(session.scalars(select(Pool.id).order_by(Pool.id)))
    short = 0
    for pool_id in ids:
        pool = lock_pool(session, pool_id)
        if refresh(session, actor, pool, now).capacity < 0:
            short += 1
    return {"pools": len(ids), "short": short}


def move(
    session: Session, pool: Pool, kind: str, amount: Decimal, reference: str, now: datetime
) -> Movement:
    """One statement line; ``capacity_after`` is filled by ``settle``."""
    line = Movement(
        pool_id=pool.id, at=now, kind=kind, amount=amount, reference=reference, capacity_after=ZERO
    )
    session.add(line)
    session.flush()
    return line


def settle(session: Session, actor: Actor, pool: Pool, lines: list[Movement], now: datetime):
    """Recompute the pool after a change and stamp the change's statement lines."""
    f = refresh(session, actor, pool, now)
    for line in lines:
        line.capacity_after = f.capacity
    return f
