"""The asset pool's read side: pools, assets, bills, the configuration versions, the maturity
ladder and the statement. Every function checks that the caller may see the pool (404)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.assetpool import access, rules
from backend.assetpool.models import Asset, Movement, Pool, PoolBill, PoolConfig
from backend.assetpool.service.config import InForce, in_force
from backend.identity.models import Org
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import NotFound, ValidationFailed
from backend.platform.pagination import Page, paginate

get_pool = access.get_pool


def list_pools(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    stmt = access.scope(select(Pool), Pool.org_id, actor)
    page = paginate(session, stmt, Pool.id, limit=limit, cursor=cursor)
    names = org_codes(session, [p.org_id for p in page.items])
    for pool in page.items:  # shown with the list (not columns: read-side attributes)
        pool.org_code, pool.org_name = names[pool.org_id]
    return page


def org_codes(session: Session, org_ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = session.execute(select(Org.id, Org.code, Org.name).where(Org.id.in_(org_ids)))
    return {i: (code, name) for i, code, name in rows}


def pool_detail(session: Session, actor: Actor, pool_id: int) -> dict:
    """The stored figures, the enterprise's deposit and the configuration in force."""
    pool = get_pool(session, actor, pool_id)
    deposit = ledger.balance_of(session.get(ledger.Account, pool.deposit_account_id))
    force = in_force(session, utcnow())
    code, name = org_codes(session, [pool.org_id])[pool.org_id]
    return {
        "pool": pool,
        "org_code": code,
        "org_name": name,
        "deposit_available": deposit.available,
        "config_in_force": force.version,
    }


def _listed(session, actor, pool_id, model, status, limit, cursor, descending=False) -> Page:
    get_pool(session, actor, pool_id)
    stmt = select(model).where(model.pool_id == pool_id)
    if status:
        stmt = stmt.where(model.status == status)
    return paginate(session, stmt, model.id, limit=limit, cursor=cursor, descending=descending)


def _one(session, actor, pool_id: int, model, object_id: int, what: str):
    get_pool(session, actor, pool_id)
    found = session.get(model, object_id)
    if found is None or found.pool_id != pool_id:
        raise NotFound(f"{what} not found", code=f"{what}_not_found")
    return found


def list_assets(
    session: Session,
    actor: Actor,
    pool_id: int,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    return _listed(session, actor, pool_id, Asset, status, limit, cursor)


def get_asset(session: Session, actor: Actor, pool_id: int, asset_id: int) -> Asset:
    return _one(session, actor, pool_id, Asset, asset_id, "asset")


def list_bills(
    session: Session,
    actor: Actor,
    pool_id: int,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Newest first."""
    return _listed(session, actor, pool_id, PoolBill, status, limit, cursor, descending=True)


def get_bill(session: Session, actor: Actor, pool_id: int, bill_id: int) -> PoolBill:
    return _one(session, actor, pool_id, PoolBill, bill_id, "bill")


def list_config_versions(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    return paginate(
        session, select(PoolConfig), PoolConfig.version, limit=limit, cursor=cursor, descending=True
    )


def config_in_force(session: Session, actor: Actor) -> InForce:
    return in_force(session, utcnow())


def ladder(
    session: Session,
    actor: Actor,
    pool_id: int,
    *,
    granularity: str = "week",
    periods: int = 12,
    now: datetime | None = None,
) -> dict:
    """Capacity by week or month ahead as pledged assets mature (into margin cash) and bills
    fall due (paid from it), under the configuration in force, if nothing else changes."""
    now = now or utcnow()
    pool = get_pool(session, actor, pool_id)
    force = in_force(session, now)
    assets = [
        rules.LadderAsset(a.amount, a.kind, a.issuer_bank, a.maturity_date)
        for a in session.scalars(
            select(Asset).where(Asset.pool_id == pool.id, Asset.status == "pledged")
        )
    ]
    bills = [
        rules.LadderBill(b.amount - b.margin, b.maturity_date)
        for b in session.scalars(
            select(PoolBill).where(PoolBill.pool_id == pool.id, PoolBill.status == "outstanding")
        )
    ]
    cash = ledger.balance_of(session.get(ledger.Account, pool.margin_account_id)).posted
    today = now.date()
    points = [rules.project(force.values, assets, bills, cash, today)]
    points += [
        rules.project(force.values, assets, bills, cash, day)
        for day in rules.bucket_ends(today, granularity, periods)
    ]
    return {
        "pool_id": pool.id,
        "granularity": granularity,
        "config_version": force.version,
        "points": points,
    }


def _bounds(date_from: date | None, date_to: date | None) -> tuple[datetime, datetime]:
    start = datetime.combine(date_from or date(2000, 1, 1), time.min, UTC)
    end = datetime.combine(date_to or date(2999, 12, 31), time.max, UTC)
    if start > end:
        raise ValidationFailed("from is after to", details={"from": ["not after to"]})
    return start, end


def statement(
    session: Session,
    actor: Actor,
    pool_id: int,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """The pool's movements over a period (assets in and out, margin, bills, fees)."""
    get_pool(session, actor, pool_id)
    start, end = _bounds(date_from, date_to)
    stmt = select(Movement).where(
        Movement.pool_id == pool_id, Movement.at >= start, Movement.at <= end
    )
    return paginate(session, stmt, Movement.id, limit=limit, cursor=cursor)


def statement_rows(
    session: Session,
    actor: Actor,
    pool_id: int,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[Movement]:
    """Every movement of the period, for the CSV download."""
    get_pool(session, actor, pool_id)
    start, end = _bounds(date_from, date_to)
    return list(
        session.scalars(
            select(Movement)
            .where(Movement.pool_id == pool_id, Movement.at >= start, Movement.at <= end)
            .order_by(Movement.id)
            .limit(100_000)
        )
    )
