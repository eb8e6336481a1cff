"""Risk early-warning tables (all prefixed ``risk_``).

- ``risk_enterprises``: keyed by the unified social credit code (nullable until a registry
  record arrives for an enterprise first met through the bank's own events); optionally the
  ``orgs`` row of a dealer or client, and the relationship manager who owns it.
- ``risk_enterprise_aliases``: normalised names seen in feeds -> enterprise (entity resolution).
- ``risk_persons``: executives and shareholders, keyed by the provider's person key.
- ``risk_events``: every risk event with its provenance (source, external id, source time);
  (source, external_id) is unique, which makes ingestion idempotent.
- ``risk_source_facts``: the latest value of a profile attribute per source, so that the view
  can show where sources disagree.
- ``risk_edges``: the knowledge graph (equity with share, investment, executive role, group,
  guarantee with amount, trade with volume) between enterprises and persons.
- ``risk_signals``: graded signals with reason, evidence, and the warning workflow's state;
  ``active_key`` is unique, so at most one active signal exists per (enterprise, rule).
- ``risk_signal_reviews``: each maker and checker step, with its comment.
- ``risk_inbox_items``: the signals routed to a user.
- ``risk_tags``: derived, explainable tags.
- ``risk_models``: the model registry (artifact, metrics, champion/challenger status).
- ``risk_scan_runs``, ``risk_feed_runs``: progress and reports of full scans and feed loads.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.platform.db import Base, BigIntPK, JSONType

ACTIVE_STATUSES = ("open", "pending_review", "confirmed")
CLOSED_STATUSES = ("dismissed", "lifted", "expired")
SIGNAL_STATUSES = ACTIVE_STATUSES + CLOSED_STATUSES


class Enterprise(Base):
    __tablename__ = "risk_enterprises"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    normalized_name: Mapped[str] = mapped_column(String(200), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), unique=True)
    rm_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="in_business")
    registered_capital: Mapped[Decimal | None]
    established_on: Mapped[date | None]
    industry: Mapped[str | None] = mapped_column(String(60))
    region: Mapped[str | None] = mapped_column(String(60))
    attributes: Mapped[dict] = mapped_column(default=dict)
    graph_metrics: Mapped[dict | None]
    risk_level: Mapped[str | None] = mapped_column(String(10), index=True)
    risk_score: Mapped[float | None] = mapped_column(Float)
    scored_by_model_id: Mapped[int | None] = mapped_column(BigInteger)
    scanned_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EnterpriseAlias(Base):
    __tablename__ = "risk_enterprise_aliases"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("risk_enterprises.id"), index=True)
    normalized_name: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]


class Person(Base):
    __tablename__ = "risk_persons"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


class RiskEvent(Base):
    __tablename__ = "risk_events"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_risk_events_enterprise_time", "enterprise_id", "source_time"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("risk_enterprises.id"))
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[dict]
    source_time: Mapped[datetime]
    ingested_at: Mapped[datetime]
    # when the bank learned of the event (point in time: features and rules as of T see only
    # events with source_time <= T and known_at <= T). The ingestion clock (simulated in a
    # replay); in a marked backfill the vendor's publication time (``published``) or, without
    # one, the source time.
    known_at: Mapped[datetime] = mapped_column(index=True)
    published_at: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)


class SourceFact(Base):
    __tablename__ = "risk_source_facts"
    __table_args__ = (UniqueConstraint("enterprise_id", "source", "attribute"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("risk_enterprises.id"))
    source: Mapped[str] = mapped_column(String(40))
    attribute: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(300))
    source_time: Mapped[datetime]


class RiskEdge(Base):
    __tablename__ = "risk_edges"
    __table_args__ = (
        UniqueConstraint("src_type", "src_id", "dst_type", "dst_id", "kind"),
        Index("ix_risk_edges_dst", "dst_type", "dst_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    src_type: Mapped[str] = mapped_column(String(10))
    src_id: Mapped[int] = mapped_column(BigInteger)
    dst_type: Mapped[str] = mapped_column(String(10))
    dst_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(12), index=True)
    share: Mapped[float | None] = mapped_column(Float)
    amount: Mapped[Decimal | None]
    volume: Mapped[Decimal | None]
    role: Mapped[str | None] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(String(40))
    source_time: Mapped[datetime]
    # a relation that ended (a released guarantee, a sold stake): from this time on it is not
    # part of the graph as of any later moment, and contagion stops there
    ended_at: Mapped[datetime | None]
    known_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class RiskSignal(Base):
    __tablename__ = "risk_signals"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("risk_enterprises.id"), index=True)
    origin: Mapped[str] = mapped_column(String(12))
    rule_id: Mapped[str] = mapped_column(String(40))
    rule_version: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(10), index=True)
    base_level: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    evidence: Mapped[dict]
    evidence_keys: Mapped[list] = mapped_column(JSONType)
    score: Mapped[float | None] = mapped_column(Float)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    dedup_key: Mapped[str] = mapped_column(String(80), index=True)
    active_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    raised_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    escalated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    pending_decision: Mapped[str | None] = mapped_column(String(10))
    proposed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_comment: Mapped[str | None] = mapped_column(Text)
    proposed_at: Mapped[datetime | None]
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_comment: Mapped[str | None] = mapped_column(Text)
    # raised by a go-live backfill: as the signal would have stood at the time, not news
    backfill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_blocking(self) -> bool:
        return self.level == "hard" and self.status in ACTIVE_STATUSES


class SignalReview(Base):
    __tablename__ = "risk_signal_reviews"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("risk_signals.id"), index=True)
    step: Mapped[str] = mapped_column(String(10))  # propose | approve | reject | decide
    decision: Mapped[str] = mapped_column(String(10))  # confirm | dismiss | lift
    comment: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime]


class InboxItem(Base):
    __tablename__ = "risk_inbox_items"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("risk_signals.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class EnterpriseTag(Base):
    __tablename__ = "risk_tags"
    __table_args__ = (UniqueConstraint("enterprise_id", "code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("risk_enterprises.id"))
    code: Mapped[str] = mapped_column(String(40), index=True)
    label: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(300))
    evidence: Mapped[dict]
    since: Mapped[datetime]


class RiskModel(Base):
    __tablename__ = "risk_models"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    algorithm: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), index=True)  # champion|challenger|retired
    feature_names: Mapped[list] = mapped_column(JSONType)
    thresholds: Mapped[dict]
    metrics: Mapped[dict]
    params: Mapped[dict]
    training: Mapped[dict]
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[datetime]
    trained_by: Mapped[str] = mapped_column(String(80))
    promoted_at: Mapped[datetime | None]


class ScanRun(Base):
    __tablename__ = "risk_scan_runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    trigger: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))  # running | ok | failed
    phase: Mapped[str] = mapped_column(String(20))
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    ruleset_version: Mapped[str] = mapped_column(String(20))
    model_id: Mapped[int | None] = mapped_column(BigInteger)
    report: Mapped[dict | None]


class FeedRun(Base):
    __tablename__ = "risk_feed_runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    adapter: Mapped[str] = mapped_column(String(20))
    location: Mapped[str | None] = mapped_column(String(300))
    checksum: Mapped[str | None] = mapped_column(String(64))
    cursor: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    received: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    rejections: Mapped[dict]
    actor: Mapped[str] = mapped_column(String(80))
    # ok | failed (the file's transaction rolled back; nothing of it kept) | quarantined
    # (the file was moved to the quarantine folder with its reason)
    status: Mapped[str] = mapped_column(String(12), default="ok", server_default="ok")
    error: Mapped[str | None] = mapped_column(String(500))
    quarantined_to: Mapped[str | None] = mapped_column(String(300))


class ResolutionItem(Base):
    """A record naming an enterprise the bank does not know (a well-formed but unknown credit
    code, or a name matching nobody): held for a person to resolve instead of creating an
    enterprise. Resolving it attaches the record to an enterprise (existing or new) and loads
    it; rejecting it keeps it out."""

    __tablename__ = "risk_resolution_items"
    __table_args__ = (UniqueConstraint("source", "record_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(120))
    credit_code: Mapped[str | None] = mapped_column(String(18), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(40))
    record: Mapped[dict]
    status: Mapped[str] = mapped_column(String(12), index=True)  # pending|resolved|rejected
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("risk_enterprises.id"))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(80))
    comment: Mapped[str | None] = mapped_column(Text)


class RulesetState(Base):
    """Which rule file version is in force (champion), on trial (challenger) or retired. A
    version without a row is a challenger; the highest version is in force until a promotion
    has been approved."""

    __tablename__ = "risk_rulesets"

    version: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))  # champion | challenger | retired
    promoted_at: Mapped[datetime | None]
    promoted_by: Mapped[str | None] = mapped_column(String(80))


class Backtest(Base):
    """A backtest report (``finedge risk backtest``) of one ruleset version or model, on a
    named set of deliveries and ground truth, kept so a promotion shows it beside the
    champion's."""

    __tablename__ = "risk_backtests"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(10))  # ruleset | model
    subject: Mapped[str] = mapped_column(String(40), index=True)  # version, or model id
    dataset: Mapped[str] = mapped_column(String(200))  # deliveries and truth described
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    period_from: Mapped[date]
    period_to: Mapped[date]
    report: Mapped[dict]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(80))


class Promotion(Base):
    """Maker-checker promotion of a challenger (ruleset version or model) to champion, with
    both backtests on the same dataset side by side."""

    __tablename__ = "risk_promotions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(10))  # ruleset | model
    subject: Mapped[str] = mapped_column(String(40))
    challenger_backtest_id: Mapped[int] = mapped_column(ForeignKey("risk_backtests.id"))
    champion_backtest_id: Mapped[int | None] = mapped_column(ForeignKey("risk_backtests.id"))
    status: Mapped[str] = mapped_column(String(12), index=True)  # pending|approved|rejected
    proposed_by: Mapped[str] = mapped_column(String(80))
    proposed_comment: Mapped[str] = mapped_column(Text)
    proposed_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decision_comment: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
