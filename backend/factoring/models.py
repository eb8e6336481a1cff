"""Digital factoring tables (prefix ``fct_``).

Rates are integer basis points (9000 = 0.90) so that they stay exact on SQLite too. Money is
``Decimal`` (NUMERIC(20, 2); integer fen on SQLite). Balances of money live in the ledger; the
amounts kept here (``financed_outstanding``, ``amount`` of a payable part) are the business view,
changed in the same transaction as the ledger movement.

A payable is one *part* of a confirmed invoice: the invoice as registered is part 0 (the root);
a split carves a new part (1, 2, ...) off a part its holder holds. ``(invoice_key, part_no)`` is
unique, so an invoice is registered once in the bank, and the parts of an invoice always add up
to the invoice. ``FinancingClaim.claim_key`` (``<invoice_key>#<part_no>``) is unique: whatever
happens concurrently, a part is financed at most once.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.platform.db import Base, BigIntPK, JSONType


class Agreement(Base):
    """A core enterprise's factoring agreement: the terms every payable of its chain is
    financed on."""

    __tablename__ = "fct_agreements"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    core_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    limit_amount: Mapped[Decimal]
    financed_outstanding: Mapped[Decimal]
    advance_rate_bp: Mapped[int]
    interest_rate_bp: Mapped[int]  # annual, 360-day year
    fee_rate_bp: Mapped[int]
    with_recourse: Mapped[bool]
    valid_from: Mapped[date]
    valid_to: Mapped[date]
    status: Mapped[str] = mapped_column(String(12))  # active | suspended | closed
    created_by_user_id: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Supplier(Base):
    """A supplier admitted to an agreement's chain, with its counterparty limit; tier 2 when
    it was admitted because a payable was transferred to it."""

    __tablename__ = "fct_suppliers"
    __table_args__ = (UniqueConstraint("agreement_id", "org_id", name="uq_fct_supplier"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("fct_agreements.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    tier: Mapped[int]
    counterparty_limit: Mapped[Decimal]
    financed_outstanding: Mapped[Decimal]
    admitted_via_payable_id: Mapped[int | None]
    admitted_at: Mapped[datetime]


class Payable(Base):
    """One part of an invoice the core enterprise owes (debtor = core, holder = the supplier
    who may finance, transfer or be paid for it)."""

    __tablename__ = "fct_payables"
    __table_args__ = (UniqueConstraint("invoice_key", "part_no", name="uq_fct_payable_part"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("fct_agreements.id"), index=True)
    invoice_no: Mapped[str] = mapped_column(String(40))
    invoice_key: Mapped[str] = mapped_column(String(80), index=True)
    part_no: Mapped[int]
    next_part_no: Mapped[int]  # on the root: the number the next split gets
    root_id: Mapped[int | None] = mapped_column(index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("fct_payables.id"), index=True)
    debtor_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    creditor_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)  # issuer
    holder_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    transferred_from_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    invoice_amount: Mapped[Decimal]
    amount: Mapped[Decimal]
    issue_date: Mapped[date]
    maturity_date: Mapped[date] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    registered_by: Mapped[str] = mapped_column(String(10))  # core | supplier
    confirmed_at: Mapped[datetime | None]
    financed_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    overdue_since: Mapped[datetime | None]
    overdue_reported_days: Mapped[int]  # the last report day (1, 30, 90) told to risk; 0 none
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Application(Base):
    """A holder's financing application and the rules' decision (approved or refused, with
    every reason), kept either way."""

    __tablename__ = "fct_applications"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    payable_id: Mapped[int] = mapped_column(ForeignKey("fct_payables.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("fct_agreements.id"), index=True)
    applicant_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    debtor_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    applicant_user_id: Mapped[int | None]
    amount: Mapped[Decimal]
    advance_amount: Mapped[Decimal]  # amount x advance rate
    interest: Mapped[Decimal]
    fee: Mapped[Decimal]
    disbursed: Mapped[Decimal]  # advance - interest - fee, paid to the holder
    days: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), index=True)  # approved | refused
    reasons: Mapped[list] = mapped_column(JSONType)
    transfer_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class FinancingClaim(Base):
    """The bank-wide claim on one part of one invoice: unique, so two transactions can never
    both finance it."""

    __tablename__ = "fct_financing_claims"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    claim_key: Mapped[str] = mapped_column(String(100), unique=True)
    invoice_key: Mapped[str] = mapped_column(String(80), index=True)
    payable_id: Mapped[int] = mapped_column(ForeignKey("fct_payables.id"), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("fct_applications.id"))
    amount: Mapped[Decimal]
    created_at: Mapped[datetime]


class RecourseClaim(Base):
    """With recourse: the bank's claim on the supplier for a financed part its core enterprise
    left unpaid, booked as a receivable on the supplier's recourse account."""

    __tablename__ = "fct_recourse_claims"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    payable_id: Mapped[int] = mapped_column(ForeignKey("fct_payables.id"), unique=True)
    supplier_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    amount: Mapped[Decimal]
    # open; collected (the supplier paid it all); repaid (the core enterprise paid late: what
    # the supplier paid went back to it)
    status: Mapped[str] = mapped_column(String(12))
    transfer_id: Mapped[str] = mapped_column(String(64))
    collected: Mapped[Decimal]  # paid by the supplier so far
    collections: Mapped[int]  # how many collections: numbers the next one's transfer id
    closed_at: Mapped[datetime | None]
    created_by_user_id: Mapped[int | None]
    created_at: Mapped[datetime]

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.collected
