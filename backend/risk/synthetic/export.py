"""A world on disk for an independent harness (``finedge risk world``): OUT/deliveries/
YYYY-MM-DD/<source>.jsonl (each record in the folder of its publication day) and
OUT/defaults.csv (the ground truth), with a summary of what was written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from backend.risk.synthetic.generator import generate
from backend.risk.synthetic.style import WorldStyle
from backend.risk.synthetic.world import World, published_time, record_time


def write_world(
    out: str | Path,
    *,
    enterprises: int,
    years: float,
    seed: int,
    end: datetime,
    style: str | WorldStyle = "realistic",
    on_generated: Callable[[World, int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Generate and write a world; ``on_generated(world, records)`` is called once the world
    is built, ``progress(records)`` after each day written."""
    world = generate(enterprises, seed=seed, end=end, years=years, style=style)
    root = Path(out)
    if on_generated:
        last_day = world.end.date()
        on_generated(
            world,
            sum(
                1
                for records in world.records.values()
                for r in records
                if published_time(r).date() <= last_day
            ),
        )
    written = world.write_deliveries(root / "deliveries", progress=progress)
    defaulters = world.write_truth(root / "defaults.csv")
    return {"out": str(root), **summary(world), "written": written, "defaulters": defaulters}


def summary(world: World) -> dict[str, Any]:
    """The figures of a world: firms, defaults per kind in the window, survivors, events and
    median publication lag (days) per source, released guarantees."""
    kinds = Counter(e.default_kind for e in world.defaulted())
    events: dict[str, int] = {}
    lags: dict[str, float] = {}
    for source, records in sorted(world.records.items()):
        days = sorted(
            (published_time(r) - record_time(r)).total_seconds() / 86400
            for r in records
            if r.get("type", "event") == "event"
        )
        if days:
            events[source] = len(days)
            lags[source] = round(days[len(days) // 2], 2)
    guarantees = [i for i, e in enumerate(world.edges) if e[2] == "guarantee"]
    return {
        "enterprises": len(world.enterprises),
        "style": getattr(world.style, "name", None),
        "seed": world.seed,
        "from": world.start.date().isoformat(),
        "to": world.end.date().isoformat(),
        "defaults": sum(kinds.values()),
        "defaults_by_kind": dict(sorted(kinds.items())),
        "survivors": sum(1 for e in world.enterprises if "survivor" in e.traits),
        "events_by_source": events,
        "median_lag_days": lags,
        "guarantees": len(guarantees),
        "guarantees_released": sum(1 for i in guarantees if world.edge_ends[i] is not None),
    }
