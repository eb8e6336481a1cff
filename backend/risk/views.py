"""Read models for the API: the unified risk view of one enterprise, its graph, and the
signal / inbox listings.  Plain dicts, shaped by miniapp_api/risk.py's schemas."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.platform.clock import isoformat
from backend.risk import catalog
from backend.risk.creditcode import normalize_name
from backend.risk.graph import controller_of, ultimate_controllers
from backend.risk.graph_store import (
    Node,
    describe_nodes,
    edges_around,
    guarantee_circle,
    mutual_guarantee_partners,
    neighborhood,
    upstream_holders,
)
from backend.risk.models import (
    ACTIVE_STATUSES,
    Enterprise,
    EnterpriseTag,
    RiskEdge,
    RiskEvent,
    RiskModel,
    RiskSignal,
    SignalReview,
    SourceFact,
)

RECENT_PER_SOURCE = 5


def node_id(node: Node) -> str:
    return f"{node[0]}:{node[1]}"


def enterprise_summary(ent: Enterprise) -> dict[str, Any]:
    return {
        "id": ent.id,
        "credit_code": ent.credit_code,
        "name": ent.name,
        "status": ent.status,
        "registered_capital": ent.registered_capital,
        "established_on": ent.established_on.isoformat() if ent.established_on else None,
        "industry": ent.industry,
        "region": ent.region,
        "org_id": ent.org_id,
        "rm_user_id": ent.rm_user_id,
        "risk_level": ent.risk_level,
        "risk_score": round(ent.risk_score, 4) if ent.risk_score is not None else None,
        "scanned_at": isoformat(ent.scanned_at),
    }


def signal_dict(signal: RiskSignal, enterprise: Enterprise | None = None) -> dict[str, Any]:
    out = {
        "id": signal.id,
        "enterprise_id": signal.enterprise_id,
        "origin": signal.origin,
        "rule_id": signal.rule_id,
        "rule_version": signal.rule_version,
        "level": signal.level,
        "base_level": signal.base_level,
        "status": signal.status,
        "blocking": signal.is_blocking,
        "reason": signal.reason,
        "score": signal.score,
        "occurrences": signal.occurrences,
        "raised_at": isoformat(signal.raised_at),
        "last_seen_at": isoformat(signal.last_seen_at),
        "escalated_at": isoformat(signal.escalated_at),
        "closed_at": isoformat(signal.closed_at),
        "pending_decision": signal.pending_decision,
        "proposed_by_user_id": signal.proposed_by_user_id,
        "proposed_comment": signal.proposed_comment,
        "decided_by_user_id": signal.decided_by_user_id,
        "decision_comment": signal.decision_comment,
    }
    if enterprise is not None:
        out["enterprise_name"] = enterprise.name
        out["credit_code"] = enterprise.credit_code
    return out


def signal_detail(session: Session, signal: RiskSignal, enterprise: Enterprise) -> dict[str, Any]:
    reviews = session.scalars(
        select(SignalReview).where(SignalReview.signal_id == signal.id).order_by(SignalReview.id)
    )
    return signal_dict(signal, enterprise) | {
        "evidence": signal.evidence,
        "reviews": [
            {
                "step": r.step,
                "decision": r.decision,
                "comment": r.comment,
                "user_id": r.user_id,
                "username": r.username,
                "at": isoformat(r.at),
            }
            for r in reviews
        ],
    }


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


def event_dict(e: RiskEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "source": e.source,
        "external_id": e.external_id,
        "category": e.category,
        "kind": e.kind,
        "severity": catalog.SEVERITIES[e.severity],
        "title": e.title or catalog.KINDS[e.kind].label,
        "data": e.data,
        "source_time": isoformat(e.source_time),
        "ingested_at": isoformat(e.ingested_at),
        "revision": e.revision,
    }


def _holder_dict(session: Session, holding) -> dict[str, Any]:
    info = describe_nodes(session, [holding.holder]).get(holding.holder, {})
    names = describe_nodes(session, holding.example_path)
    return {
        "node": node_id(holding.holder),
        "type": holding.holder[0],
        "name": info.get("name"),
        "share": round(holding.share, 6),
        "paths": holding.paths,
        "example_path": [
            {"node": node_id(n), "name": names.get(n, {}).get("name")} for n in holding.example_path
        ],
        "truncated": holding.truncated,
    }


def controllers(session: Session, enterprise_id: int) -> dict[str, Any]:
    holdings = ultimate_controllers(
        upstream_holders(session, enterprise_id), ("enterprise", enterprise_id)
    )
    top = controller_of(holdings)
    return {
        "ultimate_controller": _holder_dict(session, top) if top else None,
        "ultimate_holders": [_holder_dict(session, h) for h in holdings[:5]],
    }


def _named(session: Session, ids: list[int], limit: int = 20) -> list[dict[str, Any]]:
    info = describe_nodes(session, [("enterprise", i) for i in ids[:limit]])
    return [{"id": i, "name": info.get(("enterprise", i), {}).get("name")} for i in ids[:limit]]


def graph_summary(session: Session, ent: Enterprise) -> dict[str, Any]:
    me: Node = ("enterprise", ent.id)
    neighbours: dict[str, int] = defaultdict(int)
    for edge in edges_around(session, [me]):
        neighbours[edge.kind] += 1
    circle = guarantee_circle(session, ent.id)
    mutual = mutual_guarantee_partners(session, ent.id)
    metrics = ent.graph_metrics or {}
    return {
        "edges_by_kind": dict(sorted(neighbours.items())),
        "related_within_2_hops": int(metrics["related_2hop"])
        if "related_2hop" in metrics
        else None,
        "related_risk": metrics.get("related_risk"),
        "guarantee_circle": {"size": len(circle), "members": _named(session, circle)},
        "mutual_guarantees": _named(session, mutual),
        **controllers(session, ent.id),
    }


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


def enterprise_graph(
    session: Session, ent: Enterprise, depth: int, *, max_nodes: int = 300
) -> dict[str, Any]:
    nodes, edges, truncated = neighborhood(session, ent.id, depth, max_nodes=max_nodes)
    info = describe_nodes(session, nodes)
    start: Node = ("enterprise", ent.id)
    hops = {start: 0}
    adjacency: dict[Node, set[Node]] = defaultdict(set)
    for e in edges:
        a, b = (e.src_type, e.src_id), (e.dst_type, e.dst_id)
        adjacency[a].add(b)
        adjacency[b].add(a)
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for other in adjacency[node]:
                if other not in hops:
                    hops[other] = hops[node] + 1
                    nxt.append(other)
        frontier = nxt
    return {
        "enterprise_id": ent.id,
        "depth": depth,
        "truncated": truncated,
        "nodes": [
            {"id": node_id(n), "type": n[0], "db_id": n[1], "hop": hops.get(n), **info.get(n, {})}
            for n in nodes
        ],
        "edges": [_edge_dict(e) for e in edges],
        "guarantee_circle": guarantee_circle(session, ent.id),
        **controllers(session, ent.id),
    }


def _edge_dict(e: RiskEdge) -> dict[str, Any]:
    return {
        "id": e.id,
        "source": node_id((e.src_type, e.src_id)),
        "target": node_id((e.dst_type, e.dst_id)),
        "kind": e.kind,
        "share": e.share,
        "amount": e.amount,
        "volume": e.volume,
        "role": e.role,
    }
