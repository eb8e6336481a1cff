"""The clearing read side (nothing here writes). A trader (role ``enterprise``) sees only its
own org's agreements, accounts, orders and instructions (anything else is 404); bank staff see
everything, and alone see clearing houses, gaps, gap alarms, reconciliations and differences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.clearing.models import (
    Agreement,
    ClearingHouse,
    ClearingOrder,
    Difference,
    GapAlarm,
    Instruction,
    Reconciliation,
    TraderAccount,
)
from backend.clearing.service.reconcile import day_counts
from backend.clearing.service.replay import replay_check
from backend.clearing.service.setup import balance_of
from backend.platform.context import Actor
from backend.platform.errors import NotFound, PermissionDenied, ValidationFailed
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_visible

INSTRUCTION_STATUSES = ("pending", "applied", "rejected")
DIFFERENCE_STATUSES = ("open", "resolved")


def _staff_only(actor: Actor, what: str) -> None:
    """Lists only bank staff read: 403 for anyone else (no single object is named)."""
    if not actor.is_bank_staff:
        raise PermissionDenied(f"only bank staff see {what}", code="forbidden")


def _own(stmt: Select, actor: Actor, column) -> Select:
    if actor.is_bank_staff:
        return stmt
    return stmt.where(column == actor.org_id) if actor.org_id else stmt.where(column.is_(None))


def _choice(value, allowed, field):
    if value is not None and value not in allowed:
        raise ValidationFailed(
            f"{field}: one of {', '.join(allowed)}",
            code=f"invalid_{field}",
            details={field: [f"one of {', '.join(allowed)}"]},
        )


@dataclass
class AccountView:
    id: int
    account_no: str
    label: str
    clearing_house: str
    trader_org_id: int
    agreement_id: int
    status: str
    next_seq: int
    balance: Decimal
    held: Decimal
    available: Decimal
    pending_instructions: int
    created_at: datetime


def _view(session: Session, account: TraderAccount) -> AccountView:
    balance, held, available = balance_of(session, account)
    house = session.get(ClearingHouse, account.clearing_house_id)
    pending = session.scalar(
        select(func.count()).where(
            Instruction.account_id == account.id, Instruction.status == "pending"
        )
    )
    return AccountView(
        account.id,
        account.account_no,
        account.label,
        house.code,
        account.trader_org_id,
        account.agreement_id,
        account.status,
        account.next_seq,
        balance,
        held,
        available,
        pending,
        account.created_at,
    )


def list_houses(session: Session, actor: Actor, *, limit=None, cursor=None) -> Page:
    _staff_only(actor, "clearing houses")
    return paginate(session, select(ClearingHouse), ClearingHouse.id, limit=limit, cursor=cursor)


def list_agreements(session: Session, actor: Actor, *, limit=None, cursor=None) -> Page:
    stmt = _own(select(Agreement), actor, Agreement.trader_org_id)
    return paginate(session, stmt, Agreement.id, limit=limit, cursor=cursor)


def get_account(session: Session, actor: Actor, account_id: int) -> TraderAccount:
    account = session.get(TraderAccount, account_id)
    ensure_visible(actor, account, [account.trader_org_id if account else None], "account")
    return account


def account_view(session: Session, actor: Actor, account_id: int) -> AccountView:
    return _view(session, get_account(session, actor, account_id))


def list_accounts(session: Session, actor: Actor, *, limit=None, cursor=None) -> Page:
    stmt = _own(select(TraderAccount), actor, TraderAccount.trader_org_id)
    page = paginate(session, stmt, TraderAccount.id, limit=limit, cursor=cursor)
    return Page([_view(session, a) for a in page.items], page.next_cursor)


def list_orders(session: Session, actor: Actor, account_id: int, *, limit=None, cursor=None):
    account = get_account(session, actor, account_id)
    stmt = select(ClearingOrder).where(ClearingOrder.account_id == account.id)
    return paginate(session, stmt, ClearingOrder.id, limit=limit, cursor=cursor, descending=True)


def list_instructions(
    session: Session, actor: Actor, *, account_id=None, status=None, limit=None, cursor=None
) -> Page:
    """Newest first; a trader sees its own accounts' instructions."""
    _choice(status, INSTRUCTION_STATUSES, "status")
    stmt = select(Instruction)
    if account_id is not None:
        stmt = stmt.where(Instruction.account_id == get_account(session, actor, account_id).id)
    if not actor.is_bank_staff:
        own = select(TraderAccount.id).where(TraderAccount.trader_org_id == actor.org_id)
        stmt = stmt.where(Instruction.account_id.in_(own))
    if status is not None:
        stmt = stmt.where(Instruction.status == status)
    return paginate(session, stmt, Instruction.id, limit=limit, cursor=cursor, descending=True)


