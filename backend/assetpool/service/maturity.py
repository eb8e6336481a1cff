"""Jobs' work: pledged assets that mature roll into the pool's margin cash (paid in from the
bank's clearing account; an asset held but not pledged is paid into the enterprise's
deposit), bills due are paid, every pool is recomputed and a negative capacity records a
``pool_shortfall`` risk event once a day per pool."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.assetpool import accounts, rules
from backend.assetpool.models import Asset
from backend.assetpool.service.bills import due_bills, pay_bill
from backend.assetpool.service.pools import lock_pool, move, refresh_all, settle
from backend.platform import audit
from backend.platform.context import Actor


def mature_asset(session: Session, actor: Actor, asset_id: int, now: datetime) -> Asset | None:
    asset = session.get(Asset, asset_id)
    if asset is None:
        return None
    pool = lock_pool(session, asset.pool_id)
    asset = session.get(Asset, asset_id, with_for_update=True, populate_existing=True)
    if asset.status == "matured" or asset.maturity_date > now.date():
        return None
    clearing = accounts.bank_accounts(session, actor)["clearing"]
    target = pool.margin_account_id if asset.status == "pledged" else pool.deposit_account_id
    ledger.transfer(
        session,
        actor,
        transfer_id=accounts.asset_matured_id(asset.id),
        debit_account_id=clearing.id,
        credit_account_id=target,
        amount=asset.amount,
        code="ap_asset_matured",
        reference=f"{asset.kind}:{asset.number}",
        now=now,
    )
    before = asset.status
    asset.status, asset.matured_at, asset.value = "matured", now, rules.ZERO
    line = move(session, pool, "asset_matured", asset.amount, f"{asset.kind}:{asset.number}", now)
    settle(session, actor, pool, [line], now)
    audit.record(
        session,
        actor,
        "assetpool.asset_matured",
        "ap_asset",
        asset.id,
        before={"status": before},
        after={"status": "matured", "paid_into": "margin" if before == "pledged" else "deposit"},
    )
    return asset


def mature_assets(session: Session, actor: Actor, *, now: datetime) -> dict:
    ids = list(
        session.scalars(
            select(Asset.id)
            .where(Asset.status.in_(("held", "pledged")), Asset.maturity_date <= now.date())
            .order_by(Asset.id)
        )
    )
    done = sum(1 for i in ids if mature_asset(session, actor, i, now) is not None)
    result = {"matured": done}
    result.update(refresh_all(session, actor, now=now))
    return result


def pay_due_bills(session: Session, actor: Actor, *, now: datetime) -> dict:
    paid = advanced = 0
    for bill_id in due_bills(session, now.date()):
        bill = pay_bill(session, actor, bill_id, now=now)
        paid += 1
        advanced += 1 if bill.advanced > 0 else 0
    return {"paid": paid, "advanced": advanced}
