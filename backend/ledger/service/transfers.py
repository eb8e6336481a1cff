"""Posted money: a transfer that moves an amount at once, and its one correction.

- ``transfer``: debit one account, credit another, now. The same transfer_id with the same
  fields returns the stored transfer and changes nothing (with other fields: 409).
- ``reverse_transfer``: the only way to correct the journal (rows are never updated): a transfer
  of the same amount back, at most once per original (``<original>~reverse``, code
  ``reversal``). Only posted transfers (single or post) are reversed; a hold is voided instead.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.ledger import rules
from backend.ledger.models import Transfer
from backend.ledger.service import engine
from backend.ledger.service.batch import execute_batch
from backend.ledger.service.legs import Leg, TransferSpec
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, NotFound
from backend.platform.money import CURRENCY


def transfer(
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
    now: datetime | None = None,
) -> Transfer:
    """Move ``amount`` at once. Same transfer_id and fields: the original is returned."""
    spec = TransferSpec.single(
        transfer_id,
        debit_account_id,
        credit_account_id,
        amount,
        code,
        reference=reference,
        currency=currency,
    )
    return execute_batch(session, actor, [spec], now=now).transfers[0]


def reverse_transfer(
    session: Session,
    actor: Actor,
    *,
    original_transfer_id: str,
    transfer_id: str | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Correct a posted transfer (single or post) by moving its amount back, once.

    The new transfer's id defaults to ``<original>~reverse``; its code is ``reversal``.
    """
    original = session.scalar(select(Transfer).where(Transfer.transfer_id == original_transfer_id))
    if original is None:
        raise NotFound(f"transfer {original_transfer_id!r} not found", code="transfer_not_found")
    if original.kind not in rules.POSTED_KINDS:
        raise BusinessRuleViolation(
            f"transfer {original_transfer_id!r} is a {original.kind}; only posted transfers"
            " are reversed (void a hold instead)",
            code="transfer_not_reversible",
        )
    tid = (
        rules.validate_transfer_id(transfer_id)
        if transfer_id is not None
        else f"{original.transfer_id}~reverse"
    )
    leg = Leg(
        transfer_id=tid,
        kind="single",
        debit_account_id=original.credit_account_id,
        credit_account_id=original.debit_account_id,
        amount=original.amount,
        currency=original.currency,
        code="reversal",
        reference=rules.validate_reference(reference),
        reversal_of=original,
    )
    return engine.execute(session, actor, [leg], now=now or utcnow(), batch_id=None).transfers[0]
