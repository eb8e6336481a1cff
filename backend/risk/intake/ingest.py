"""Ingestion: feed records -> enterprises, events with provenance, source facts, graph edges.

Idempotent by construction: an event is keyed by (source, record_id); the same record again is
a duplicate (nothing changes), the same id with other content is an update of that event (its
revision goes up), and a concurrent load of the same feed is caught by the unique constraint
and counted as duplicates.  Edges are keyed by their two ends and kind (the same edge twice in
a batch merges: the later record wins).  A malformed record is rejected with a reason and the
rest of the feed loads; a record naming an enterprise the bank does not know is held in the
review queue (outcome ``queued``, ``review.py``): only registry profiles create enterprises
(or a load that says ``create_unknown``).  Every load writes one ``FeedRun`` row and one audit
record; touched enterprises are re-evaluated at once (rules and the champion model), so that a
hard signal blocks disbursement as soon as its event arrives.

``load_feed`` loads each batch (a file, an HTTP page) in a savepoint of its own: a file that
fails as a whole (undecodable, not the format, an error while loading it) is rolled back
alone, recorded as a failed ``FeedRun`` and moved to its feed's quarantine folder with a
``<file>.reason.txt``; the other files are kept."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.live import LiveEmitter
from backend.risk import catalog
from backend.risk.intake import facts, review
from backend.risk.intake.edges import EdgeBatch, ingest_edge
from backend.risk.intake.records import EnterpriseRef, FeedRecord, Rejection, parse_record
from backend.risk.intake.resolution import Resolver, Unresolved
from backend.risk.models import Enterprise, FeedRun, ResolutionItem, RiskEvent
from backend.risk.monitoring.live import evaluate_enterprises

SOURCE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_STORED_REJECTIONS = 200
CHUNK = 500

log = logging.getLogger(__name__)


@dataclass
class Queued:
    """A record held in the review queue."""

    index: int
    record_id: str
    reason: str
    item_id: int
    credit_code: str | None
    name: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "record_id": self.record_id,
            "reason": self.reason,
            "item_id": self.item_id,
            "credit_code": self.credit_code,
            "name": self.name,
        }


@dataclass
class IngestReport:
    source: str
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    queued: list[Queued] = field(default_factory=list)
    enterprises: set[int] = field(default_factory=set)
    enterprises_created: int = 0
    released: int = 0  # held records of enterprises this load registered, loaded now
    signals: dict[str, Any] = field(default_factory=dict)
    feed_run_id: int | None = None
    status: str = "ok"  # failed: the batch was rolled back as a whole
    error: str | None = None
    quarantined_to: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "feed_run_id": self.feed_run_id,
            "status": self.status,
            "error": self.error,
            "quarantined_to": self.quarantined_to,
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "rejected": len(self.rejected),
            "rejections": [r.as_dict() for r in self.rejected[:MAX_STORED_REJECTIONS]],
            "queued": len(self.queued),
            "queued_items": [q.as_dict() for q in self.queued[:MAX_STORED_REJECTIONS]],
            "enterprises_touched": len(self.enterprises),
            "enterprises_created": self.enterprises_created,
            "released_from_queue": self.released,
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
    create_unknown: bool = False,
    pins: Mapping[str, Enterprise] | None = None,
) -> IngestReport:
    """Load one batch of feed records from ``source``; returns what happened to each.

    ``backfill``: history loaded at go-live (or by the seed): each event counts as known from
    its ``published`` time (else its source time) instead of the load's clock, so that the
    point-in-time view of a past moment sees what the bank would have seen then.

    Only ``registry`` profiles create the enterprise of a new credit code; every other record
    naming an unknown enterprise is held for review (``queued``).  ``create_unknown``: every
    record may create its enterprises (an explicit migration or test load).  ``pins``:
    references a reviewer resolved (``resolution.pin_key``), each to its enterprise.  A pending
    review item of a record that now loads (its enterprise became known) is closed as
    resolved."""
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
    resolver = Resolver(session, source, now, pins=pins)
    order = {"profile": 0, "edge": 1, "event": 2}
    # edges in the order of their time, then position: of an edge and its amendment in one
    # batch the later one wins
    parsed.sort(key=lambda r: (order[r.type], r.time if r.type == "edge" else now, r.index))
    events: list[tuple[FeedRecord, Enterprise]] = []
    refs = [r.enterprise for r in parsed if r.enterprise is not None] + [
        ref
        for r in parsed
        for ref in (r.source_from, r.source_to)
        if isinstance(ref, EnterpriseRef)
    ]
    creating = [
        ref.credit_code
        for r in parsed
        for ref in (r.enterprise, r.source_from, r.source_to)
        if isinstance(ref, EnterpriseRef)
        and ref.credit_code
        and _may_create(r, ref, source, create_unknown)
    ]
    resolver.prefetch(refs, creating)
    loaded: dict[str, int | None] = {}
    try:
        with session.no_autoflush:
            _resolve_all(
                session,
                resolver,
                source,
                parsed,
                events,
                report,
                now,
                backfill,
                create_unknown,
                loaded,
            )
        for start in range(0, len(events), CHUNK):
            _ingest_events(session, source, events[start : start + CHUNK], report, now, backfill)
        review.close_loaded(session, actor, source, loaded, now)
    finally:
        facts.forget(session)
    report.enterprises_created = resolver.created
    report.rejected.sort(key=lambda r: r.index)
    report.queued.sort(key=lambda q: q.index)
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
        rejections={
            "items": [r.as_dict() for r in report.rejected[:MAX_STORED_REJECTIONS]],
            "queued": len(report.queued),
            "queued_items": [q.as_dict() for q in report.queued[:MAX_STORED_REJECTIONS]],
        },
        actor=actor.username,
        status="ok",
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
        after={
            k: v
            for k, v in report.as_dict().items()
            if k not in ("rejections", "queued_items", "signals")
        },
    )
    if resolver.new_codes:
        report.released = _release_held(
            session, actor, resolver.new_codes, now, live, evaluate, backfill
        )
    if evaluate and report.enterprises:
        report.signals = evaluate_enterprises(
            session, sorted(report.enterprises), now=now, live=live
        ).as_dict()
    return report


def _release_held(
    session: Session,
    actor: Actor,
    codes: list[str],
    now: datetime,
    live: LiveEmitter | None,
    evaluate: bool,
    backfill: bool,
) -> int:
    """Load the held records of codes that have just become known (the registry registered
    the enterprise after a court or news record named it): their review items close as
    resolved; how many records loaded."""
    items: list[ResolutionItem] = []
    for start in range(0, len(codes), 500):
        items += session.scalars(
            select(ResolutionItem)
            .where(
                ResolutionItem.status == "pending",
                ResolutionItem.credit_code.in_(codes[start : start + 500]),
            )
            .order_by(ResolutionItem.id)
        )
    by_source: dict[str, list[ResolutionItem]] = {}
    for item in items:
        by_source.setdefault(item.source, []).append(item)
    released = 0
    for source, group in by_source.items():
        report = ingest_records(
            session,
            actor,
            source,
            [item.record for item in group],
            adapter="review",
            location="held records released: the registry registered their enterprise",
            now=now,
            live=live,
            evaluate=evaluate,
            backfill=backfill,
        )
        released += report.accepted + report.updated + report.duplicates
    return released


def _may_create(record: FeedRecord, ref: EnterpriseRef, source: str, create_unknown: bool) -> bool:
    """Whether ``record`` may create the enterprise ``ref`` names when its code is new: a
    registry profile (the registry is the master of who exists), or any record of a load
    that says so."""
    if create_unknown:
        return True
    return record.type == "profile" and source in catalog.MASTER_SOURCES


def _resolve_all(
    session: Session,
    resolver: Resolver,
    source: str,
    parsed: list[FeedRecord],
    events: list[tuple[FeedRecord, Enterprise]],
    report: IngestReport,
    now: datetime,
    backfill: bool = False,
    create_unknown: bool = False,
    loaded: dict[str, int | None] | None = None,
) -> None:
    """Apply profiles and edges; resolve event records to their enterprise; hold the records
    naming an unknown enterprise for review.  ``loaded``: record id -> its enterprise (None
    for an edge) of every record that resolved."""
    edges = EdgeBatch()
    loaded = loaded if loaded is not None else {}
    for record in parsed:
        if record.type == "edge":
            outcome = ingest_edge(
                session,
                resolver,
                source,
                record,
                now,
                batch=edges,
                known_at=_known_at(record, now, backfill),
                create=create_unknown,
            )
            if isinstance(outcome, Unresolved):
                _hold(session, source, record, outcome, report, now)
            else:
                _count(report, outcome)
                if not isinstance(outcome, Rejection):
                    loaded[record.record_id] = None
            continue
        ent = resolver.enterprise(
            record.enterprise, create=_may_create(record, record.enterprise, source, create_unknown)
        )
        if isinstance(ent, Unresolved):
            _hold(session, source, record, ent, report, now)
            continue
        loaded[record.record_id] = ent.id
        if record.type == "profile":
            outcome = facts.apply_profile(session, ent, source, record, now)
            _count(report, outcome)
            if outcome != "duplicate":
                report.enterprises.add(ent.id)
        else:
            events.append((record, ent))


def _hold(
    session: Session,
    source: str,
    record: FeedRecord,
    why: Unresolved,
    report: IngestReport,
    now: datetime,
) -> None:
    item = review.hold(session, source, record, why, now)
    if isinstance(item, Rejection):
        report.rejected.append(item)
        return
    report.queued.append(
        Queued(record.index, record.record_id, why.reason, item.id, item.credit_code, item.name)
    )


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
    create_unknown: bool = False,
) -> list[IngestReport]:
    """Load every batch an adapter (``adapters.py``) yields, each in a savepoint of its own.
    A file whose checksum was already loaded for the source is skipped; an HTTP feed resumes
    from the cursor of its last load.  A batch that fails as a whole (the adapter could not
    read it, or loading it raised) is rolled back alone and recorded as a failed run; a failed
    file is moved to the adapter's quarantine folder (``<file>.reason.txt`` beside it).  An
    HTTP feed stops at its first failed page (the next refresh starts there again)."""
    if getattr(adapter, "since", "absent") is None:
        adapter.since = session.scalar(
            select(FeedRun.cursor)
            .where(
                FeedRun.source == adapter.source,
                FeedRun.adapter == "http",
                FeedRun.status == "ok",
                FeedRun.cursor.is_not(None),
            )
            .order_by(FeedRun.id.desc())
            .limit(1)
        )
    reports = []
    for batch in adapter.batches():
        if batch.checksum and _already_seen(session, batch.source, batch.checksum):
            continue
        failure: tuple[str, str] | None = None
        if batch.failure is not None:
            failure = (batch.failure.reason, str(batch.failure))
        else:
            try:
                with session.begin_nested():
                    report = ingest_records(
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
                        create_unknown=create_unknown,
                    )
            except (OperationalError, InterfaceError):
                raise  # the database, not the file (a lost connection): the feed fails as a whole
            except Exception as exc:  # one failing file never stops the others
                log.warning("risk feed %s: %s failed", batch.source, batch.location, exc_info=True)
                failure = ("load_error", f"{type(exc).__name__}: {exc}")
            else:
                reports.append(report)
                continue
        reports.append(_failed(session, actor, adapter, batch, *failure, now=now))
        if batch.adapter != "file":
            break
    return reports


def _already_seen(session: Session, source: str, checksum: str) -> bool:
    """A file loaded before, or one that failed and could not be moved to the quarantine
    (so that it does not fail again every run while it stays)."""
    return (
        session.scalar(
            select(FeedRun.id)
            .where(
                FeedRun.source == source,
                FeedRun.checksum == checksum,
                or_(
                    FeedRun.status == "ok",
                    and_(FeedRun.status == "failed", FeedRun.quarantined_to.is_(None)),
                ),
            )
            .limit(1)
        )
        is not None
    )


def _failed(
    session: Session,
    actor: Actor,
    adapter,
    batch,
    reason: str,
    message: str,
    *,
    now: datetime | None,
) -> IngestReport:
    """Record a batch that failed as a whole (``status=failed``) and quarantine its file."""
    now = now or utcnow()
    error = f"{reason}: {message}"[:500]
    run = FeedRun(
        source=batch.source,
        adapter=batch.adapter,
        location=(batch.location or "")[:300] or None,
        checksum=batch.checksum,
        cursor=None,
        started_at=now,
        finished_at=utcnow(),
        received=len(batch.records),
        rejections={"items": []},
        actor=actor.username,
        status="failed",
        error=error,
    )
    session.add(run)
    session.flush()
    quarantine = getattr(adapter, "quarantine", None)
    if callable(quarantine):
        run.quarantined_to = quarantine(batch, reason, message, feed_run_id=run.id)
    report = IngestReport(source=batch.source, received=len(batch.records))
    report.feed_run_id, report.status, report.error = run.id, "failed", error
    report.quarantined_to = run.quarantined_to
    audit.record(
        session,
        actor,
        "risk.feed_failed",
        "risk_feed_run",
        run.id,
        after={
            "source": batch.source,
            "location": run.location,
            "error": error,
            "quarantined_to": run.quarantined_to,
        },
    )
    return report
