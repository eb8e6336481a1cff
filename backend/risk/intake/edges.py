"""Edge records into the knowledge graph (``risk_edges``).

An edge is keyed by its two ends (an enterprise, or a person for equity and executive edges)
and its kind: the same edge again is a duplicate, changed values (share, amount, volume, role)
update it.  Both ends are resolved like any other record (``resolution.py``); an end that
matches no single enterprise rejects the record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.risk.intake.records import EnterpriseRef, FeedRecord, Rejection
from backend.risk.intake.resolution import Resolver
from backend.risk.models import RiskEdge


def ingest_edge(
    session: Session, resolver: Resolver, source: str, record: FeedRecord, now: datetime
) -> str | Rejection:
    """Store one edge record: 'accepted' (a new edge), 'updated' (other values),
    'duplicate' (the same values) or the Rejection of an end that does not resolve."""
    ends = []
    for ref in (record.source_from, record.source_to):
        if isinstance(ref, EnterpriseRef):
            ent = resolver.enterprise(ref, create=True)
            if ent is None:
                return Rejection(
                    record.index,
                    record.record_id,
                    "unresolved_enterprise",
                    f"edge end {ref.name!r} matches no single known enterprise",
                )
            ends.append(("enterprise", ent.id))
        else:
            ends.append(("person", resolver.person(ref).id))
    (src_type, src_id), (dst_type, dst_id) = ends
    if (src_type, src_id) == (dst_type, dst_id):
        return Rejection(record.index, record.record_id, "invalid_edge", "both ends are the same")
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
        return "accepted"
    if all(getattr(edge, k) == v for k, v in values.items()):
        return "duplicate"
    for k, v in values.items():
        setattr(edge, k, v)
    edge.source, edge.source_time, edge.updated_at = source, record.time, now
    return "updated"