def account_numbers(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(TraderAccount.id, TraderAccount.account_no).where(TraderAccount.id.in_(ids))
    )
    return dict(rows.all())


@dataclass
class Gap:
    account_id: int
    account_no: str
    next_seq: int
    first_pending_seq: int
    pending: int
    oldest_received_at: datetime


def list_gaps(session: Session, actor: Actor, *, limit=None, cursor=None) -> Page:
    """Accounts whose next instruction is missing while later ones wait."""
    _staff_only(actor, "gaps")
    waiting = select(Instruction.account_id).where(Instruction.status == "pending")
    stmt = select(TraderAccount).where(TraderAccount.id.in_(waiting))
    page = paginate(session, stmt, TraderAccount.id, limit=limit, cursor=cursor)
    gaps = []
    for a in page.items:
        first, count, oldest = session.execute(
            select(
                func.min(Instruction.seq), func.count(), func.min(Instruction.received_at)
            ).where(Instruction.account_id == a.id, Instruction.status == "pending")
        ).one()
        gaps.append(Gap(a.id, a.account_no, a.next_seq, first, count, oldest))
    return Page(gaps, page.next_cursor)


def list_gap_alarms(session: Session, actor: Actor, *, limit=None, cursor=None) -> Page:
    _staff_only(actor, "gap alarms")
    return paginate(
        session, select(GapAlarm), GapAlarm.id, limit=limit, cursor=cursor, descending=True
    )


def list_reconciliations(session: Session, actor: Actor, *, limit=None, cursor=None) -> Page:
    _staff_only(actor, "reconciliations")
    return paginate(
        session,
        select(Reconciliation),
        Reconciliation.id,
        limit=limit,
        cursor=cursor,
        descending=True,
    )


def list_differences(
    session: Session,
    actor: Actor,
    *,
    reconciliation_id=None,
    status=None,
    limit=None,
    cursor=None,
) -> Page:
    _staff_only(actor, "differences")
    _choice(status, DIFFERENCE_STATUSES, "status")
    stmt = select(Difference)
    if reconciliation_id is not None:
        if session.get(Reconciliation, reconciliation_id) is None:
            raise NotFound("reconciliation not found", code="reconciliation_not_found")
        stmt = stmt.where(Difference.reconciliation_id == reconciliation_id)
    if status is not None:
        stmt = stmt.where(Difference.status == status)
    return paginate(session, stmt, Difference.id, limit=limit, cursor=cursor, descending=True)


def replay_report(session: Session, actor: Actor) -> dict:
    """Bank staff: the instruction log replayed and compared with the ledger."""
    _staff_only(actor, "the replay")
    return replay_check(session).to_dict()


def openings(session: Session, house_id: int, day) -> dict:
    """Each account of a clearing house as the simulator starts its day: (next_seq, balance,
    held, instructions already counted for ``day``)."""
    counts = day_counts(session, house_id, day)
    out = {}
    for a in session.scalars(
        select(TraderAccount).where(TraderAccount.clearing_house_id == house_id)
    ):
        balance, held, _ = balance_of(session, a)
        out[a.account_no] = (a.next_seq, balance, held, counts.get(a.id, 0))
    return out
