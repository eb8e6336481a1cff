"""The dealer's money: cash paid in at the bank, margin topped up or withdrawn.

- ``deposit_cash``: a teller (or admin) books cash paid into the dealer's deposit account.
- ``top_up_margin``: the dealer moves deposit into margin (margin above the required ratio pays
  redemptions in ``margin`` mode and lowers what issuance takes from the deposit).
- ``withdraw_margin``: free margin back to the deposit; the ledger refuses to touch what the
  holds freeze, so required margin can never be withdrawn.

Transfer ids carry a fresh token: each call is a new movement; an HTTP retry is made exactly
once by the request's Idempotency-Key, which stores the first answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.floorplan import accounts
from backend.floorplan.access import ensure_bank_or, get_dealer
from backend.floorplan.models import CreditLine
from backend.ledger.models import Transfer
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation
from backend.platform.money import parse_money
from backend.platform.permissions import ensure_role


def _line(session: Session, actor: Actor, dealer_org_id: int) -> CreditLine:
    get_dealer(session, actor, dealer_org_id)
    line = session.scalar(select(CreditLine).where(CreditLine.dealer_org_id == dealer_org_id))
    if line is None:
        raise BusinessRuleViolation("the dealer has no credit line", code="no_credit_line")
    return line


def _token() -> str:
    return uuid.uuid4().hex[:20]


def deposit_cash(
    session: Session,
    actor: Actor,
    dealer_org_id: int,
    amount: Decimal | str,
    *,
    reference: str | None = None,
    now: datetime | None = None,
) -> Transfer:
    ensure_role(actor, "teller")
    value = parse_money(amount, field="amount", positive=True)
    line = _line(session, actor, dealer_org_id)
    cash = accounts.cash_account(session, actor)
    return ledger.transfer(
        session,
        actor,
        transfer_id=f"fp:cash:{dealer_org_id}:{_token()}",
        debit_account_id=cash.id,
        credit_account_id=line.deposit_account_id,
        amount=value,
        code="fp_cash_deposit",
        reference=reference,
        now=now,
    )


def _move(session, actor, dealer_org_id, amount, *, to_margin: bool, now) -> Transfer:
    value = parse_money(amount, field="amount", positive=True)
    line = _line(session, actor, dealer_org_id)
    if actor.role == "dealer" and actor.org_id != dealer_org_id:
        raise BusinessRuleViolation("dealers move their own margin only", code="not_own_dealer")
    ensure_bank_or(actor, "dealer")
    src, dst = (
        (line.deposit_account_id, line.margin_account_id)
        if to_margin
        else (line.margin_account_id, line.deposit_account_id)
    )
    kind = "topup" if to_margin else "wd"
    with ledger.named_shortfalls(accounts.shortfall_names(line)):
        return ledger.transfer(
            session,
            actor,
            transfer_id=f"fp:{kind}:{dealer_org_id}:{_token()}",
            debit_account_id=src,
            credit_account_id=dst,
            amount=value,
            code="fp_margin_topup" if to_margin else "fp_margin_withdrawal",
            now=now,
        )


def top_up_margin(
    session: Session, actor: Actor, dealer_org_id: int, amount, *, now=None
) -> Transfer:
    return _move(session, actor, dealer_org_id, amount, to_margin=True, now=now)


def withdraw_margin(
    session: Session, actor: Actor, dealer_org_id: int, amount, *, now=None
) -> Transfer:
    return _move(session, actor, dealer_org_id, amount, to_margin=False, now=now)
