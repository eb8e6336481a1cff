"""A synthetic world: enterprises with a ground truth (which default, and when), the feed
records of every source about them, and the same as in-memory histories and graph arrays;
with the small formatting helpers the generator shares (times, money)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from backend.risk import catalog
from backend.risk.graph.algorithms import GraphData
from backend.risk.scoring.history import EnterpriseHistory, EventView


@dataclass
class SyntheticEnterprise:
    index: int
    credit_code: str
    name: str
    alias: str
    industry: str
    region: str
    established_on: date
    registered_capital: Decimal
    health: float
    size: float
    flags: dict[str, bool]
    rated: bool
    dealer: bool = False
    distress_start: datetime | None = None
    default_date: datetime | None = None


@dataclass
class World:
    start: datetime
    end: datetime
    enterprises: list[SyntheticEnterprise]
    persons: list[tuple[str, str]]
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    edges: list[tuple[int, int, str, float | None, float | None]] = field(default_factory=list)
    seed: int = 0

    @property
    def defaults(self) -> dict[str, datetime | None]:
        """Ground truth: credit code -> default date (None: never defaults)."""
        return {e.credit_code: e.default_date for e in self.enterprises}

    def feed(self, until: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
        """Feed records per source with a source time at or before ``until``."""
        until = until or self.end
        out = {}
        for source, records in self.records.items():
            out[source] = [r for r in records if record_time(r) <= until]
        return out

    def histories(self) -> list[EnterpriseHistory]:
        """In-memory histories with ground-truth default dates (for evaluation)."""
        events: list[list[EventView]] = [[] for _ in self.enterprises]
        by_code = {e.credit_code: e.index for e in self.enterprises}
        by_alias = {e.alias: e.index for e in self.enterprises}
        counter = 0
        for source, records in self.records.items():
            for r in records:
                if r.get("type", "event") != "event":
                    continue
                index = by_code.get(r.get("credit_code")) if r.get("credit_code") else None
                if index is None:
                    index = by_alias[r["name"]]
                counter += 1
                kind = catalog.KINDS[r["kind"]]
                events[index].append(
                    EventView(
                        counter,
                        r["kind"],
                        kind.category,
                        source,
                        catalog.severity_rank(r.get("severity", kind.severity)),
                        record_time(r),
                        r.get("data", {}),
                        r.get("title"),
                    )
                )
        return [
            EnterpriseHistory(
                key=e.index,
                name=e.name,
                credit_code=e.credit_code,
                status="in_business",
                registered_capital=float(e.registered_capital),
                established_on=e.established_on,
                attributes={"flags": e.flags},
                events=events[e.index],
                default_date=e.default_date,
            )
            for e in self.enterprises
        ]

    def graph(self) -> GraphData:
        ne = len(self.enterprises)
        if not self.edges:
            return GraphData.empty(ne)
        src, dst, kind, share, amount = zip(*self.edges, strict=True)
        return GraphData(
            n_enterprises=ne,
            n_persons=len(self.persons),
            src=np.asarray(src, dtype=np.int64),
            dst=np.asarray(dst, dtype=np.int64),
            kind=np.asarray([catalog.EDGE_KIND_CODE[k] for k in kind], dtype=np.int8),
            share=np.asarray([np.nan if s is None else s for s in share], dtype=float),
            amount=np.asarray([0.0 if a is None else a for a in amount], dtype=float),
        )


def record_time(record: dict) -> datetime:
    return datetime.fromisoformat(record["time"].replace("Z", "+00:00"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: float) -> str:
    return str(Decimal(max(amount, 1.0)).quantize(Decimal("0.01")))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
