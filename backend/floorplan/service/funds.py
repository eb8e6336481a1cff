"""The dealer's money: cash paid in at the bank, margin topped up or withdrawn.

- ``deposit_cash``: a teller (or admin) books cash paid into the dealer's deposit account.
- ``top_up_margin``: the dealer moves deposit into margin (margin above the required ratio pays
  redemptions in ``margin`` mode and lowers what issuance takes from the deposit).
- ``withdraw_margin``: free margin back to the deposit; the ledger refuses to touch what the
  holds freeze, so required margin can never be withdrawn.

Moving margin is the dealer's own act: its users, or a teller on its instruction
(``on_behalf``), nobody else (backend/floorplan/agency.py).

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
from backend.floorplan.access import get_dealer
from backend.floorplan.agency import OnBehalf, authorise_dealer_act, record_act
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


def _move(
    session: Session,
    actor: Actor,
    dealer_org_id: int,
    amount,
    *,
    to_margin: bool,
    on_behalf: dict | OnBehalf | None = None,
    now: datetime | None = None,
) -> Transfer:
    value = parse_money(amount, field="amount", positive=True)
    line = _line(session, actor, dealer_org_id)
    mandate = authorise_dealer_act(actor, dealer_org_id, on_behalf)
    src, dst = (
        (line.deposit_account_id, line.margin_account_id)
        if to_margin
        else (line.margin_account_id, line.deposit_account_id)
    )
    kind = "topup" if to_margin else "wd"
    with ledger.named_shortfalls(accounts.shortfall_names(line)):
        moved = ledger.transfer(
            session,
            actor,
            transfer_id=f"fp:{kind}:{dealer_org_id}:{_token()}",
            debit_account_id=src,
            credit_account_id=dst,
            amount=value,
            code="fp_margin_topup" if to_margin else "fp_margin_withdrawal",
            reference=mandate.on_behalf.instruction_ref if mandate.on_behalf else None,
            now=now,
        )
    act = "margin_top_up" if to_margin else "margin_withdrawal"
    record_act(
        session, actor, mandate, act, "fp_dealer", [dealer_org_id], transfer_ids=[moved.transfer_id]
    )
    return moved


def top_up_margin(session: Session, actor: Actor, dealer_org_id: int, amount, **kw) -> Transfer:
    """Deposit into margin; ``on_behalf`` (a teller's mandate) and ``now`` as keywords."""
    return _move(session, actor, dealer_org_id, amount, to_margin=True, **kw)


def withdraw_margin(session: Session, actor: Actor, dealer_org_id: int, amount, **kw) -> Transfer:
    """Free margin back to the deposit; keywords as ``top_up_margin``."""
    return _move(session, actor, dealer_org_id, amount, to_margin=False, **kw)
