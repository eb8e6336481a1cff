"""Ledger accounts, the write side: open (idempotent on ``code``), close, and lock.

An account belongs to an org (``owner_org_id``) or, for the bank's own books, to none. Its kind
sets its normal side and default flags (backend/ledger/rules.py). ``lock_accounts`` and
``locked_balances`` lock accounts in ascending id order, as every movement does, for callers
that compute amounts from balances that must still hold when their transfers run. Reading
accounts and balances is in ``backend.ledger.queries``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.identity.models import Org
from backend.ledger import rules
from backend.ledger.models import Account
from backend.ledger.queries import Balance, balance_of, balances
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import Conflict, NotFound, ValidationFailed
from backend.platform.money import CURRENCY


def open_account(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    kind: str,
    owner_org_id: int | None = None,
    currency: str = CURRENCY,
    debits_must_not_exceed_credits: bool | None = None,
    credits_must_not_exceed_debits: bool | None = None,
    now: datetime | None = None,
) -> Account:
    """Open an account; idempotent on ``code`` (same attributes return the existing account)."""
    rules.validate_account_code(code)
    rules.validate_account_kind(kind)
    rules.validate_currency(currency)
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        raise ValidationFailed(
            "name must be 1 to 200 characters", details={"name": ["1 to 200 characters"]}
        )
    dflt_d, dflt_c = rules.default_flags(kind)
    d_flag = dflt_d if debits_must_not_exceed_credits is None else debits_must_not_exceed_credits
    c_flag = dflt_c if credits_must_not_exceed_debits is None else credits_must_not_exceed_debits
    rules.validate_flags(d_flag, c_flag)
    wanted = {
        "kind": kind,
        "owner_org_id": owner_org_id,
        "currency": currency,
        "debits_must_not_exceed_credits": d_flag,
        "credits_must_not_exceed_debits": c_flag,
    }
    existing = session.scalar(select(Account).where(Account.code == code))
    if existing is not None:
        return _same_account_or_conflict(existing, wanted)
    if owner_org_id is not None and session.get(Org, owner_org_id) is None:
        raise NotFound(f"org {owner_org_id} not found", code="org_not_found")
    account = Account(
        code=code,
        name=name,
        status="open",
        debits_posted=Decimal("0.00"),
        credits_posted=Decimal("0.00"),
        debits_pending=Decimal("0.00"),
        credits_pending=Decimal("0.00"),
        version=0,
        created_at=now or utcnow(),
        **wanted,
    )
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
    except IntegrityError:
        existing = session.scalar(select(Account).where(Account.code == code))
        if existing is None:
            raise
        return _same_account_or_conflict(existing, wanted)
    audit.record(
        session, actor, "ledger.account_opened", "ledger_account", account.id, after=wanted
    )
    return account


def _same_account_or_conflict(existing: Account, wanted: dict) -> Account:
    differing = sorted(k for k, v in wanted.items() if getattr(existing, k) != v)
    if differing:
        raise Conflict(
            f"account code {existing.code!r} is taken by an account with other attributes",
            code="account_code_taken",
            details={"fields": differing},
        )
    return existing


def close_account(
    session: Session, actor: Actor, account_id: int, *, now: datetime | None = None
) -> Account:
    """Close an empty account (zero balance, no holds). Closed accounts refuse new transfers."""
    account = lock_accounts(session, [account_id])[account_id]
    if account.status == "closed":
        return account
    rules.check_closable(balances(account))
    account.status = "closed"
    account.closed_at = now or utcnow()
    account.version += 1
    session.flush()
    audit.record(
        session,
        actor,
        "ledger.account_closed",
        "ledger_account",
        account.id,
        before={"status": "open"},
        after={"status": "closed"},
    )
    return account


def lock_accounts(session: Session, ids) -> dict[int, Account]:
    wanted = sorted(set(ids))
    stmt = (
        select(Account)
        .where(Account.id.in_(wanted))
        .order_by(Account.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = {a.id: a for a in session.scalars(stmt)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(
            f"account {missing[0]} not found",
            code="account_not_found",
            details={"account_ids": missing},
        )
    return found


def locked_balances(session: Session, *account_ids: int) -> dict[int, Balance]:
    """Lock the accounts (ascending id, as the ledger does) and read their balances, so that
    amounts computed from them still hold when the ledger batch runs."""
    return {i: balance_of(a) for i, a in lock_accounts(session, account_ids).items()}
