"""``generate(n, seed)``: a synthetic world of ``n`` enterprises, built in a fixed order
(population, links, distress, then each enterprise's history), so that one seed always gives
the same world."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.risk.synthetic.builder import Builder
from backend.risk.synthetic.histories import distress, history
from backend.risk.synthetic.population import enterprises, link
from backend.risk.synthetic.world import World


def generate(
    n: int = 200, *, seed: int = 7, end: datetime | None = None, years: float = 2.0
) -> World:
    """A world of ``n`` enterprises whose history runs ``years`` up to ``end`` (default: now,
    at midnight UTC)."""
    if end is None:
        now = datetime.now(UTC)
        end = datetime(now.year, now.month, now.day, tzinfo=UTC)
    builder = Builder(n, seed, end, years)
    ents = enterprises(builder)
    guarantors_of = link(builder, ents)
    distress(builder, ents, guarantors_of)
    for e in ents:
        history(builder, e)
    records = {s: r for s, r in builder.records.items() if r}
    records["registry"] = records.get("registry", []) + builder.edge_records
    return World(builder.start, end, ents, builder.persons, records, builder.edges, seed)
