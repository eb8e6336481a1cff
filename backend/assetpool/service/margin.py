"""Margin cash: paid into the pool's margin account from the enterprise's deposit, withdrawn
back while the capacity stays at or above zero; and cash the bank books into the enterprise's
deposit account (a teller or admin; the demo seeder and tests fund deposits this way).

Each movement's transfer id is its statement line's (``ap:mv<id>``); an HTTP retry is made
exactly once by the request's Idempotency-Key.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from backend import ledger
from backend.assetpool import access, accounts
from backend.assetpool.models import Movement, Pool
from backend.assetpool.service.assets import refuse_if_short
from backend.assetpool.service.pools import lock_pool, move, settle
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.money import parse_money
from backend.platform.permissions import ensure_role


def _book(session, actor, pool: Pool, kind: str, value: Decimal, debit: int, credit: int, now):
    line = move(session, pool, kind, value, kind, now)
    line.reference = accounts.movement_transfer_id(line.id)
    with ledger.named_shortfalls(
        {pool.deposit_account_id: "deposit", pool.margin_account_id: "margin"}
    ):
        ledger.transfer(
            session,
            actor,
            transfer_id=line.reference,
            debit_account_id=debit,
            credit_account_id=credit,
            amount=value,
            code=f"ap_{kind}",
            now=now,
        )
    return line


def pay_in_margin(
    session: Session,
    actor: Actor,
    pool_id: int,
    amount: Decimal | str,
    *,
    now: datetime | None = None,
) -> Movement:
    """Enterprise deposit -> pool margin (422 ``insufficient_deposit`` when short)."""
    return _margin(session, actor, pool_id, amount, out=False, now=now)


def withdraw_margin(
    session: Session,
    actor: Actor,
    pool_id: int,
    amount: Decimal | str,
    *,
    now: datetime | None = None,
) -> Movement:
    """Pool margin -> enterprise deposit; refused 422 ``insufficient_capacity`` when the
    capacity would fall below zero (``insufficient_margin`` when there is not that much)."""
    return _margin(session, actor, pool_id, amount, out=True, now=now)


def _margin(session, actor, pool_id, amount, *, out: bool, now) -> Movement:
    now = now or utcnow()
    value = parse_money(amount, field="amount", positive=True)
    with session.begin_nested():
        pool = access.pool_to_change(session, actor, pool_id)
        accounts_ = (pool.deposit_account_id, pool.margin_account_id)
        debit, credit = reversed(accounts_) if out else accounts_
        kind = "margin_out" if out else "margin_in"
        line = _book(session, actor, pool, kind, value, debit, credit, now)
        f = settle(session, actor, pool, [line], now)
        if out:
            refuse_if_short(f.capacity)
        action = "assetpool.margin_withdrawn" if out else "assetpool.margin_paid_in"
        after = {"amount": value, "capacity": f.capacity}
        audit.record(session, actor, action, "ap_pool", pool.id, after=after)
    return line


def deposit_cash(
    session: Session,
    actor: Actor,
    pool_id: int,
    amount: Decimal | str,
    *,
    now: datetime | None = None,
) -> Movement:
    """Bank staff (teller, admin): money paid into the enterprise's deposit account, booked
    from the bank's clearing account."""
    ensure_role(actor, "teller")
    now = now or utcnow()
    value = parse_money(amount, field="amount", positive=True)
    access.get_pool(session, actor, pool_id)
    with session.begin_nested():
        pool = lock_pool(session, pool_id)
        clearing = accounts.bank_accounts(session, actor)["clearing"]
        line = _book(
            session, actor, pool, "deposit_in", value, clearing.id, pool.deposit_account_id, now
        )
        settle(session, actor, pool, [line], now)
        audit.record(
            session, actor, "assetpool.deposit_cash", "ap_pool", pool.id, after={"amount": value}
        )
    return line
