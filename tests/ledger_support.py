"""Helpers shared by the ledger tests: a small set of books, a snapshot of everything the
ledger writes (to prove a refused request wrote nothing), and an assertion on error codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import ledger
from backend.identity.service import get_or_create_org
from backend.ledger.models import Account, Hold, Transfer
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import DomainError


@dataclass
class Books:
    bank_org: int
    org1: int
    org2: int
    funding: int  # internal, unlimited: where money comes from
    a: int  # deposit of org1, funded with 1000.00
    b: int  # deposit of org2, funded with 500.00
    margin: int  # margin of org1, empty
    teller: Actor
    dealer1: Actor
    dealer2: Actor


def make_books(session: Session) -> Books:
    bank = get_or_create_org(session, "BANK", "The bank", "bank")
    org1 = get_or_create_org(session, "DLR1", "Dealer one", "dealer")
    org2 = get_or_create_org(session, "DLR2", "Dealer two", "dealer")
    funding = ledger.open_account(
        session, SYSTEM, code="bank:funding", name="Funding", kind="internal"
    )
    a = ledger.open_account(
        session, SYSTEM, code="dlr1:deposit", name="D1", kind="deposit", owner_org_id=org1.id
    )
    b = ledger.open_account(
        session, SYSTEM, code="dlr2:deposit", name="D2", kind="deposit", owner_org_id=org2.id
    )
    margin = ledger.open_account(
        session, SYSTEM, code="dlr1:margin", name="M1", kind="margin", owner_org_id=org1.id
    )
    for tid, acct, amount in (("fund-a", a, "1000.00"), ("fund-b", b, "500.00")):
        ledger.transfer(
            session,
            SYSTEM,
            transfer_id=tid,
            debit_account_id=funding.id,
            credit_account_id=acct.id,
            amount=amount,
            code="funding",
        )
    session.commit()
    return Books(
        bank_org=bank.id,
        org1=org1.id,
        org2=org2.id,
        funding=funding.id,
        a=a.id,
        b=b.id,
        margin=margin.id,
        teller=Actor(user_id=None, username="teller1", role="teller", org_id=bank.id),
        dealer1=Actor(user_id=None, username="dealer1", role="dealer", org_id=org1.id),
        dealer2=Actor(user_id=None, username="dealer2", role="dealer", org_id=org2.id),
    )


def snapshot(session: Session) -> tuple:
    """Everything a ledger movement writes: rows counted, balances and hold states."""
    session.expire_all()
    count = session.scalar
    return (
        count(select(func.count()).select_from(Transfer)),
        count(select(func.count()).select_from(AuditRecord)),
        tuple(
            session.execute(
                select(
                    Account.id,
                    Account.debits_posted,
                    Account.credits_posted,
                    Account.debits_pending,
                    Account.credits_pending,
                    Account.version,
                    Account.status,
                ).order_by(Account.id)
            )
        ),
        tuple(session.execute(select(Hold.id, Hold.state).order_by(Hold.id))),
    )


@contextmanager
def refused(code: str, status_kind: str | None = None) -> Iterator[pytest.ExceptionInfo]:
    with pytest.raises(DomainError) as info:
        yield info
    assert info.value.code == code, f"expected {code}, got {info.value.code}: {info.value}"
    if status_kind is not None:
        assert info.value.kind == status_kind


def available(session: Session, account_id: int) -> Decimal:
    return ledger.get_balance(session, SYSTEM, account_id).available
