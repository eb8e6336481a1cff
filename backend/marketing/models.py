"""Marketing tables (prefix ``mkt_``): the retail client 360 (clients, holdings, the
transaction feed, tags, contact consent), marketing events, segments, campaigns with their
stratified assignment, contacts (every message or call, sent or refused), RM tasks,
conversions, uplift models, list exports and RM KPI credits.

Money is ``Decimal`` (NUMERIC(20, 2); integer fen on SQLite). A client's ``tier`` is one of
``mass``, ``affluent``, ``wealth``, ``private`` (by AUM, see backend/marketing/rules.py).

Retail clients here are the bank's core-banking customers as the marketing feed delivers them;
``user_id`` links the few who have a FinEdge login (the hall knows them at the door: a VIP
arrival), ``rm_user_id`` is their relationship manager, ``outlet`` the branch code of the
outlet that serves them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.platform.db import Base, BigIntPK, JSONType

# the kinds of marketing event (``MarketingEvent.kind``; backend/marketing/events detects them)
EVENT_KINDS = (
    "large_in",
    "large_out",
    "maturity",
    "early_repayment",
    "dormancy",
    "reactivation",
    "vip_arrival",
)


class Client(Base):
    __tablename__ = "mkt_clients"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    client_no: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    rm_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    outlet: Mapped[str] = mapped_column(String(20), index=True)  # branch code of the outlet
    birth_year: Mapped[int]
    gender: Mapped[str] = mapped_column(String(1))  # F | M
    opened_on: Mapped[date]
    tier: Mapped[str] = mapped_column(String(10), index=True)  # mass|affluent|wealth|private
    aum: Mapped[Decimal]  # assets under management: deposits + wealth products
    aum_on: Mapped[date]
    risk_level: Mapped[int] = mapped_column(Integer, default=3)  # 1 (cautious) .. 5
    digital_active: Mapped[bool] = mapped_column(Boolean, default=False)
    dormant: Mapped[bool] = mapped_column(Boolean, default=False)
    last_txn_at: Mapped[datetime | None]
    dnd_from: Mapped[str | None] = mapped_column(String(5))  # "21:00": no contact from ...
    dnd_to: Mapped[str | None] = mapped_column(String(5))  # ... to "09:00" (local time)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Holding(Base):
    """A product the client holds: demand or time deposit, wealth product, loan."""

    __tablename__ = "mkt_holdings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)  # the core system's id
    client_id: Mapped[int] = mapped_column(ForeignKey("mkt_clients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # demand | time | wealth | loan
    product_code: Mapped[str] = mapped_column(String(30), index=True)
    product_name: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal]  # balance; a loan's outstanding principal
    rate: Mapped[Decimal | None]  # annual rate, percent (money-typed: two places)
    opened_on: Mapped[date]
    matures_on: Mapped[date | None] = mapped_column(index=True)
    closed_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(10))  # active | matured | closed | repaid


class Transaction(Base):
    """The core banking transaction feed (imported, idempotent by ``ref``). Amounts are signed:
    positive into the client's accounts, negative out of them."""

    __tablename__ = "mkt_transactions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("mkt_clients.id"), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    amount: Mapped[Decimal]
    # deposit | withdrawal | transfer_in | transfer_out | wealth_buy | wealth_redeem |
    # loan_repay | loan_prepay | card | salary
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(12))  # counter | app | atm | pos | batch
    holding_ref: Mapped[str | None] = mapped_column(String(40))


