"""Ingestion: feed records -> enterprises, events with provenance, source facts, graph edges.

Idempotent by construction: an event is keyed by (source, record_id); the same record again is
a duplicate (nothing changes), the same id with other content is an update of that event (its
revision goes up), and a concurrent load of the same feed is caught by the unique constraint
and counted as duplicates.  Edges are keyed by their two ends and kind.  A malformed record is
rejected with a reason and the rest of the feed loads.  Every load writes one ``FeedRun`` row
and one audit record; touched enterprises are re-evaluated at once (rules and the champion
model), so that a hard signal blocks disbursement as soon as its event arrives."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.live import LiveEmitter
from backend.risk import catalog
from backend.risk.feeds import EnterpriseRef, FeedRecord, Rejection, parse_record
from backend.risk.models import Enterprise, FeedRun, RiskEdge, RiskEvent, SourceFact
from backend.risk.resolution import Resolver

SOURCE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_STORED_REJECTIONS = 200
CHUNK = 500
_FACTS = "risk_ingest_facts"


@dataclass
class IngestReport:
    source: str
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    enterprises: set[int] = field(default_factory=set)
    enterprises_created: int = 0
    signals: dict[str, Any] = field(default_factory=dict)
    feed_run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "feed_run_id": self.feed_run_id,
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "rejected": len(self.rejected),
            "rejections": [r.as_dict() for r in self.rejected[:MAX_STORED_REJECTIONS]],
            "enterprises_touched": len(self.enterprises),
            "enterprises_created": self.enterprises_created,
            "signals": self.signals,
        }


def check_source(source: str) -> str:
    if not isinstance(source, str) or not SOURCE_RE.match(source):
        raise ValidationFailed(
            "source must be 2-40 lower-case letters, digits or underscores",
            code="invalid_source",
            details={"source": ["lower-case slug, e.g. court or news"]},
        )
    return source


def ingest_records(
    session: Session,
    actor: Actor,
    source: str,
    records: Iterable[Any],
    *,
    adapter: str = "api",
    location: str | None = None,
    checksum: str | None = None,
    cursor: str | None = None,
    pre_rejected: Sequence[Rejection] = (),
    now: datetime | None = None,
    live: LiveEmitter | None = None,
    evaluate: bool = True,
) -> IngestReport:
    """Load one batch of feed records from ``source``; returns what happened to each."""
    check_source(source)
    now = now or utcnow()
    report = IngestReport(source=source)
    report.rejected.extend(pre_rejected)
    parsed: list[FeedRecord] = []
    seen: dict[str, str] = {}
    for index, raw in enumerate(records):
        report.received += 1
        result = parse_record(raw, index, now=now)
        if isinstance(result, Rejection):
            report.rejected.append(result)
            continue
        previous = seen.get(result.record_id)
        if previous is not None:
            if previous == result.content_hash:
                report.duplicates += 1
            else:
                report.rejected.append(
                    Rejection(
                        index,
                        result.record_id,
                        "duplicate_record_id",
                        "the same record_id appears earlier in this batch with other content",
                    )
                )
            continue
        seen[result.record_id] = result.content_hash
        parsed.append(result)
    report.received += len(pre_rejected)
    resolver = Resolver(session, source, now)
    order = {"profile": 0, "edge": 1, "event": 2}
    parsed.sort(key=lambda r: (order[r.type], r.index))
    events: list[tuple[FeedRecord, Enterprise]] = []
    refs = [r.enterprise for r in parsed if r.enterprise is not None] + [
        ref
        for r in parsed
        for ref in (r.source_from, r.source_to)
        if isinstance(ref, EnterpriseRef)
    ]
    resolver.prefetch(refs)
    try:
        with session.no_autoflush:
            _resolve_all(session, resolver, source, parsed, events, report, now)
        for start in range(0, len(events), CHUNK):
            _ingest_events(session, source, events[start : start + CHUNK], report, now)
    finally:
        session.info.pop(_FACTS, None)
    report.enterprises_created = resolver.created
    report.rejected.sort(key=lambda r: r.index)
    run = FeedRun(
        source=source,
        adapter=adapter,
        location=(location or "")[:300] or None,
        checksum=checksum,
        cursor=cursor,
        started_at=now,
        finished_at=utcnow(),
        received=report.received,
        accepted=report.accepted,
        duplicates=report.duplicates,
        updated=report.updated,
        rejected=len(report.rejected),
        rejections={"items": [r.as_dict() for r in report.rejected[:MAX_STORED_REJECTIONS]]},
        actor=actor.username,
    )
    session.add(run)
    session.flush()
    report.feed_run_id = run.id
    audit.record(
        session,
        actor,
        "risk.feed_ingested",
        "risk_feed_run",
        run.id,
        after={k: v for k, v in report.as_dict().items() if k not in ("rejections", "signals")},
    )
    if evaluate and report.enterprises:
        from backend.risk.evaluate import evaluate_enterprises

        report.signals = evaluate_enterprises(
            session, sorted(report.enterprises), now=now, live=live
        ).as_dict()
    return report


def _resolve_all(
    session: Session,
    resolver: Resolver,
    source: str,
    parsed: list[FeedRecord],
    events: list[tuple[FeedRecord, Enterprise]],
    report: IngestReport,
    now: datetime,
) -> None:
    """Apply profiles and edges; resolve event records to their enterprise."""
    for record in parsed:
        if record.type == "edge":
            _ingest_edge(session, resolver, source, record, report, now)
            continue
        ent = resolver.enterprise(record.enterprise, create=True)
        if ent is None:
            report.rejected.append(
                Rejection(
                    record.index,
                    record.record_id,
                    "unresolved_enterprise",
                    f"no single known enterprise is named {record.enterprise.name!r}; "
                    "send the credit code",
                )
            )
            continue
        if record.type == "profile":
            _apply_profile(session, ent, source, record, report, now)
        else:
            events.append((record, ent))


# --- events -------------------------------------------------------------------------------


def _ingest_events(
    session: Session,
    source: str,
    batch: list[tuple[FeedRecord, Enterprise]],
    report: IngestReport,
    now: datetime,
) -> None:
    existing = {
        row.external_id: row
        for row in session.execute(
            select(RiskEvent.id, RiskEvent.external_id, RiskEvent.content_hash).where(
                RiskEvent.source == source,
                RiskEvent.external_id.in_([r.record_id for r, _e in batch]),
            )
        )
    }
    new_rows = []
    for record, ent in batch:
        found = existing.get(record.record_id)
        if found is None:
            new_rows.append((record, ent))
        elif found.content_hash == record.content_hash:
            report.duplicates += 1
        else:
            event = session.get(RiskEvent, found.id)
            event.enterprise_id = ent.id
            event.kind, event.category = record.kind, record.category
            event.severity, event.title, event.data = record.severity, record.title, record.data
            event.source_time, event.content_hash = record.time, record.content_hash
            event.revision += 1
            event.ingested_at = now
            report.updated += 1
            report.enterprises.add(ent.id)
            _facts_from_event(session, ent, source, record)
    if not new_rows:
        return
    rows = [_event_row(source, record, ent, now) for record, ent in new_rows]
    try:
        with session.begin_nested():
            session.execute(insert(RiskEvent), rows)
    except IntegrityError:  # a concurrent load inserted some of them: go one by one
        for row in rows:
            try:
                with session.begin_nested():
                    session.execute(insert(RiskEvent), [row])
            except IntegrityError:
                report.duplicates += 1
                continue
            report.accepted += 1
            report.enterprises.add(row["enterprise_id"])
    else:
        report.accepted += len(rows)
        report.enterprises.update(row["enterprise_id"] for row in rows)
    for record, ent in new_rows:
        _facts_from_event(session, ent, source, record)


def _event_row(source: str, record: FeedRecord, ent: Enterprise, now: datetime) -> dict:
    return {
        "enterprise_id": ent.id,
        "source": source,
        "external_id": record.record_id,
        "category": record.category,
        "kind": record.kind,
        "severity": record.severity,
        "title": record.title,
        "data": record.data,
        "source_time": record.time,
        "ingested_at": now,
        "content_hash": record.content_hash,
        "revision": 1,
    }


# --- profile facts ----------------------------------------------------------------------------


def _set_fact(
    session: Session, ent: Enterprise, source: str, attribute: str, value: Any, when: datetime
) -> str | None:
    """Record what ``source`` says of ``attribute``: 'created', 'changed' or None (same)."""
    text = str(value)[:300]
    cache = session.info.setdefault(_FACTS, {})
    facts = cache.get((ent.id, source))
    if facts is None:  # one query per enterprise and source within one ingestion
        facts = {
            f.attribute: f
            for f in session.scalars(
                select(SourceFact).where(
                    SourceFact.enterprise_id == ent.id, SourceFact.source == source
                )
            )
        }
        cache[(ent.id, source)] = facts
    fact = facts.get(attribute)
    if fact is None:
        fact = SourceFact(
            enterprise_id=ent.id, source=source, attribute=attribute, value=text, source_time=when
        )
        session.add(fact)
        facts[attribute] = fact
        return "created"
    if when >= fact.source_time and (fact.value, fact.source_time) != (text, when):
        fact.value, fact.source_time = text, when
        return "changed"
    return None


def _apply_master(ent: Enterprise, attribute: str, value: Any) -> None:
    if attribute == "registered_capital":
        ent.registered_capital = Decimal(value)
    elif attribute == "established_on":
        ent.established_on = date.fromisoformat(value)
    elif attribute in ("status", "industry", "region"):
        setattr(ent, attribute, value)
    elif attribute == "name":
        from backend.risk.creditcode import normalize_name

        ent.name, ent.normalized_name = value[:200], normalize_name(value)[:200]
    else:
        ent.attributes = {**(ent.attributes or {}), attribute: value}


_COLUMNS = ("registered_capital", "established_on", "status", "industry", "region")


def _master_value(ent: Enterprise, attribute: str) -> Any:
    if attribute in _COLUMNS:
        return getattr(ent, attribute)
    return (ent.attributes or {}).get(attribute)


def _apply_profile(
    session: Session,
    ent: Enterprise,
    source: str,
    record: FeedRecord,
    report: IngestReport,
    now: datetime,
) -> None:
    data = dict(record.data)
    if record.enterprise and record.enterprise.name:
        data.setdefault("name", record.enterprise.name)
    master = source in catalog.MASTER_SOURCES
    outcomes = set()
    for attribute, value in data.items():
        if attribute in catalog.PROFILE_ATTRIBUTES:
            outcomes.add(_set_fact(session, ent, source, attribute, value, record.time))
        elif _master_value(ent, attribute) != value:
            outcomes.add("changed")
        if master or (attribute != "name" and _master_value(ent, attribute) in (None, "")):
            _apply_master(ent, attribute, value)
    if outcomes <= {None}:
        report.duplicates += 1
        return
    if "created" in outcomes:
        report.accepted += 1
    else:
        report.updated += 1
    ent.updated_at = now
    report.enterprises.add(ent.id)


def _facts_from_event(session: Session, ent: Enterprise, source: str, record: FeedRecord) -> None:
    data, master = record.data, source in catalog.MASTER_SOURCES
    fact = {
        "capital_change": ("registered_capital", data.get("new")),
        "status_change": ("status", data.get("status")),
        "address_change": ("address", data.get("address")),
    }.get(record.kind)
    if fact and fact[1] is not None:
        _set_fact(session, ent, source, fact[0], fact[1], record.time)
        if master:
            _apply_master(ent, fact[0], fact[1])
    if record.kind == "abnormal_operation" and master and ent.status == "in_business":
        ent.status = "abnormal"
    if record.kind == "abnormal_operation_removed" and master and ent.status == "abnormal":
        ent.status = "in_business"


# --- edges ------------------------------------------------------------------------------------


def _ingest_edge(
    session: Session,
    resolver: Resolver,
    source: str,
    record: FeedRecord,
    report: IngestReport,
    now: datetime,
) -> None:
    ends = []
    for ref in (record.source_from, record.source_to):
        if isinstance(ref, EnterpriseRef):
            ent = resolver.enterprise(ref, create=True)
            if ent is None:
                report.rejected.append(
                    Rejection(
                        record.index,
                        record.record_id,
                        "unresolved_enterprise",
                        f"edge end {ref.name!r} matches no single known enterprise",
                    )
                )
                return
            ends.append(("enterprise", ent.id))
        else:
            ends.append(("person", resolver.person(ref).id))
    (src_type, src_id), (dst_type, dst_id) = ends
    if (src_type, src_id) == (dst_type, dst_id):
        report.rejected.append(
            Rejection(record.index, record.record_id, "invalid_edge", "both ends are the same")
        )
        return
    edge = session.scalar(
        select(RiskEdge).where(
            RiskEdge.src_type == src_type,
            RiskEdge.src_id == src_id,
            RiskEdge.dst_type == dst_type,
            RiskEdge.dst_id == dst_id,
            RiskEdge.kind == record.kind,
        )
    )
    values = {
        "share": record.share,
        "amount": record.amount,
        "volume": record.volume,
        "role": record.data.get("role"),
    }
    if edge is None:
        session.add(
            RiskEdge(
                src_type=src_type,
                src_id=src_id,
                dst_type=dst_type,
                dst_id=dst_id,
                kind=record.kind,
                source=source,
                source_time=record.time,
                updated_at=now,
                **values,
            )
        )
        report.accepted += 1
    elif all(getattr(edge, k) == v for k, v in values.items()):
        report.duplicates += 1
        return
    else:
        for k, v in values.items():
            setattr(edge, k, v)
        edge.source, edge.source_time, edge.updated_at = source, record.time, now
        report.updated += 1


# --- adapters ---------------------------------------------------------------------------------


def load_feed(
    session: Session,
    actor: Actor,
    adapter,
    *,
    now: datetime | None = None,
    live: LiveEmitter | None = None,
    evaluate: bool = True,
) -> list[IngestReport]:
    """Load every batch an adapter (backend/risk/adapters.py) yields.  A file whose checksum
    was already loaded for the source is skipped; an HTTP feed resumes from the cursor of its
    last load."""
    if getattr(adapter, "since", "absent") is None:
        adapter.since = session.scalar(
            select(FeedRun.cursor)
            .where(
                FeedRun.source == adapter.source,
                FeedRun.adapter == "http",
                FeedRun.cursor.is_not(None),
            )
            .order_by(FeedRun.id.desc())
            .limit(1)
        )
    reports = []
    for batch in adapter.batches():
        if batch.checksum and session.scalar(
            select(FeedRun.id)
            .where(FeedRun.source == batch.source, FeedRun.checksum == batch.checksum)
            .limit(1)
        ):
            continue
        reports.append(
            ingest_records(
                session,
                actor,
                batch.source,
                batch.records,
                adapter=batch.adapter,
                location=batch.location,
                checksum=batch.checksum,
                cursor=batch.cursor,
                pre_rejected=batch.pre_rejected,
                now=now,
                live=live,
                evaluate=evaluate,
            )
        )
    return reports
