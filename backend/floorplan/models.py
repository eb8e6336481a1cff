"""Floor-plan tables (prefix ``fp_``).

Money columns are ``Decimal`` (NUMERIC(20,2)); ratios are integer basis points (3000 = 30 %) so
they stay exact on SQLite too. Balances of money live in the ledger; the amounts kept here
(``used_amount``, ``outstanding`` ...) are the business view of who owes what for which car,
updated in the same transaction as the ledger batch that moved the money.

Lifecycle of a car (``Vehicle.status``)::

    in_transit -> arrived -> in_stock -> redeemed -> released
                                 |  \\-> (release-before-repay) released_unpaid -> released
                                 \\-> out_of_trust (missing at audit, repayment deadline missed)
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.platform.db import Base, BigIntPK, JSONType


class Programme(Base):
    """An OEM's floor-plan programme: the terms every dealer line under it starts from."""

    __tablename__ = "fp_programmes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    oem_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    margin_ratio_bp: Mapped[int]
    curtailment_days: Mapped[int]
    curtailment_ratio_bp: Mapped[int]
    curtailment_grace_days: Mapped[int]
    aging_days: Mapped[list] = mapped_column(JSONType)
    rbr_days: Mapped[int]
    oem_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    status: Mapped[str] = mapped_column(String(12))  # active | closed
    created_at: Mapped[datetime]


class Warehouse(Base):
    """A dealer's yard watched by a supervisor company."""

    __tablename__ = "fp_warehouses"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    dealer_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    supervisor_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class CreditLine(Base):
    """A dealer's approved line. ``used_amount`` = financed balance not yet repaid."""

    __tablename__ = "fp_credit_lines"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), unique=True)
    oem_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("fp_programmes.id"))
    limit_amount: Mapped[Decimal]
    used_amount: Mapped[Decimal]
    margin_ratio_bp: Mapped[int]
    trusted: Mapped[bool]
    rbr_limit: Mapped[Decimal]
    rbr_used: Mapped[Decimal]
    rbr_days: Mapped[int]
    status: Mapped[str] = mapped_column(String(12))  # active | suspended
    # the dealer's ledger accounts, opened when the first line is approved
    deposit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    margin_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    advance_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int]


class CreditLineRequest(Base):
    """Maker-checker: a proposal for a new line or new terms; applied only when approved by
    someone other than its maker."""

    __tablename__ = "fp_credit_line_requests"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("fp_programmes.id"))
    credit_line_id: Mapped[int | None] = mapped_column(ForeignKey("fp_credit_lines.id"))
    limit_amount: Mapped[Decimal]
    margin_ratio_bp: Mapped[int]
    trusted: Mapped[bool]
    rbr_limit: Mapped[Decimal]
    rbr_days: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), index=True)  # pending|approved|rejected
    note: Mapped[str | None] = mapped_column(String(500))
    maker_user_id: Mapped[int | None]
    maker_username: Mapped[str] = mapped_column(String(80))
    checker_user_id: Mapped[int | None]
    checker_username: Mapped[str | None] = mapped_column(String(80))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class Bill(Base):
    """A bank acceptance bill the dealer pays the OEM with; the cars it buys are financed by it.

    ``outstanding`` is the financed balance of the bill still owed by the dealer (on the bill
    before maturity, on the dealer's advance account after a short sweep)."""

    __tablename__ = "fp_bills"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bill_no: Mapped[str] = mapped_column(String(40), unique=True)
    dealer_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    oem_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    credit_line_id: Mapped[int] = mapped_column(ForeignKey("fp_credit_lines.id"), index=True)
    amount: Mapped[Decimal]
    margin_ratio_bp: Mapped[int]
    margin_amount: Mapped[Decimal]
    term_months: Mapped[int]
    # requested | issued | shipped | settled | overdue | rejected
    status: Mapped[str] = mapped_column(String(12), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    requested_at: Mapped[datetime]
    requested_by_user_id: Mapped[int | None]
    issued_at: Mapped[datetime | None]
    issued_by_user_id: Mapped[int | None]
    issue_date: Mapped[date | None]
    maturity_date: Mapped[date | None] = mapped_column(index=True)
    ledger_account_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_accounts.id"))
    outstanding: Mapped[Decimal]
    advance_outstanding: Mapped[Decimal]
    shortfall: Mapped[Decimal]
    settled_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(String(500))


class Shipment(Base):
    """The OEM's shipping list for one bill: the cars it paid for, on their way to a yard."""

    __tablename__ = "fp_shipments"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("fp_bills.id"), unique=True)
    oem_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    dealer_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    supervisor_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("fp_warehouses.id"))
    status: Mapped[str] = mapped_column(String(12))  # in_transit | arrived | received
    vehicle_count: Mapped[int]
    total_amount: Mapped[Decimal]
    carrier_ref: Mapped[str | None] = mapped_column(String(80))
    shipped_at: Mapped[datetime]
    arrived_at: Mapped[datetime | None]
    created_by_user_id: Mapped[int | None]


