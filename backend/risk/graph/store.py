"""The knowledge graph in the database (``risk_edges`` between enterprises and persons):
loaded whole into arrays for the full scan, or explored locally with a few indexed queries
for the endpoints (k-hop neighbourhood, upstream holders, the guarantee circle of one
enterprise).

Locally, a guarantee circle is computed as the intersection of what the enterprise reaches
along guarantees and what reaches it: exactly its strongly connected component, without
loading the whole graph.

Point in time: the graph *as of* a moment T holds the edges that began at or before T
(``source_time <= T``) and had not ended by then (``ended_at`` empty or after T): a released
guarantee is no longer a path for contagion from its end on.  Every function takes ``as_of``
(default: now); the full scan passes its own ``now``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import numpy as np
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from backend.platform.clock import utcnow
from backend.risk import catalog
from backend.risk.graph.algorithms import GraphData
from backend.risk.models import Enterprise, Person, RiskEdge

Node = tuple[str, int]  # ("enterprise" | "person", id)


def in_force(as_of: datetime | None = None):
    """The SQL condition of an edge that is part of the graph as of ``as_of`` (default now):
    begun at or before it and not ended by then."""
    as_of = as_of or utcnow()
    return and_(
        RiskEdge.source_time <= as_of,
        or_(RiskEdge.ended_at.is_(None), RiskEdge.ended_at > as_of),
    )


def load_graph(session: Session, as_of: datetime | None = None) -> GraphData:
    """Every enterprise and person as a node (enterprises first, by id), every edge in force
    as of ``as_of`` (default now; see the module's docstring)."""
    ent_ids = np.fromiter(session.scalars(select(Enterprise.id).order_by(Enterprise.id)), np.int64)
    person_ids = np.fromiter(session.scalars(select(Person.id).order_by(Person.id)), np.int64)
    rows = session.execute(
        select(
            RiskEdge.src_type,
            RiskEdge.src_id,
            RiskEdge.dst_type,
            RiskEdge.dst_id,
            RiskEdge.kind,
            RiskEdge.share,
            RiskEdge.amount,
        ).where(in_force(as_of))
    ).all()
    ne = len(ent_ids)

    def index(types, ids):
        types, ids = np.asarray(types), np.asarray(ids, dtype=np.int64)
        out = np.searchsorted(ent_ids, ids)
        is_person = types == "person"
        out[is_person] = ne + np.searchsorted(person_ids, ids[is_person])
        return out

    if rows:
        src_type, src_id, dst_type, dst_id, kind, share, amount = zip(*rows, strict=True)
        src, dst = index(src_type, src_id), index(dst_type, dst_id)
        kinds = np.asarray([catalog.EDGE_KIND_CODE[k] for k in kind], dtype=np.int8)
        shares = np.asarray([np.nan if s is None else s for s in share], dtype=float)
        amounts = np.asarray([0.0 if a is None else float(a) for a in amount], dtype=float)
    else:
        src = dst = np.zeros(0, dtype=np.int64)
        kinds, shares, amounts = np.zeros(0, np.int8), np.zeros(0), np.zeros(0)
    return GraphData(
        ne,
        len(person_ids),
        src,
        dst,
        kinds,
        shares,
        amounts,
        node_ids={"enterprise": ent_ids, "person": person_ids},
    )


def _touching(nodes: Iterable[Node], column_type, column_id):
    by_type: dict[str, list[int]] = defaultdict(list)
    for node_type, node_id in nodes:
        by_type[node_type].append(node_id)
    return [and_(column_type == t, column_id.in_(ids)) for t, ids in by_type.items()]


def edges_around(
    session: Session,
    nodes: Iterable[Node],
    *,
    kinds: Iterable[str] | None = None,
    direction: str = "both",
    as_of: datetime | None = None,
) -> list[RiskEdge]:
    """The edges in force (as of ``as_of``, default now) touching ``nodes``."""
    nodes = list(nodes)
    if not nodes:
        return []
    clauses = []
    if direction in ("both", "out"):
        clauses += _touching(nodes, RiskEdge.src_type, RiskEdge.src_id)
    if direction in ("both", "in"):
        clauses += _touching(nodes, RiskEdge.dst_type, RiskEdge.dst_id)
    stmt = select(RiskEdge).where(or_(*clauses), in_force(as_of))
    if kinds is not None:
        stmt = stmt.where(RiskEdge.kind.in_(list(kinds)))
    return list(session.scalars(stmt.order_by(RiskEdge.id)))


def neighborhood(
    session: Session,
    enterprise_id: int,
    depth: int,
    *,
    max_nodes: int = 300,
    as_of: datetime | None = None,
) -> tuple[list[Node], list[RiskEdge], bool]:
    """Nodes within ``depth`` hops (any edge kind, either direction) and the edges among
    them; ``truncated`` when the node cap stopped the expansion."""
    start: Node = ("enterprise", enterprise_id)
    seen: dict[Node, int] = {start: 0}
    edges: dict[int, RiskEdge] = {}
    frontier = [start]
    truncated = False
    for hop in range(1, depth + 1):
        nxt: list[Node] = []
        for edge in edges_around(session, frontier, as_of=as_of):
            ends = [(edge.src_type, edge.src_id), (edge.dst_type, edge.dst_id)]
            for node in ends:
                if node not in seen:
                    if len(seen) >= max_nodes:
                        truncated = True
                        continue
                    seen[node] = hop
                    nxt.append(node)
            if all(node in seen for node in ends):
                edges[edge.id] = edge
        frontier = nxt
        if not frontier:
            break
    return list(seen), sorted(edges.values(), key=lambda e: e.id), truncated


def describe_nodes(session: Session, nodes: Iterable[Node]) -> dict[Node, dict]:
    nodes = list(nodes)
    ent_ids = [i for t, i in nodes if t == "enterprise"]
    person_ids = [i for t, i in nodes if t == "person"]
    out: dict[Node, dict] = {}
    if ent_ids:
        for e in session.execute(
            select(
                Enterprise.id, Enterprise.name, Enterprise.credit_code, Enterprise.risk_level
            ).where(Enterprise.id.in_(ent_ids))
        ):
            out[("enterprise", e.id)] = {
                "name": e.name,
                "credit_code": e.credit_code,
                "risk_level": e.risk_level,
            }
    if person_ids:
        for p in session.execute(select(Person.id, Person.name).where(Person.id.in_(person_ids))):
            out[("person", p.id)] = {"name": p.name}
    return out


def upstream_holders(
    session: Session,
    enterprise_id: int,
    *,
    max_depth: int = 10,
    max_nodes: int = 2000,
    as_of: datetime | None = None,
) -> dict[Node, list[tuple[Node, float]]]:
    """holders_of[company] = [(holder, share)] for every company up the holding chains."""
    holders_of: dict[Node, list[tuple[Node, float]]] = defaultdict(list)
    frontier: list[Node] = [("enterprise", enterprise_id)]
    seen = set(frontier)
    for _ in range(max_depth):
        if not frontier or len(seen) > max_nodes:
            break
        nxt = []
        for edge in edges_around(
            session, frontier, kinds=catalog.OWNERSHIP_KINDS, direction="in", as_of=as_of
        ):
            if edge.share is None:
                continue
            holder: Node = (edge.src_type, edge.src_id)
            holders_of[(edge.dst_type, edge.dst_id)].append((holder, float(edge.share)))
            if holder not in seen:
                seen.add(holder)
                nxt.append(holder)
        frontier = [n for n in nxt if n[0] == "enterprise"]
    return holders_of


def _reach(
    session: Session, start: Node, direction: str, max_nodes: int, as_of: datetime | None
) -> set[Node]:
    seen, frontier = {start}, [start]
    while frontier and len(seen) <= max_nodes:
        nxt = []
        for edge in edges_around(
            session, frontier, kinds=["guarantee"], direction=direction, as_of=as_of
        ):
            node = (
                (edge.dst_type, edge.dst_id) if direction == "out" else (edge.src_type, edge.src_id)
            )
            if node not in seen:
                seen.add(node)
                nxt.append(node)
        frontier = nxt
    return seen


def guarantee_circle(
    session: Session, enterprise_id: int, *, max_nodes: int = 2000, as_of: datetime | None = None
) -> list[int]:
    """Enterprise ids of the guarantee circle containing ``enterprise_id`` (empty if none)."""
    start: Node = ("enterprise", enterprise_id)
    members = _reach(session, start, "out", max_nodes, as_of) & _reach(
        session, start, "in", max_nodes, as_of
    )
    return sorted(i for t, i in members) if len(members) > 1 else []


def mutual_guarantee_partners(
    session: Session, enterprise_id: int, *, as_of: datetime | None = None
) -> list[int]:
    me: Node = ("enterprise", enterprise_id)
    out = {
        (e.dst_type, e.dst_id)
        for e in edges_around(session, [me], kinds=["guarantee"], direction="out", as_of=as_of)
    }
    into = {
        (e.src_type, e.src_id)
        for e in edges_around(session, [me], kinds=["guarantee"], direction="in", as_of=as_of)
    }
    return sorted(i for t, i in out & into if t == "enterprise")
