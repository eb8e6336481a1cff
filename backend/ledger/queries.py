"""The ledger's read side: accounts and balances, transfers, holds and account statements.

Reads check visibility: bank staff see every account, anyone else only their org's; a transfer
or hold is visible to whoever may see its debit or its credit account; an invisible object is
"not found". Lists page with a cursor (``backend.platform.pagination``). Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.ledger import rules
from backend.ledger.models import Account, Hold, Transfer
from backend.platform.context import Actor
from backend.platform.errors import NotFound, ValidationFailed
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_visible


@dataclass(frozen=True)
class Balance:
    """An account's balances. ``posted``/``pending``/``available`` read from its normal side
    (see backend/ledger/rules.py for the sign conventions)."""

    account_id: int
    code: str
    kind: str
    currency: str
    status: str
    normal_side: str
    debits_posted: Decimal
    credits_posted: Decimal
    debits_pending: Decimal
    credits_pending: Decimal
    posted: Decimal
    pending: Decimal
    available: Decimal


# --------------------------------------------------------------------------- accounts


def get_account(session: Session, actor: Actor, account_id: int) -> Account:
    account = session.get(Account, account_id)
    ensure_visible(actor, account, [account.owner_org_id if account else None], "account")
    return account


def find_account(session: Session, actor: Actor, code: str) -> Account:
    account = session.scalar(select(Account).where(Account.code == code))
    ensure_visible(actor, account, [account.owner_org_id if account else None], "account")
    return account


def list_accounts(
    session: Session,
    actor: Actor,
    *,
    owner_org_id: int | None = None,
    kind: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Bank staff see every account; anyone else only their own org's."""
    stmt = select(Account)
    if not actor.is_bank_staff:
        if actor.org_id is None:
            return Page(items=[], next_cursor=None)
        stmt = stmt.where(Account.owner_org_id == actor.org_id)
    if owner_org_id is not None:
        stmt = stmt.where(Account.owner_org_id == owner_org_id)
    if kind is not None:
        stmt = stmt.where(Account.kind == rules.validate_account_kind(kind))
    return paginate(session, stmt, Account.id, limit=limit, cursor=cursor)


def balance_of(account: Account) -> Balance:
    b = balances(account)
    v = rules.view(b, account.kind)
    return Balance(
        account_id=account.id,
        code=account.code,
        kind=account.kind,
        currency=account.currency,
        status=account.status,
        normal_side=rules.normal_side(account.kind),
        debits_posted=b.debits_posted,
        credits_posted=b.credits_posted,
        debits_pending=b.debits_pending,
        credits_pending=b.credits_pending,
        posted=v.posted,
        pending=v.pending,
        available=v.available,
    )


def get_balance(session: Session, actor: Actor, account_id: int) -> Balance:
    account = get_account(session, actor, account_id)
    session.refresh(account)
    return balance_of(account)


def balances(account: Account) -> rules.Balances:
    return rules.Balances(
        account_id=account.id,
        currency=account.currency,
        status=account.status,
        debits_posted=account.debits_posted,
        credits_posted=account.credits_posted,
        debits_pending=account.debits_pending,
        credits_pending=account.credits_pending,
        debits_must_not_exceed_credits=account.debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=account.credits_must_not_exceed_debits,
    )


# --------------------------------------------------------------------------- journal


@dataclass(frozen=True)
class StatementLine:
    """One journal entry seen from one account. ``posted_change`` is signed from the account's
    normal side (+ raises its balance); ``pending_change`` is the change of the pending total on
    the account's side of the entry (+ for a new hold, - when a hold resolves)."""

    transfer: Transfer
    side: str
    counterparty_account_id: int
    posted_change: Decimal
    pending_change: Decimal


def _account_owners(session: Session, *account_ids: int) -> list[int | None]:
    stmt = select(Account.owner_org_id).where(Account.id.in_(account_ids))
    return list(session.scalars(stmt))


def get_transfer(session: Session, actor: Actor, transfer_id: str) -> Transfer:
    """A transfer is visible to whoever may see its debit or its credit account."""
    row = session.scalar(select(Transfer).where(Transfer.transfer_id == transfer_id))
    owners = _account_owners(session, row.debit_account_id, row.credit_account_id) if row else []
    ensure_visible(actor, row, owners, "transfer")
    return row


def get_hold(session: Session, actor: Actor, hold_transfer_id: str) -> Hold:
    pending = get_transfer(session, actor, hold_transfer_id)
    if pending.kind != "pending":
        raise NotFound(f"hold {hold_transfer_id!r} not found", code="hold_not_found")
    return session.get(Hold, pending.id, populate_existing=True)


def list_holds(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    state: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    get_account(session, actor, account_id)
    stmt = (
        select(Hold)
        .where(or_(Hold.debit_account_id == account_id, Hold.credit_account_id == account_id))
        .options(selectinload(Hold.transfer), selectinload(Hold.resolution))
    )
    if state is not None:
        if state not in rules.HOLD_STATES:
            raise ValidationFailed(
                f"unknown hold state {state!r}",
                code="invalid_hold_state",
                details={"state": [f"one of {', '.join(rules.HOLD_STATES)}"]},
            )
        stmt = stmt.where(Hold.state == state)
    return paginate(session, stmt, Hold.id, limit=limit, cursor=cursor)


def statement(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """The account's journal entries, oldest first, as ``StatementLine`` items."""
    account = get_account(session, actor, account_id)
    stmt: Select = select(Transfer).where(
        or_(Transfer.debit_account_id == account_id, Transfer.credit_account_id == account_id)
    )
    page = paginate(session, stmt, Transfer.id, limit=limit, cursor=cursor)
    pending_ids = sorted({t.pending_id for t in page.items if t.pending_id is not None})
    held: dict[int, Decimal] = {}
    if pending_ids:
        rows = session.execute(
            select(Transfer.id, Transfer.amount).where(Transfer.id.in_(pending_ids))
        )
        held = {i: amount for i, amount in rows}
    return Page(items=[_line(account, t, held) for t in page.items], next_cursor=page.next_cursor)


def _line(account: Account, t: Transfer, held: dict[int, Decimal]) -> StatementLine:
    side = "debit" if t.debit_account_id == account.id else "credit"
    counterparty = t.credit_account_id if side == "debit" else t.debit_account_id
    zero = Decimal("0.00")
    posted = t.amount if t.kind in rules.POSTED_KINDS else zero
    if side != rules.normal_side(account.kind):
        posted = -posted
    if t.kind == "pending":
        pending = t.amount
    elif t.pending_id is not None:
        pending = -held[t.pending_id]
    else:
        pending = zero
    return StatementLine(t, side, counterparty, posted, pending)
