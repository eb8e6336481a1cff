"""Collateral tables (prefix ``col_``): the registry of residential properties and the credit
they secure, mortgage registrations (maker-checker), documents by reference, the AVM model
registry, every valuation with its inputs, batch revaluation runs, the market sales the
quarterly ratio study checks the champion against, and the study results.

Money is ``Decimal`` (NUMERIC(20, 2); integer fen on SQLite). Areas are square metres as
``Decimal`` with two places (a property's area is a legal figure on the title, not a float).
LTV is integer basis points (7000 = 70.00%), exact on both databases.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.platform.db import Base, BigIntPK, JSONType

AREA_M2 = Numeric(10, 2)


class Property(Base):
    """A residential property offered as collateral, with the facts a valuation reads.

    ``rm_user_id`` is the relationship manager of the client who owns it: an RM sees only the
    properties of their own clients; ``owner_org_id`` is the borrower's org (a dealer, an
    enterprise, or the retail clients' org with ``owner_name`` naming the person)."""

    __tablename__ = "col_properties"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    owner_name: Mapped[str] = mapped_column(String(200))
    rm_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    city: Mapped[str] = mapped_column(String(40))
    district: Mapped[str] = mapped_column(String(60))
    community: Mapped[str] = mapped_column(String(120), index=True)
    address: Mapped[str] = mapped_column(String(300))
    area_m2: Mapped[Decimal] = mapped_column(AREA_M2)
    floor: Mapped[int]
    total_floors: Mapped[int]
    build_year: Mapped[int]
    orientation: Mapped[str] = mapped_column(String(12))  # S, SN, SE, SW, E, W, EW, N
    decoration: Mapped[str] = mapped_column(String(12))  # rough | simple | fine | luxury
    rooms: Mapped[int]
    property_type: Mapped[str] = mapped_column(String(20))  # apartment | townhouse | villa
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12))  # active | released
    latest_valuation_id: Mapped[int | None]
    latest_value: Mapped[Decimal | None]
    latest_valued_at: Mapped[datetime | None]
    created_by_user_id: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CreditLink(Base):
    """A credit a property secures: a floor-plan credit line, a factoring agreement or a loan
    booked in the core banking system. ``outstanding`` is the exposure as last read (floor-plan
    and factoring through their ports; a loan's as reported), ``ltv_bp`` the last LTV."""

    __tablename__ = "col_credit_links"
    __table_args__ = (
        UniqueConstraint("property_id", "credit_kind", "credit_ref", name="uq_col_credit_link"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("col_properties.id"), index=True)
    # floorplan_line | factoring_agreement | loan
    credit_kind: Mapped[str] = mapped_column(String(24))
    credit_ref: Mapped[str] = mapped_column(String(60))
    borrower_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    outstanding: Mapped[Decimal]
    outstanding_at: Mapped[datetime | None]
    ltv_bp: Mapped[int | None]
    ltv_level: Mapped[str | None] = mapped_column(String(12))  # ok | warn | alarm | block
    ltv_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12))  # active | released
    created_by_user_id: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MortgageRegistration(Base):
    """The mortgage registered on a property at the real-estate registry: entered by one
    member of staff (maker), approved or rejected by another (checker)."""

    __tablename__ = "col_registrations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("col_properties.id"), index=True)
    credit_link_id: Mapped[int | None] = mapped_column(ForeignKey("col_credit_links.id"))
    status: Mapped[str] = mapped_column(String(12))  # pending | registered | rejected | released
    certificate_no: Mapped[str] = mapped_column(String(60))
    registered_on: Mapped[date]
    maker_user_id: Mapped[int]
    checker_user_id: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class PropertyDocument(Base):
    """A document about a property, kept by reference (the document store's URI and the
    content's SHA-256), never the file itself."""

    __tablename__ = "col_documents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("col_properties.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # title_deed | mortgage_certificate | ...
    uri: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    added_by_user_id: Mapped[int]
    added_at: Mapped[datetime]


class AvmModel(Base):
    """A trained automated valuation model in the registry: one champion (values every
    request), challengers beside it, the rest retired. ``artifact`` is the pickled model,
    checked against ``artifact_sha256`` on load; ``data_hash`` names the training data."""

    __tablename__ = "col_models"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    method: Mapped[str] = mapped_column(String(40))  # ensemble
    status: Mapped[str] = mapped_column(String(12), index=True)  # champion|challenger|retired
    data_hash: Mapped[str] = mapped_column(String(64))
    trained_rows: Mapped[int]
    feature_spec: Mapped[dict]
    metrics: Mapped[dict]
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    trained_by: Mapped[str] = mapped_column(String(80))
    trained_at: Mapped[datetime]
    promoted_at: Mapped[datetime | None]


class Valuation(Base):
    """One valuation, logged with its inputs, the model version and the result: an ad-hoc
    request (``property_id`` null), a registered property's, or a batch revaluation's."""

    __tablename__ = "col_valuations"
    __table_args__ = (
        UniqueConstraint("run_id", "property_id", name="uq_col_valuation_run_property"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    property_id: Mapped[int | None] = mapped_column(ForeignKey("col_properties.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("col_revaluation_runs.id"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("col_models.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(12))  # adhoc | property | revaluation
    inputs: Mapped[dict]
    value: Mapped[Decimal]
    value_low: Mapped[Decimal]
    value_high: Mapped[Decimal]
    confidence_sd: Mapped[float] = mapped_column(Float)
    blend: Mapped[dict]
    breakdown: Mapped[dict]
    requested_by_user_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(index=True)


class RevaluationRun(Base):
    """A batch revaluation of the whole book by one model: ``run_key`` makes a rerun of the
    same run resume it rather than value twice."""

    __tablename__ = "col_revaluation_runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(60), unique=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("col_models.id"))
    status: Mapped[str] = mapped_column(String(12))  # running | done | failed
    total: Mapped[int]
    done: Mapped[int]
    summary: Mapped[dict]
    started_by: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class MarketSale(Base):
    """A residential sale observed on the market (registry transfers, the bank's own
    disposals, data vendors): the truth the quarterly ratio study values the champion
    against. ``source_ref`` makes a re-import of the same sale a no-op."""

    __tablename__ = "col_sales"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source_ref: Mapped[str] = mapped_column(String(80), unique=True)
    city: Mapped[str] = mapped_column(String(40))
    district: Mapped[str] = mapped_column(String(60))
    community: Mapped[str] = mapped_column(String(120))
    area_m2: Mapped[Decimal] = mapped_column(AREA_M2)
    floor: Mapped[int]
    total_floors: Mapped[int]
    build_year: Mapped[int]
    orientation: Mapped[str] = mapped_column(String(12))
    decoration: Mapped[str] = mapped_column(String(12))
    rooms: Mapped[int]
    property_type: Mapped[str] = mapped_column(String(20))
    price: Mapped[Decimal]
    sale_date: Mapped[date] = mapped_column(index=True)
    created_at: Mapped[datetime]


class RatioStudy(Base):
    """The IAAO ratio study of one quarter's sales valued by one model, with its alarms
    (a figure outside IAAO's range, or drifted from the model's own held-out figures)."""

    __tablename__ = "col_ratio_studies"
    __table_args__ = (UniqueConstraint("quarter", "model_id", name="uq_col_ratio_study"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    quarter: Mapped[str] = mapped_column(String(7))  # 2026Q4
    model_id: Mapped[int] = mapped_column(ForeignKey("col_models.id"))
    sales: Mapped[int]
    metrics: Mapped[dict]
    alarms: Mapped[list] = mapped_column(JSONType)
    created_at: Mapped[datetime]