class Redemption(Base):
    """One redemption request (one car or a batch), settled by one ledger batch."""

    __tablename__ = "fp_redemptions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    mode: Mapped[str] = mapped_column(String(12))  # full | margin | maturity
    vehicle_count: Mapped[int]
    amount: Mapped[Decimal]
    margin_released: Mapped[Decimal]
    batch_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by_user_id: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(String(80))


class Vehicle(Base):
    """One financed car: its own unit of financing, margin and custody."""

    __tablename__ = "fp_vehicles"
    __table_args__ = (
        Index("ix_fp_vehicles_dealer_status", "dealer_org_id", "status"),
        Index("ix_fp_vehicles_status_pledged", "status", "pledged_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    model: Mapped[str] = mapped_column(String(80))
    price: Mapped[Decimal]
    certificate_no: Mapped[str] = mapped_column(String(40), unique=True)
    dealer_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    oem_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    supervisor_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("fp_warehouses.id"), index=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("fp_bills.id"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("fp_shipments.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    # with_oem | in_transit | in_custody | released
    certificate_status: Mapped[str] = mapped_column(String(12))
    location: Mapped[str | None] = mapped_column(String(120))
    outstanding: Mapped[Decimal]  # financed amount still owed for this car
    repaid: Mapped[Decimal]  # paid by the dealer (curtailment, redemption, maturity sweep)
    margin_held: Mapped[Decimal]  # this car's margin hold (fp:m:<vin>) while pending
    margin_applied: Mapped[Decimal]  # margin posted to the bill at maturity
    advanced: Mapped[Decimal]  # part paid by a bank advance at maturity, owed on the advance
    shipped_at: Mapped[datetime]
    arrived_at: Mapped[datetime | None]
    pledged_at: Mapped[datetime | None]
    redeemed_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    redeem_mode: Mapped[str | None] = mapped_column(String(12))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("fp_redemptions.id"))
    rbr_due_at: Mapped[datetime | None]
    rbr_amount: Mapped[Decimal]
    curtailment_status: Mapped[str | None] = mapped_column(String(12))
    aging_level: Mapped[int]  # highest aging threshold (days) already alerted
    updated_at: Mapped[datetime]


class Curtailment(Base):
    """A required part-repayment after the car stayed ``curtailment_days`` in stock."""

    __tablename__ = "fp_curtailments"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("fp_vehicles.id"), unique=True)
    dealer_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    amount: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(12), index=True)  # due | paid | overdue | void
    due_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    transfer_id: Mapped[str | None] = mapped_column(String(64))


class Alert(Base):
    """A vehicle alert, de-duplicated on ``dedup_key``: raising it again counts an occurrence."""

    __tablename__ = "fp_alerts"
    __table_args__ = (Index("ix_fp_alerts_dealer_status", "dealer_org_id", "status"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(8))  # hard | strong | medium | weak
    status: Mapped[str] = mapped_column(String(12))  # open | acknowledged | resolved
    dealer_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    oem_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    supervisor_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("fp_vehicles.id"), index=True)
    vin: Mapped[str | None] = mapped_column(String(17))
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("fp_bills.id"))
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("fp_inventory_audits.id"))
    message: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict]
    occurrences: Mapped[int]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    acknowledged_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[datetime | None]


class InventoryAudit(Base):
    """A physical check (盘库) of a yard: the cars expected there, each checked or missing."""

    __tablename__ = "fp_inventory_audits"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("fp_warehouses.id"), index=True)
    dealer_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    supervisor_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))  # open | closed
    trigger: Mapped[str] = mapped_column(String(12))  # manual | scheduled
    risk_tier: Mapped[str] = mapped_column(String(8))  # high | medium | low
    sample_ratio_bp: Mapped[int]
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(80))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(80))
    expected_count: Mapped[int]
    present_count: Mapped[int]
    missing_count: Mapped[int]
    mismatch_count: Mapped[int]
    extra_count: Mapped[int]


class AuditCheck(Base):
    """One VIN in an audit: expected (sampled) or found; its result once checked."""

    __tablename__ = "fp_audit_checks"
    __table_args__ = (UniqueConstraint("audit_id", "vin"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("fp_inventory_audits.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("fp_vehicles.id"), index=True)
    vin: Mapped[str] = mapped_column(String(17))
    expected: Mapped[bool]
    # pending | present | missing | mismatch | extra
    result: Mapped[str] = mapped_column(String(10))
    checked_at: Mapped[datetime | None]
    checked_by: Mapped[str | None] = mapped_column(String(80))
    photo_ref: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(120))
    certificate_no_seen: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(String(300))
