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
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.live import LiveEmitter
from backend.risk.intake import facts
from backend.risk.intake.edges import ingest_edge
from backend.risk.intake.records import EnterpriseRef, FeedRecord, Rejection, parse_record
from backend.risk.intake.resolution import Resolver
from backend.risk.models import Enterprise, FeedRun, RiskEvent
from backend.risk.monitoring.live import evaluate_enterprises

SOURCE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_STORED_REJECTIONS = 200
CHUNK = 500


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
    backfill: bool = False,
) -> IngestReport:
    """Load one batch of feed records from ``source``; returns what happened to each.

    ``backfill``: history loaded at go-live (or by the seed): each event counts as known from
    its ``published`` time (else its source time) instead of the load's clock, so that the
    point-in-time view of a past moment sees what the bank would have seen then."""
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
            _ingest_events(session, source, events[start : start + CHUNK], report, now, backfill)
    finally:
        facts.forget(session)
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
            _count(report, ingest_edge(session, resolver, source, record, now))
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
            outcome = facts.apply_profile(session, ent, source, record, now)
            _count(report, outcome)
            if outcome != "duplicate":
                report.enterprises.add(ent.id)
        else:
            events.append((record, ent))


def _count(report: IngestReport, outcome: str | Rejection) -> None:
    if isinstance(outcome, Rejection):
        report.rejected.append(outcome)
    elif outcome == "accepted":
        report.accepted += 1
    elif outcome == "updated":
        report.updated += 1
    else:
        report.duplicates += 1


# --- events -------------------------------------------------------------------------------


def _ingest_events(
    session: Session,
    source: str,
    batch: list[tuple[FeedRecord, Enterprise]],
    report: IngestReport,
    now: datetime,
    backfill: bool = False,
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
            event.published_at = record.published
            event.known_at = _known_at(record, now, backfill)
            report.updated += 1
            report.enterprises.add(ent.id)
            facts.from_event(session, ent, source, record)
    if not new_rows:
        return
    rows = [_event_row(source, record, ent, now, backfill) for record, ent in new_rows]
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
        facts.from_event(session, ent, source, record)


def _known_at(record: FeedRecord, now: datetime, backfill: bool) -> datetime:
    if not backfill:
        return now
    return min(record.published or record.time, now)


def _event_row(
    source: str, record: FeedRecord, ent: Enterprise, now: datetime, backfill: bool
) -> dict:
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
        "known_at": _known_at(record, now, backfill),
        "published_at": record.published,
        "content_hash": record.content_hash,
        "revision": 1,
    }


# --- adapters -----------------------------------------------------------------------------


def load_feed(
    session: Session,
    actor: Actor,
    adapter,
    *,
    now: datetime | None = None,
    live: LiveEmitter | None = None,
    evaluate: bool = True,
    backfill: bool = False,
) -> list[IngestReport]:
    """Load every batch an adapter (``adapters.py``) yields.  A file whose checksum
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
                backfill=backfill,
            )
        )
    return reports
