"""How risk rows look in responses: plain dicts of an enterprise, a signal (with its evidence
and workflow history), an event and a graph edge, shaped further by miniapp_api/risk.py's
schemas.  Shared by the read views and by the use cases that answer with the changed row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform.clock import isoformat
from backend.risk import catalog
from backend.risk.graph.store import Node
from backend.risk.models import (
    Enterprise,
    EnterpriseAlias,
    ResolutionItem,
    RiskEdge,
    RiskEvent,
    RiskSignal,
    SignalReview,
)


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


def edge_dict(e: RiskEdge) -> dict[str, Any]:
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


def alias_dict(alias: EnterpriseAlias) -> dict[str, Any]:
    return {
        "id": alias.id,
        "enterprise_id": alias.enterprise_id,
        "name": alias.name,
        "normalized_name": alias.normalized_name,
        "source": alias.source,
        "created_at": isoformat(alias.created_at),
    }


def resolution_item_dict(item: ResolutionItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "source": item.source,
        "record_id": item.record_id,
        "credit_code": item.credit_code,
        "name": item.name,
        "reason": item.reason,
        "status": item.status,
        "record": item.record,
        "enterprise_id": item.enterprise_id,
        "created_at": isoformat(item.created_at),
        "decided_at": isoformat(item.decided_at),
        "decided_by": item.decided_by,
        "comment": item.comment,
    }
