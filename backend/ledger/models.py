"""Ledger tables: accounts with their balance columns, the append-only transfer journal, and holds.

- ``ledger_accounts``: one row per account; the four balance columns are a cache of the journal,
  updated in the same transaction as the journal rows (``verify`` recomputes them).
- ``ledger_transfers``: the journal. Rows are inserted, never updated or deleted: refused here by
  ORM listeners and in the database by triggers (see migration 0002_ledger). A unique
  ``pending_id`` makes "a hold resolves at most once" a database constraint, a unique
  ``reversal_of_id`` does the same for "a transfer is reversed at most once".
- ``ledger_holds``: the mutable side of a pending transfer (its state), kept out of the journal so
  the journal stays immutable. The only change allowed is pending -> posted|voided|expired, once.

CHECK constraints refuse an overdraft of a flagged account even if a bug bypassed the service;
money is exact in the database (NUMERIC on PostgreSQL, integer fen on SQLite: migration
0012_money_exact), so they compare the columns directly.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.platform.db import Base, BigIntPK


class Account(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(
            "NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)",
            name="flags_exclusive",
        ),
        CheckConstraint(
            "NOT debits_must_not_exceed_credits"
            " OR debits_posted + debits_pending <= credits_posted",
            name="debits_within_credits",
        ),
        CheckConstraint(
            "NOT credits_must_not_exceed_debits"
            " OR credits_posted + credits_pending <= debits_posted",
            name="credits_within_debits",
        ),
        CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0"
            " AND debits_pending >= 0 AND credits_pending >= 0",
            name="balances_non_negative",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    debits_must_not_exceed_credits: Mapped[bool]
    credits_must_not_exceed_debits: Mapped[bool]
    status: Mapped[str] = mapped_column(String(10))  # open | closed
    debits_posted: Mapped[Decimal]
    credits_posted: Mapped[Decimal]
    debits_pending: Mapped[Decimal]
    credits_pending: Mapped[Decimal]
    version: Mapped[int]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class Transfer(Base):
    """One journal entry: ``amount`` moves from ``debit_account_id`` to ``credit_account_id``.

    kind: single (posted at once), pending (a hold), post_pending / void_pending /
    expire_pending (the resolution of the hold ``pending_id``; their accounts are the hold's).
    """

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="accounts_differ"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    transfer_id: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    code: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(200))
    pending_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    reversal_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transfers.id"), unique=True
    )
    timeout_s: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    batch_id: Mapped[str | None] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_by_user_id: Mapped[int | None]


class Hold(Base):
    """The state of a pending transfer (same id). Resolved exactly once."""

    __tablename__ = "ledger_holds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_ledger_holds_state_expires_at", "state", "expires_at"),
    )

    id: Mapped[int] = mapped_column(ForeignKey("ledger_transfers.id"), primary_key=True)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[Decimal]
    state: Mapped[str] = mapped_column(String(10))  # pending | posted | voided | expired
    posted_amount: Mapped[Decimal | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transfers.id"))

    transfer: Mapped[Transfer] = relationship(foreign_keys="Hold.id", viewonly=True)
    resolution: Mapped[Transfer | None] = relationship(
        foreign_keys="Hold.resolution_id", viewonly=True
    )


class JournalImmutable(RuntimeError):
    """Raised on any attempt to change or remove journal history."""


@event.listens_for(Transfer, "before_update")
@event.listens_for(Transfer, "before_delete")
def _journal_append_only(_mapper, _connection, target) -> None:
    raise JournalImmutable(
        f"ledger transfer {target.transfer_id!r} is immutable: correct it with a reversing transfer"
    )


@event.listens_for(Hold, "before_delete")
def _hold_not_deleted(_mapper, _connection, target) -> None:
    raise JournalImmutable(f"hold {target.id} cannot be deleted")


@event.listens_for(Hold, "before_update")
def _hold_resolves_once(_mapper, _connection, target) -> None:
    history = inspect(target).attrs.state.history
    previous = history.deleted[0] if history.deleted else target.state
    if previous != "pending":
        raise JournalImmutable(f"hold {target.id} is already {previous}")


@event.listens_for(Account, "before_delete")
def _account_not_deleted(_mapper, _connection, target) -> None:
    raise JournalImmutable(f"ledger account {target.code!r} cannot be deleted; close it")


class ApprovalRequest(Base):
    """Maker-checker for a movement above the configured limit (a transfer or a hold asked for by
    a teller): the movement waits here until a different user with approver rights approves it
    (then it is applied, under its own ``transfer_id``) or rejects it. ``transfer_id`` is the
    client's id of the movement, so asking again is idempotent."""

    __tablename__ = "ledger_approval_requests"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    transfer_id: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # single | pending
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    code: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(200))
    timeout_s: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(10), index=True)  # pending|approved|rejected
    maker_user_id: Mapped[int | None]
    maker_username: Mapped[str] = mapped_column(String(80))
    checker_user_id: Mapped[int | None]
    checker_username: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
