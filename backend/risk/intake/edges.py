"""Edge records into the knowledge graph (``risk_edges``).

An edge is keyed by its two ends (an enterprise, or a person for equity and executive edges)
and its kind: the same edge again is a duplicate, changed values (share, amount, volume, role,
end) update it.  Within one batch the same edge may come several times (a guarantee and its
amendment): the records are applied in the order of their time, then of their position, so
the later one wins and counts as an update (``EdgeBatch`` remembers the edges of the batch
not yet flushed).  A record with ``ended`` ends the relation (a released guarantee): the edge
keeps its values and gets ``ended_at``, and the graph as of any later moment leaves it out; a
later record of the same edge without ``ended`` (a new guarantee between the same parties)
opens it again.  ``source_time`` is when the relation began (the earliest record's time).
Both ends are resolved like any other record (``resolution.py``); an end that names no single
known enterprise is returned as ``Unresolved`` (the record goes to the review queue)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.risk.intake.records import EnterpriseRef, FeedRecord, Rejection
from backend.risk.intake.resolution import Resolver, Unresolved
from backend.risk.models import RiskEdge

EdgeKey = tuple[str, int, str, int, str]


class EdgeBatch:
    """The edges one ingestion touched, by key (so a second record of an edge in the same
    batch finds the first even before it is flushed)."""

    def __init__(self) -> None:
        self.edges: dict[EdgeKey, RiskEdge] = {}


def ingest_edge(
    session: Session,
    resolver: Resolver,
    source: str,
    record: FeedRecord,
    now: datetime,
    *,
    batch: EdgeBatch | None = None,
    known_at: datetime | None = None,
    create: bool = False,
) -> str | Rejection | Unresolved:
    """Store one edge record: 'accepted' (a new edge), 'updated' (other values, or ended),
    'duplicate' (the same values), the Rejection of an invalid edge, or the ``Unresolved``
    end that holds it for review."""
    batch = batch if batch is not None else EdgeBatch()
    ends = []
    for ref in (record.source_from, record.source_to):
        if isinstance(ref, EnterpriseRef):
            ent = resolver.enterprise(ref, create=create)
            if isinstance(ent, Unresolved):
                return ent
            ends.append(("enterprise", ent.id))
        else:
            ends.append(("person", resolver.person(ref).id))
    (src_type, src_id), (dst_type, dst_id) = ends
    if (src_type, src_id) == (dst_type, dst_id):
        return Rejection(record.index, record.record_id, "invalid_edge", "both ends are the same")
    key: EdgeKey = (src_type, src_id, dst_type, dst_id, record.kind)
    edge = batch.edges.get(key)
    if edge is None:
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
        edge = RiskEdge(
            src_type=src_type,
            src_id=src_id,
            dst_type=dst_type,
            dst_id=dst_id,
            kind=record.kind,
            source=source,
            source_time=record.time,
            ended_at=record.ended,
            known_at=known_at or now,
            updated_at=now,
            **values,
        )
        session.add(edge)
        batch.edges[key] = edge
        return "accepted"
    batch.edges[key] = edge
    if record.ended is not None:
        # a release: keep the values it does not restate (a release need not repeat the amount)
        values = {k: (getattr(edge, k) if v is None else v) for k, v in values.items()}
        ended = record.ended
    elif edge.ended_at is not None and record.time > edge.ended_at:
        ended = None  # a new relation between the same parties after the old one ended
    else:
        ended = edge.ended_at
    if ended == edge.ended_at and all(getattr(edge, k) == v for k, v in values.items()):
        return "duplicate"
    for k, v in values.items():
        setattr(edge, k, v)
    if edge.ended_at is not None and ended is None:
        edge.source_time = record.time  # reopened: the new relation begins now
    else:
        edge.source_time = min(edge.source_time, record.time)
    edge.ended_at = ended
    edge.source, edge.updated_at = source, now
    edge.known_at = known_at or now
    return "updated"