class ClientTag(Base):
    """A tag on a client: from the versioned rule file (``source='rule'``) or a model
    (``source='model'``, with its score)."""

    __tablename__ = "mkt_client_tags"
    __table_args__ = (UniqueConstraint("client_id", "tag"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("mkt_clients.id"), index=True)
    tag: Mapped[str] = mapped_column(String(40), index=True)
    source: Mapped[str] = mapped_column(String(8))  # rule | model
    version: Mapped[str] = mapped_column(String(40))  # rule file version or model version
    score: Mapped[float | None] = mapped_column(Float)
    assigned_at: Mapped[datetime]


class ContactConsent(Base):
    """The client's consent to be contacted on one channel (the latest word counts)."""

    __tablename__ = "mkt_contact_consents"
    __table_args__ = (UniqueConstraint("client_id", "channel"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("mkt_clients.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # sms | call | miniapp
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(20))  # counter | app | import | rm
    recorded_at: Mapped[datetime]


class MarketingEvent(Base):
    """A marketing event of one client, de-duplicated by ``(client, kind, window_key)``."""

    __tablename__ = "mkt_events"
    __table_args__ = (UniqueConstraint("client_id", "kind", "window_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("mkt_clients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # one of EVENT_KINDS
    window_key: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    detected_at: Mapped[datetime]
    amount: Mapped[Decimal | None]
    ref: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSONType, default=dict)


class Cursor(Base):
    """Where a detector stopped in a feed (the last transaction or hall sighting id read)."""

    __tablename__ = "mkt_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigIntPK)
    updated_at: Mapped[datetime]


class Segment(Base):
    """A client segment: a rule (tags, AUM, tier, events) or a model list (propensity or
    uplift scores, top k or above a cut-off)."""

    __tablename__ = "mkt_segments"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # rule | model
    definition: Mapped[dict] = mapped_column(JSONType)
    size: Mapped[int | None]
    sized_at: Mapped[datetime | None]
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class SegmentMember(Base):
    """A segment frozen for use (a campaign's list): the members and their scores."""

    __tablename__ = "mkt_segment_members"

    segment_id: Mapped[int] = mapped_column(ForeignKey("mkt_segments.id"), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("mkt_clients.id"), primary_key=True)
    score: Mapped[float | None] = mapped_column(Float)


class Campaign(Base):
    __tablename__ = "mkt_campaigns"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # renewal | aum_growth | tier_up | purchase: what the campaign is judged on
    target_indicator: Mapped[str] = mapped_column(String(16))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("mkt_segments.id"))
    product_code: Mapped[str | None] = mapped_column(String(30))
    script: Mapped[str] = mapped_column(Text, default="")
    sms_template: Mapped[str] = mapped_column(Text, default="")
    channels: Mapped[list] = mapped_column(JSONType, default=list)  # sms | miniapp | call | visit
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    budget: Mapped[Decimal]
    cost_per_contact: Mapped[Decimal]
    control_share: Mapped[float] = mapped_column(Float, default=0.25)  # 3:1 by default
    seed: Mapped[int] = mapped_column(BigIntPK)  # the assignment's random seed (kept)
    power: Mapped[dict] = mapped_column(JSONType, default=dict)  # shown before launch
    status: Mapped[str] = mapped_column(String(10))  # draft | launched | ended
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    launched_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    launched_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Assignment(Base):
    """A client's arm in a campaign, drawn once at launch (stratified by tier) and kept: the
    control group is a persistent holdout, never contacted by the campaign."""

    __tablename__ = "mkt_assignments"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("mkt_campaigns.id"), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("mkt_clients.id"), primary_key=True)
    arm: Mapped[str] = mapped_column(String(10))  # treatment | control
    stratum: Mapped[str] = mapped_column(String(20))  # the client's tier at assignment
    aum_before: Mapped[Decimal | None]  # the client's AUM at assignment (growth is against it)
    score: Mapped[float | None] = mapped_column(Float)  # the list's score when it was picked
    assigned_at: Mapped[datetime]


class Contact(Base):
    """Every contact attempt: sent, or refused with its reason (no consent, holdout,
    do-not-disturb, fatigue, budget). Fatigue limits count the sent ones."""

    __tablename__ = "mkt_contacts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)  # idempotency
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("mkt_campaigns.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("mkt_clients.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # sms | miniapp | call | visit
    status: Mapped[str] = mapped_column(String(10))  # sent | refused | failed
    reason: Mapped[str | None] = mapped_column(String(40))
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_ref: Mapped[str | None] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(index=True)


class Task(Base):
    """An RM's task for one treated client of a campaign: call, SMS or visit, with outcome."""

    __tablename__ = "mkt_tasks"
    __table_args__ = (UniqueConstraint("campaign_id", "client_id", "kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("mkt_campaigns.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("mkt_clients.id"), index=True)
    rm_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # call | sms | visit
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(10))  # open | done | cancelled
    # reached | not_reached | interested | declined | converted
    outcome: Mapped[str | None] = mapped_column(String(12))
    opportunity: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Conversion(Base):
    """A client of a campaign (either arm) reached its target indicator, attributed from the
    holdings and the transaction feed within the campaign's window."""

    __tablename__ = "mkt_conversions"
    __table_args__ = (UniqueConstraint("campaign_id", "client_id", "kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("mkt_campaigns.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("mkt_clients.id"), index=True)
    arm: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(16))  # renewal | purchase | tier_up | aum_growth
    amount: Mapped[Decimal | None]
    ref: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]


class UpliftModel(Base):
    """An uplift model trained on campaign results (meta-learner on scikit-learn)."""

    __tablename__ = "mkt_uplift_models"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    version: Mapped[int]
    method: Mapped[str] = mapped_column(String(20))  # t_learner | x_learner | ...
    status: Mapped[str] = mapped_column(String(12))  # champion | challenger | retired
    trained_on: Mapped[list] = mapped_column(JSONType, default=list)  # campaign codes
    features: Mapped[list] = mapped_column(JSONType, default=list)
    metrics: Mapped[dict] = mapped_column(JSONType, default=dict)
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ListExport(Base):
    """A list taken out of FinEdge (segment or campaign members): who, what, how many."""

    __tablename__ = "mkt_exports"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("mkt_segments.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("mkt_campaigns.id"))
    rows: Mapped[int]
    purpose: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class KpiCredit(Base):
    """KPI points credited to an RM for a campaign: incremental conversions (treated minus
    control, scaled to the RM's treated clients) and the activity counts."""

    __tablename__ = "mkt_kpi_credits"
    __table_args__ = (UniqueConstraint("rm_user_id", "campaign_id", "metric"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    rm_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("mkt_campaigns.id"), index=True)
    outlet: Mapped[str] = mapped_column(String(20))
    # incremental_conversions | calls | sms | opportunity_completion | reach_rate
    metric: Mapped[str] = mapped_column(String(24))
    value: Mapped[float] = mapped_column(Float)
    points: Mapped[float] = mapped_column(Float)
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    computed_at: Mapped[datetime]
