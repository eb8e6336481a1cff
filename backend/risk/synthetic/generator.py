"""``generate(n, seed)``: a synthetic world of ``n`` enterprises, built in a fixed order
(population, links, distress, then each enterprise's history, then publication times), so that
one seed (and one style) always gives the same world."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.risk.synthetic import stories
from backend.risk.synthetic.builder import Builder
from backend.risk.synthetic.histories import distress, history
from backend.risk.synthetic.population import enterprises, link
from backend.risk.synthetic.publication import publish
from backend.risk.synthetic.style import WorldStyle, resolve_style
from backend.risk.synthetic.world import World


def generate(
    n: int = 200,
    *,
    seed: int = 7,
    end: datetime | None = None,
    years: float = 2.0,
    style: str | WorldStyle | None = "realistic",
) -> World:
    """A world of ``n`` enterprises whose history runs ``years`` up to ``end`` (default: now,
    at midnight UTC), in ``style`` ("realistic", "simple" or a ``WorldStyle``)."""
    if end is None:
        now = datetime.now(UTC)
        end = datetime(now.year, now.month, now.day, tzinfo=UTC)
    chosen = resolve_style(style)
    builder = Builder(n, seed, end, years, chosen)
    ents = enterprises(builder)
    guarantors_of = link(builder, ents)
    if chosen.simple:
        distress(builder, ents, guarantors_of)
    else:
        stories.distress(builder, ents)
    for e in ents:
        history(builder, e)
    records = {s: r for s, r in builder.records.items() if r}
    records["registry"] = (
        records.get("registry", []) + builder.edge_records + builder.release_records
    )
    publish(builder, ents, records)
    return World(
        builder.start,
        end,
        ents,
        builder.persons,
        records,
        builder.edges,
        seed,
        edge_ends=builder.edge_ends,
        style=chosen,
    )
