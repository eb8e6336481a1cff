"""The workbench of the generator: one random source (``random`` and numpy, both seeded), the
time window of the world, and the sinks the generator fills (feed records per source, graph
edges and their records, persons).  Every draw goes through here in a fixed order, so that a
seed always gives the same world.  Publication times are drawn from a second seeded source
(``lag_rng``) after the world is built, so that lags never change what happens."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import numpy as np

from backend.risk.synthetic.style import WorldStyle
from backend.risk.synthetic.world import SyntheticEnterprise, iso

SOURCES = {
    "registry": "registry",
    "court": "judicial",
    "regulator": "penalty",
    "tax_bureau": "tax",
    "pledge_registry": "equity",
    "news": "sentiment",
    "rating_agency": "rating",
    "annual_reports": "financials",
    "core_banking": "internal",
    "floorplan": "internal",
}


class Builder:
    def __init__(self, n: int, seed: int, end: datetime, years: float, style: WorldStyle):
        self.n = n
        self.style = style
        self.rng = random.Random(seed)
        self.lag_rng = random.Random(f"lags-{seed}")
        self.np = np.random.default_rng(seed)
        self.end = end
        self.start = end - timedelta(days=round(365 * years))
        self.records: dict[str, list[dict]] = {s: [] for s in SOURCES}
        self.edges: list[tuple[int, int, str, float | None, float | None]] = []
        self.edge_ends: list[datetime | None] = []  # parallel to edges: when it was released
        self.edge_records: list[dict] = []  # parallel to edges
        self.release_records: list[dict] = []  # edge records with ``ended``
        self.pinned: dict[str, datetime] = {}  # record_id -> publication time set by the story
        self.seq = 0
        self.persons: list[tuple[str, str]] = []

    def rid(self, source: str) -> str:
        self.seq += 1
        return f"{source}-{self.seq:08d}"

    def moment(self, lo: datetime, hi: datetime) -> datetime:
        span = max((hi - lo).total_seconds(), 1.0)
        return (lo + timedelta(seconds=self.rng.uniform(0, span))).replace(microsecond=0)

    def poisson_times(self, rate_per_year: float, lo: datetime, hi: datetime) -> list[datetime]:
        lo, hi = max(lo, self.start), min(hi, self.end)
        if hi <= lo or rate_per_year <= 0:
            return []
        years = (hi - lo).days / 365.0
        return sorted(self.moment(lo, hi) for _ in range(self.np.poisson(rate_per_year * years)))

    def event(self, ent: SyntheticEnterprise, source: str, kind: str, when: datetime, **kw):
        if when > self.end or when < self.start - timedelta(days=800):
            return
        record = {"record_id": self.rid(source), "kind": kind, "time": iso(when)}
        if source == "news" and self.rng.random() < 0.5:
            record["name"] = ent.alias  # news often carries only a (differently spelled) name
        else:
            record["credit_code"] = ent.credit_code
            record["name"] = ent.name
        record.update(kw)
        self.records[source].append(record)
        return record
