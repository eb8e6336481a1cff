"""Asset-pool tables (prefix ``ap_``).

Money columns are ``Decimal`` (NUMERIC(20, 2) / integer fen); ratios are integer basis points
(9500 = 95 %). Balances of money live in the ledger; the figures kept here (``capacity``,
``pledged_value``, ``outstanding``) are the pool's business view, recomputed in the
transaction of every change on the locked pool row.

Asset states (``Asset.status``)::

    held (entered, in the pool, not pledged) <-> pledged -> matured (paid through the ledger)

Bill states (``PoolBill.status``): outstanding -> paid.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.platform.db import Base, BigIntPK, JSONType


class PoolConfig(Base):
    """One version of the pool's terms (haircuts, issuer tiers, tenor limits, fee and margin
    ratios). The version in force at a moment is the highest whose ``effective_at`` has come;
    versions are never changed, a change is a new version."""

    __tablename__ = "ap_configs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    effective_at: Mapped[datetime] = mapped_column(index=True)
    values: Mapped[dict] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_user_id: Mapped[int | None]
    created_by_username: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class Pool(Base):
    """An enterprise's pool (one per org). ``capacity`` = Σ eligible pledged value × haircut
    + margin cash × its haircut − outstanding face value of the pool's bills."""

    __tablename__ = "ap_pools"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12))  # active
    deposit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    margin_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    advance_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    pledged_value: Mapped[Decimal]  # Σ eligible pledged assets × haircut
    margin_cash: Mapped[Decimal]  # the margin account's posted balance
    margin_value: Mapped[Decimal]  # margin cash × its haircut
    outstanding: Mapped[Decimal]  # face value of bills not yet paid
    capacity: Mapped[Decimal]
    config_version: Mapped[int]  # the version the figures were computed with
    computed_at: Mapped[datetime]
    shortfall_on: Mapped[date | None]  # the last day a shortfall event was recorded
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int]


class Asset(Base):
    """An e-bill or e-deposit certificate the enterprise put into its pool."""

    __tablename__ = "ap_assets"
    __table_args__ = (
        UniqueConstraint("kind", "number", name="uq_ap_assets_kind_number"),
        Index("ix_ap_assets_pool_status", "pool_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("ap_pools.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # ebill | edeposit
    number: Mapped[str] = mapped_column(String(40))  # bill no / certificate no
    issuer_bank: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal]
    maturity_date: Mapped[date] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(12))  # held | pledged | matured
    eligible: Mapped[bool]
    reasons: Mapped[list] = mapped_column(JSONType)
    tier: Mapped[str | None] = mapped_column(String(20))
    haircut_bp: Mapped[int]
    value: Mapped[Decimal]  # amount × haircut while eligible, else 0
    created_at: Mapped[datetime]
    pledged_at: Mapped[datetime | None]
    matured_at: Mapped[datetime | None]


class PoolBill(Base):
    """A bank acceptance bill issued against the pool's capacity."""

    __tablename__ = "ap_bills"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bill_no: Mapped[str] = mapped_column(String(40), unique=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("ap_pools.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    payee: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal]
    fee: Mapped[Decimal]
    margin: Mapped[Decimal]
    issue_date: Mapped[date]
    maturity_date: Mapped[date] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)  # outstanding | paid
    config_version: Mapped[int]
    ledger_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    paid_from_margin: Mapped[Decimal]
    paid_from_deposit: Mapped[Decimal]
    advanced: Mapped[Decimal]
    created_by_user_id: Mapped[int | None]
    created_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]


class Movement(Base):
    """One line of the pool's statement: an asset in or out, margin, a bill, a fee."""

    __tablename__ = "ap_movements"
    __table_args__ = (Index("ix_ap_movements_pool_at", "pool_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("ap_pools.id"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(24))
    amount: Mapped[Decimal]
    reference: Mapped[str] = mapped_column(String(60))
    capacity_after: Mapped[Decimal]
