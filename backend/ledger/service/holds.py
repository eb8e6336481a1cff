"""Two-phase transfers: a hold (freeze) that later posts, voids (unfreeze) or expires.

    hold ──post_hold (in full or in part; the rest released)──> posted
         ──void_hold──────────────────────────────────────────> voided
         ──deadline passed, expire_holds (job)────────────────> expired

A hold is a pending transfer: it counts against the debit account's available balance until it
resolves, and it resolves at most once (a unique ``pending_id`` in the journal, a trigger on
``ledger_holds``). Resolution ids default to ``<hold>~post``, ``~void``, ``~expire``, so a
retried resolution replays instead of failing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.ledger.models import Hold, Transfer
from backend.ledger.service import engine
from backend.ledger.service.batch import execute_batch
from backend.ledger.service.legs import Leg, TransferSpec
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation
from backend.platform.money import CURRENCY


def hold(
    session: Session,
    actor: Actor,
    *,
    transfer_id: str,
    debit_account_id: int,
    credit_account_id: int,
    amount: Decimal | str,
    code: str,
    reference: str | None = None,
    currency: str = CURRENCY,
    timeout_s: int | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Freeze ``amount`` (a pending transfer). Resolve it with post_hold, void_hold or expiry."""
    spec = TransferSpec.hold(
        transfer_id,
        debit_account_id,
        credit_account_id,
        amount,
        code,
        reference=reference,
        currency=currency,
        timeout_s=timeout_s,
        expires_at=expires_at,
    )
    return execute_batch(session, actor, [spec], now=now).transfers[0]


def post_hold(
    session: Session,
    actor: Actor,
    *,
    hold_transfer_id: str,
    amount: Decimal | str | None = None,
    transfer_id: str | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Post a hold in full (amount None) or in part; the rest is released."""
    spec = TransferSpec.post(hold_transfer_id, amount, transfer_id=transfer_id, reference=reference)
    return execute_batch(session, actor, [spec], now=now).transfers[0]


def void_hold(
    session: Session,
    actor: Actor,
    *,
    hold_transfer_id: str,
    transfer_id: str | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Unfreeze: release the whole hold, nothing posted."""
    spec = TransferSpec.void(hold_transfer_id, transfer_id=transfer_id, reference=reference)
    return execute_batch(session, actor, [spec], now=now).transfers[0]


def expire_holds(
    session: Session, actor: Actor, *, now: datetime | None = None, limit: int = 500
) -> int:
    """Expire holds past their deadline (oldest first, at most ``limit``); returns how many.

    Each expiry is its own savepoint, so a hold posted or voided concurrently is skipped."""
    now = now or utcnow()
    due = session.scalars(
        select(Hold.id)
        .where(Hold.state == "pending", Hold.expires_at <= now)
        .order_by(Hold.id)
        .limit(limit)
    ).all()
    expired = 0
    for hold_id in due:
        pending = session.get(Transfer, hold_id)
        leg = Leg(
            transfer_id=f"{pending.transfer_id}~expire",
            kind="expire_pending",
            debit_account_id=pending.debit_account_id,
            credit_account_id=pending.credit_account_id,
            amount=pending.amount,
            currency=pending.currency,
            code=pending.code,
            reference=None,
            pending=pending,
        )
        try:
            result = engine.execute(session, actor, [leg], now=now, batch_id=None)
        except BusinessRuleViolation as exc:
            if exc.code == "hold_already_resolved":
                continue
            raise
        expired += result.created
    return expired
