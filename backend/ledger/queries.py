"""Reading the journal: transfers, holds and account statements (cursor pagination)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.ledger import rules
from backend.ledger.accounts import get_account
from backend.ledger.models import Account, Hold, Transfer
from backend.platform.context import Actor
from backend.platform.errors import NotFound, ValidationFailed
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_visible


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
