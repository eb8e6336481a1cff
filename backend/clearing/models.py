"""Clearing tables (prefix ``clearing_``).

A clearing house (``ClearingHouse``, an org of kind ``clearinghouse``) signs its requests with
an HMAC secret kept encrypted. A trader (an ``enterprise`` org) has an ``Agreement`` with it and
one or more ``TraderAccount`` rows: the sub-accounts (one per platform or commodity) the clearing
house addresses its instructions to, each a ledger deposit account funded from the trader's main
deposit account. Instructions are numbered per trader account (``seq`` 1, 2, 3 ...); an
instruction ahead of its turn waits as ``pending`` until the gap fills.

Lifecycle of an order (``ClearingOrder.status``)::

    open --bargain (partial)--> open --bargain (rest)--> bargained --delivery--> delivered
      \\--cancel--> cancelled          (a cancel after a partial bargain keeps the bargained part)

Money lives in the ledger; the amounts here are the business view (what each order holds),
written in the same transaction as the ledger batch that moved the money.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.platform.db import Base, BigIntPK


class ClearingHouse(Base):
    __tablename__ = "clearing_houses"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), unique=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_token: Mapped[str] = mapped_column(String(400))  # Fernet, backend/clearing/secretbox
    replay_window_s: Mapped[int]
    gap_alarm_s: Mapped[int]
    fee_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    status: Mapped[str] = mapped_column(String(12))  # active | suspended
    created_at: Mapped[datetime]


class SeenNonce(Base):
    """Nonces of signed requests inside the replay window (older ones are purged)."""

    __tablename__ = "clearing_nonces"
    __table_args__ = (UniqueConstraint("clearing_house_id", "nonce"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    clearing_house_id: Mapped[int] = mapped_column(ForeignKey("clearing_houses.id"))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class Agreement(Base):
    __tablename__ = "clearing_agreements"
    __table_args__ = (UniqueConstraint("trader_org_id", "clearing_house_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    trader_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    clearing_house_id: Mapped[int] = mapped_column(ForeignKey("clearing_houses.id"))
    main_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    status: Mapped[str] = mapped_column(String(12))  # active | suspended | terminated
    created_at: Mapped[datetime]


class TraderAccount(Base):
    """A trader's sub-account at a clearing house (one ledger deposit account)."""

    __tablename__ = "clearing_accounts"
    __table_args__ = (UniqueConstraint("clearing_house_id", "account_no"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("clearing_agreements.id"), index=True)
    clearing_house_id: Mapped[int] = mapped_column(ForeignKey("clearing_houses.id"))
    trader_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    account_no: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(80))  # the platform or commodity
    ledger_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    next_seq: Mapped[int]
    status: Mapped[str] = mapped_column(String(12))  # active | closed
    created_at: Mapped[datetime]


class Funding(Base):
    """Money paid into a trader account from the trader's main deposit account (the replay's
    starting point besides the instructions)."""

    __tablename__ = "clearing_fundings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("clearing_accounts.id"), index=True)
    amount: Mapped[Decimal]
    transfer_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class ClearingOrder(Base):
    __tablename__ = "clearing_orders"
    __table_args__ = (UniqueConstraint("clearing_house_id", "order_ref"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    clearing_house_id: Mapped[int] = mapped_column(ForeignKey("clearing_houses.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("clearing_accounts.id"), index=True)
    order_ref: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))
    open_amount: Mapped[Decimal]
    bargained_amount: Mapped[Decimal]
    fee_held: Mapped[Decimal]
    delivered_amount: Mapped[Decimal]
    hold_transfer_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Instruction(Base):
    """One instruction of a clearing house, as received (``pending``) and applied
    (``applied``), or refused when its turn came (``rejected``, with the reason)."""

    __tablename__ = "clearing_instructions"
    __table_args__ = (
        UniqueConstraint("clearing_house_id", "instruction_id"),
        UniqueConstraint("account_id", "seq"),
        Index("ix_clearing_instructions_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    clearing_house_id: Mapped[int] = mapped_column(ForeignKey("clearing_houses.id"))
    instruction_id: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("clearing_accounts.id"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(12))  # order | bargain | cancel | delivery
    order_ref: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal]
    fee: Mapped[Decimal]
    clearing_fee: Mapped[Decimal]
    counterparty_account_id: Mapped[int | None] = mapped_column(ForeignKey("clearing_accounts.id"))
    trade_date: Mapped[date]
    body_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # pending | applied | rejected
    reason: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]


class GapAlarm(Base):
    """A gap in an account's sequence left unfilled longer than the clearing house's limit."""

    __tablename__ = "clearing_gap_alarms"
    __table_args__ = (UniqueConstraint("account_id", "missing_from"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("clearing_accounts.id"))
    missing_from: Mapped[int]
    missing_to: Mapped[int]
    waiting_since: Mapped[datetime]
    raised_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))  # open | closed
    closed_at: Mapped[datetime | None]


class Reconciliation(Base):
    __tablename__ = "clearing_reconciliations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    clearing_house_id: Mapped[int] = mapped_column(ForeignKey("clearing_houses.id"))
    business_date: Mapped[date]
    source: Mapped[str] = mapped_column(String(12))  # upload | staff | file
    filename: Mapped[str | None] = mapped_column(String(200))
    rows: Mapped[int]
    differences: Mapped[int]
    status: Mapped[str] = mapped_column(String(12))  # matched | differences
    created_at: Mapped[datetime]


class Difference(Base):
    __tablename__ = "clearing_differences"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    reconciliation_id: Mapped[int] = mapped_column(
        ForeignKey("clearing_reconciliations.id"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(ForeignKey("clearing_accounts.id"))
    trader_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    account_no: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(20))
    ours: Mapped[str] = mapped_column(String(40))
    theirs: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(12))  # open | resolved
    created_at: Mapped[datetime]
