"""Export the knowledge graph to Neo4j (for deployments that outgrow the database).

    python -m backend.risk.graph.neo4j_export --out var/risk_graph.cypher
    cypher-shell -u neo4j -p ... -f var/risk_graph.cypher

The script creates uniqueness constraints, then ``UNWIND`` batches of nodes
(``:Enterprise {id, credit_code, name, risk_level}``, ``:Person {id, name}``) and
relationships (``HOLDS {share}``, ``INVESTS {share}``, ``EXECUTIVE_OF {role}``,
``MEMBER_OF``, ``GUARANTEES {amount}``, ``SUPPLIES {volume}``).  ``QUERIES`` holds the Cypher
equivalents of backend/risk/graph/algorithms.py (docs/risk.md shows them with their
parameters); on the same data they give the same answers: k-hop related parties, guarantee
circles (GDS strongly connected components, or plain Cypher cycles), mutual guarantees, and the
ultimate controller by multiplying shares along holding paths."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity import models as identity_models  # noqa: F401  (orgs, users: foreign keys)
from backend.platform.config import Config
from backend.platform.db import make_engine, make_session_factory
from backend.risk.models import Enterprise, Person, RiskEdge

REL_TYPES = {
    "equity": "HOLDS",
    "investment": "INVESTS",
    "executive": "EXECUTIVE_OF",
    "group": "MEMBER_OF",
    "guarantee": "GUARANTEES",
    "trade": "SUPPLIES",
}
LABELS = {"enterprise": "Enterprise", "person": "Person"}

QUERIES = {
    "k_hop": (
        "MATCH (e:Enterprise {id: $id})-[*1..2]-(n) WHERE n <> e "
        "RETURN DISTINCT labels(n)[0] AS type, n.id AS id ORDER BY type, id"
    ),
    "guarantee_circles_gds": (
        "CALL gds.graph.project('guarantees', 'Enterprise', 'GUARANTEES') YIELD graphName "
        "CALL gds.scc.stream('guarantees') YIELD nodeId, componentId "
        "WITH componentId, collect(gds.util.asNode(nodeId).id) AS members "
        "WHERE size(members) >= 2 RETURN members ORDER BY size(members) DESC"
    ),
    "guarantee_circle_of": (
        "MATCH (e:Enterprise {id: $id}) "
        "OPTIONAL MATCH (e)-[:GUARANTEES*1..10]->(m)-[:GUARANTEES*1..10]->(e) "
        "RETURN e.id AS id, collect(DISTINCT m.id) AS circle"
    ),
    "mutual_guarantees": (
        "MATCH (a:Enterprise)-[:GUARANTEES]->(b:Enterprise)-[:GUARANTEES]->(a) "
        "WHERE a.id < b.id RETURN a.id, b.id"
    ),
    "ultimate_holders": (
        "MATCH p = (h)-[:HOLDS|INVESTS*1..10]->(t:Enterprise {id: $id}) "
        "WHERE NOT ()-[:HOLDS|INVESTS]->(h) "
        "AND all(n IN nodes(p) WHERE single(m IN nodes(p) WHERE m = n)) "
        "WITH h, reduce(s = 1.0, r IN relationships(p) | s * r.share) AS share "
        "RETURN labels(h)[0] AS type, h.id AS id, sum(share) AS share ORDER BY share DESC"
    ),
}


def _literal(value) -> str:
    """A Cypher literal: JSON strings and numbers are valid Cypher; maps need bare keys."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def export_cypher(session: Session, out: TextIO, *, batch: int = 1000) -> dict[str, int]:
    """Write the whole graph as a Cypher script; returns counts."""
    out.write(
        "CREATE CONSTRAINT enterprise_id IF NOT EXISTS FOR (e:Enterprise) REQUIRE e.id IS UNIQUE;\n"
    )
    out.write("CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE;\n")
    counts = {"enterprises": 0, "persons": 0, "relationships": 0, "statements": 2}
    enterprises = (
        {"id": e.id, "credit_code": e.credit_code, "name": e.name, "risk_level": e.risk_level}
        for e in session.scalars(select(Enterprise).order_by(Enterprise.id)).yield_per(batch)
    )
    for rows in _batches(enterprises, batch):
        out.write(
            f"UNWIND {_literal(rows)} AS row MERGE (e:Enterprise {{id: row.id}}) SET e += row;\n"
        )
        counts["enterprises"] += len(rows)
        counts["statements"] += 1
    persons = (
        {"id": p.id, "name": p.name}
        for p in session.scalars(select(Person).order_by(Person.id)).yield_per(batch)
    )
    for rows in _batches(persons, batch):
        out.write(f"UNWIND {_literal(rows)} AS row MERGE (p:Person {{id: row.id}}) SET p += row;\n")
        counts["persons"] += len(rows)
        counts["statements"] += 1
    by_shape: dict[tuple[str, str, str], list[dict]] = {}
    for e in session.scalars(select(RiskEdge).order_by(RiskEdge.id)).yield_per(batch):
        props = {
            k: v
            for k, v in (
                ("share", e.share),
                ("amount", float(e.amount) if e.amount is not None else None),
                ("volume", float(e.volume) if e.volume is not None else None),
                ("role", e.role),
            )
            if v is not None
        }
        by_shape.setdefault((e.src_type, e.dst_type, e.kind), []).append(
            {"src": e.src_id, "dst": e.dst_id, "props": props}
        )
    for (src_type, dst_type, kind), rows in sorted(by_shape.items()):
        for chunk in _batches(rows, batch):
            a, b = LABELS[src_type], LABELS[dst_type]
            out.write(
                f"UNWIND {_literal(chunk)} AS row "
                f"MATCH (a:{a} {{id: row.src}}), (b:{b} {{id: row.dst}}) "
                f"MERGE (a)-[r:{REL_TYPES[kind]}]->(b) SET r += row.props;\n"
            )
            counts["relationships"] += len(chunk)
            counts["statements"] += 1
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Export the risk knowledge graph as Cypher.")
    parser.add_argument("--out", required=True, help="file to write ('-' for stdout)")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args(argv)
    factory = make_session_factory(make_engine(Config.from_env().database_url))
    with factory() as session:
        if args.out == "-":
            counts = export_cypher(session, sys.stdout, batch=args.batch)
        else:
            with open(args.out, "w", encoding="utf-8") as fh:
                counts = export_cypher(session, fh, batch=args.batch)
    print(json.dumps(counts), file=sys.stderr)


if __name__ == "__main__":
    main()
