"""An enterprise's place in the knowledge graph, read with a few indexed queries: the summary
in the unified view (edges by kind, 2-hop count, related risk, guarantee circle, mutual
guarantees, ultimate controller and holders) and the neighbourhood within a depth (nodes with
their hop, edges, circle, controller; 300 nodes at most)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.risk.access import visible_enterprise
from backend.risk.graph.algorithms import controller_of, ultimate_controllers
from backend.risk.graph.store import (
    Node,
    describe_nodes,
    edges_around,
    guarantee_circle,
    mutual_guarantee_partners,
    neighborhood,
    upstream_holders,
)
from backend.risk.models import Enterprise
from backend.risk.queries.shapes import edge_dict, node_id

MAX_DEPTH = 4


def get_enterprise_graph(
    session: Session, actor: Actor, enterprise_id: int, *, depth: int = 2
) -> dict[str, Any]:
    if not 1 <= depth <= MAX_DEPTH:
        raise ValidationFailed(
            f"depth must be between 1 and {MAX_DEPTH}", details={"depth": [f"1..{MAX_DEPTH}"]}
        )
    return enterprise_graph(session, visible_enterprise(session, actor, enterprise_id), depth)


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
        "edges": [edge_dict(e) for e in edges],
        "guarantee_circle": guarantee_circle(session, ent.id),
        **controllers(session, ent.id),
    }


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


def controllers(session: Session, enterprise_id: int) -> dict[str, Any]:
    holdings = ultimate_controllers(
        upstream_holders(session, enterprise_id), ("enterprise", enterprise_id)
    )
    top = controller_of(holdings)
    return {
        "ultimate_controller": _holder_dict(session, top) if top else None,
        "ultimate_holders": [_holder_dict(session, h) for h in holdings[:5]],
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


def _named(session: Session, ids: list[int], limit: int = 20) -> list[dict[str, Any]]:
    info = describe_nodes(session, [("enterprise", i) for i in ids[:limit]])
    return [{"id": i, "name": info.get(("enterprise", i), {}).get("name")} for i in ids[:limit]]
