"""Enterprises as the caller may see them: the listing (search by credit code or name, level,
tag), the unified risk view of one enterprise (tags, active signals, events by source,
differences between sources, graph summary, model score) and its events with provenance."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.platform.clock import isoformat
from backend.platform.context import Actor
from backend.platform.pagination import Page, paginate
from backend.risk import catalog
from backend.risk.access import scope_enterprises, visible_enterprise
from backend.risk.creditcode import normalize_name
from backend.risk.models import (
    ACTIVE_STATUSES,
    Enterprise,
    EnterpriseTag,
    RiskEvent,
    RiskModel,
    RiskSignal,
    SourceFact,
)
from backend.risk.queries.graph import graph_summary
from backend.risk.queries.shapes import enterprise_summary, event_dict, signal_dict

RECENT_PER_SOURCE = 5


def list_enterprises(
    session: Session,
    actor: Actor,
    *,
    q: str | None = None,
    level: str | None = None,
    tag: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    stmt = scope_enterprises(actor, select(Enterprise))
    if q:
        key = normalize_name(q)
        stmt = stmt.where(
            or_(
                Enterprise.credit_code == q.strip().upper(),
                Enterprise.normalized_name.contains(key, autoescape=True),
            )
        )
    if level:
        stmt = stmt.where(Enterprise.risk_level == level)
    if tag:
        stmt = stmt.where(
            Enterprise.id.in_(select(EnterpriseTag.enterprise_id).where(EnterpriseTag.code == tag))
        )
    page = paginate(session, stmt, Enterprise.id, limit=limit, cursor=cursor)
    page.items = [enterprise_summary(e) for e in page.items]
    return page


def get_enterprise_view(session: Session, actor: Actor, enterprise_id: int) -> dict[str, Any]:
    """The unified risk view: tags, active signals, events by source, source differences,
    graph summary and model score."""
    return enterprise_view(session, visible_enterprise(session, actor, enterprise_id))


def enterprise_view(session: Session, ent: Enterprise) -> dict[str, Any]:
    tags = session.scalars(
        select(EnterpriseTag)
        .where(EnterpriseTag.enterprise_id == ent.id)
        .order_by(EnterpriseTag.code)
    )
    signals = list(
        session.scalars(
            select(RiskSignal)
            .where(RiskSignal.enterprise_id == ent.id, RiskSignal.status.in_(ACTIVE_STATUSES))
            .order_by(RiskSignal.id.desc())
        )
    )
    signals.sort(key=lambda s: -catalog.level_rank(s.level))
    model = None
    if ent.scored_by_model_id:
        row = session.get(RiskModel, ent.scored_by_model_id)
        if row is not None:
            model = {
                "model_id": row.id,
                "name": row.name,
                "version": row.version,
                "algorithm": row.algorithm,
                "probability": round(ent.risk_score or 0.0, 4),
            }
    return {
        "enterprise": enterprise_summary(ent),
        "tags": [
            {
                "code": t.code,
                "label": t.label,
                "reason": t.reason,
                "evidence": t.evidence,
                "since": isoformat(t.since),
            }
            for t in tags
        ],
        "signals": [signal_dict(s) | {"evidence": s.evidence} for s in signals],
        "blocking": any(s.is_blocking for s in signals),
        "events_by_source": events_by_source(session, ent.id),
        "source_differences": source_differences(session, ent.id),
        "graph": graph_summary(session, ent),
        "model": model,
    }


def list_events(
    session: Session,
    actor: Actor,
    enterprise_id: int,
    *,
    source: str | None = None,
    category: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    visible_enterprise(session, actor, enterprise_id)
    stmt = select(RiskEvent).where(RiskEvent.enterprise_id == enterprise_id)
    if source:
        stmt = stmt.where(RiskEvent.source == source)
    if category:
        stmt = stmt.where(RiskEvent.category == category)
    page = paginate(session, stmt, RiskEvent.id, limit=limit, cursor=cursor, descending=True)
    page.items = [event_dict(e) for e in page.items]
    return page


def events_by_source(session: Session, enterprise_id: int) -> list[dict[str, Any]]:
    stats = session.execute(
        select(
            RiskEvent.source,
            RiskEvent.category,
            func.count(RiskEvent.id),
            func.max(RiskEvent.source_time),
        )
        .where(RiskEvent.enterprise_id == enterprise_id)
        .group_by(RiskEvent.source, RiskEvent.category)
    ).all()
    sources: dict[str, dict[str, Any]] = {}
    for source, category, count, latest in stats:
        entry = sources.setdefault(
            source, {"source": source, "count": 0, "latest": None, "categories": {}}
        )
        entry["count"] += count
        entry["categories"][category] = count
        entry["latest"] = max(filter(None, [entry["latest"], latest]), default=None)
    for source, entry in sources.items():
        recent = session.scalars(
            select(RiskEvent)
            .where(RiskEvent.enterprise_id == enterprise_id, RiskEvent.source == source)
            .order_by(RiskEvent.source_time.desc(), RiskEvent.id.desc())
            .limit(RECENT_PER_SOURCE)
        )
        entry["latest"] = isoformat(entry["latest"])
        entry["recent"] = [event_dict(e) for e in recent]
    return sorted(sources.values(), key=lambda s: (-s["count"], s["source"]))


def _comparable(attribute: str, value: str) -> str:
    if attribute == "registered_capital":
        try:
            return str(Decimal(value).normalize())
        except InvalidOperation:
            return value
    if attribute == "name":
        return normalize_name(value)
    return value.strip().casefold()


def source_differences(session: Session, enterprise_id: int) -> list[dict[str, Any]]:
    """Attributes on which two or more sources disagree (after normalising spelling)."""
    by_attribute: dict[str, list[SourceFact]] = defaultdict(list)
    for fact in session.scalars(
        select(SourceFact)
        .where(SourceFact.enterprise_id == enterprise_id)
        .order_by(SourceFact.source)
    ):
        by_attribute[fact.attribute].append(fact)
    out = []
    for attribute, facts in sorted(by_attribute.items()):
        if len({_comparable(attribute, f.value) for f in facts}) > 1:
            out.append(
                {
                    "attribute": attribute,
                    "values": [
                        {
                            "source": f.source,
                            "value": f.value,
                            "source_time": isoformat(f.source_time),
                        }
                        for f in facts
                    ],
                }
            )
    return out
