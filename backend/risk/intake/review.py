"""The review queue (``risk_resolution_items``): records that name an enterprise the bank does
not know are held here instead of creating one.

A held record is keyed by (source, record_id), like an event: the same record again updates
the pending item (the latest content is kept); a record a reviewer rejected stays rejected
while it comes again unchanged (``resolution_rejected``), and comes back to the queue with
other content.  Reasons: ``unknown_credit_code`` (a well-formed code no enterprise has),
``unresolved_enterprise`` (a name matching nobody), ``ambiguous_name`` (a name matching
several).  Resolving and rejecting items: ``backend/risk/service/resolution.py``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.risk.intake.records import FeedRecord, Rejection
from backend.risk.intake.resolution import Unresolved
from backend.risk.models import ResolutionItem


def hold(
    session: Session, source: str, record: FeedRecord, why: Unresolved, now: datetime
) -> ResolutionItem | Rejection:
    """Put ``record`` in the review queue (or refresh its pending item); a Rejection when a
    reviewer already rejected this very record."""
    raw = record.raw if record.raw is not None else {"record_id": record.record_id}
    item = _find(session, source, record.record_id)
    if item is None:
        item = ResolutionItem(
            source=source,
            record_id=record.record_id,
            status="pending",
            created_at=now,
            record=raw,
            reason=why.reason,
        )
        _describe(item, why)
        try:
            with session.begin_nested():
                session.add(item)
                session.flush()
            return item
        except IntegrityError:  # held concurrently by another load of the same record
            item = _find(session, source, record.record_id)
            if item is None:
                raise
    if item.status == "rejected" and item.record == raw:
        return Rejection(
            record.index,
            record.record_id,
            "resolution_rejected",
            f"a reviewer rejected this record (review item {item.id}); "
            "send it with other content to have it reviewed again",
        )
    if item.status != "pending":
        item.status, item.decided_at, item.decided_by = "pending", None, None
        item.enterprise_id = None
    item.record, item.reason = raw, why.reason
    _describe(item, why)
    return item


def _find(session: Session, source: str, record_id: str) -> ResolutionItem | None:
    return session.scalar(
        select(ResolutionItem).where(
            ResolutionItem.source == source, ResolutionItem.record_id == record_id
        )
    )


def _describe(item: ResolutionItem, why: Unresolved) -> None:
    item.credit_code = why.ref.credit_code
    item.name = (why.ref.name or "")[:200] or None


def close_loaded(
    session: Session,
    actor: Actor,
    source: str,
    loaded: dict[str, int | None],
    now: datetime,
) -> int:
    """Close as resolved the pending items of records that have now loaded (their enterprise
    became known: a registry profile arrived, a wrong alias was removed); how many."""
    if not loaded:
        return 0
    ids, closed = list(loaded), 0
    for start in range(0, len(ids), 500):
        for item in session.scalars(
            select(ResolutionItem).where(
                ResolutionItem.source == source,
                ResolutionItem.status == "pending",
                ResolutionItem.record_id.in_(ids[start : start + 500]),
            )
        ):
            item.status, item.decided_at, item.decided_by = "resolved", now, actor.username
            item.enterprise_id = loaded[item.record_id]
            item.comment = item.comment or "loaded: the enterprise is known now"
            closed += 1
    return closed
