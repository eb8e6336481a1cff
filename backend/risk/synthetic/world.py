"""A synthetic world: enterprises with a ground truth (which default, and when), the feed
records of every source about them (each with its publication time), and the same as
in-memory histories and graph arrays; the dated deliveries and the truth file an independent
harness reads; with the small formatting helpers the generator shares (times, money)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
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
    # quiet | sudden | stressed | contagion when it defaults; '' otherwise
    default_kind: str = ""
    # routine-event traits of the realistic world (e.g. "high_leverage", "survivor")
    traits: set[str] = field(default_factory=set)


DEFAULT_KINDS = ("quiet", "sudden", "stressed", "contagion")
TRUTH_HEADER = ("credit_code", "name", "default_date", "default_kind")


@dataclass
class World:
    start: datetime
    end: datetime
    enterprises: list[SyntheticEnterprise]
    persons: list[tuple[str, str]]
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    edges: list[tuple[int, int, str, float | None, float | None]] = field(default_factory=list)
    seed: int = 0
    # parallel to ``edges``: when the relation ended (a released guarantee), None: still on
    edge_ends: list[datetime | None] = field(default_factory=list)
    style: Any = None  # the WorldStyle it was built with

    @property
    def defaults(self) -> dict[str, datetime | None]:
        """Ground truth: credit code -> default date (None: never defaults)."""
        return {e.credit_code: e.default_date for e in self.enterprises}

    @property
    def default_kinds(self) -> dict[str, str]:
        """Ground truth: credit code -> default kind ('' : never defaults)."""
        return {e.credit_code: e.default_kind for e in self.enterprises}

    def defaulted(self, until: datetime | None = None) -> list[SyntheticEnterprise]:
        """The enterprises that default by ``until`` (default: the world's end)."""
        until = until or self.end
        return [e for e in self.enterprises if e.default_date and e.default_date <= until]

    def feed(self, until: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
        """Feed records per source the bank has received by ``until``: published (else, for a
        record without a publication time, happened) at or before it."""
        until = until or self.end
        out = {}
        for source, records in self.records.items():
            out[source] = [r for r in records if published_time(r) <= until]
        return out

    def deliveries(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> dict[date, dict[str, list[dict[str, Any]]]]:
        """The records by the day the bank receives them (their publication day) and source,
        from ``start`` to ``end`` (default: the world's window).  Everything published before
        ``start`` (the initial profiles and relations, and the history the bank takes over at
        go-live) is in the first day's delivery; what is published after ``end`` is not there."""
        first = (start or self.start).astimezone(UTC).date()
        last = (end or self.end).astimezone(UTC).date()
        days: dict[date, dict[str, list[dict[str, Any]]]] = {}
        for source, records in self.records.items():
            for r in records:
                day = max(published_time(r).date(), first)
                if day <= last:
                    days.setdefault(day, {}).setdefault(source, []).append(r)
        for by_source in days.values():
            for records in by_source.values():
                records.sort(key=published_time)  # stable: the world's order within a time
        return dict(sorted(days.items()))

    def write_deliveries(
        self,
        directory: str | Path,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, int]:
        """Write DIR/YYYY-MM-DD/<source>.jsonl (UTF-8, one record a line, in publication
        order) for every day with a delivery; returns counts of days, files and records.
        ``progress`` is called with the number of records of each day written."""
        root = Path(directory)
        counts = {"days": 0, "files": 0, "records": 0}
        for day, by_source in self.deliveries(start, end).items():
            folder = root / day.isoformat()
            folder.mkdir(parents=True, exist_ok=True)
            written = 0
            for source, records in sorted(by_source.items()):
                with open(folder / f"{source}.jsonl", "w", encoding="utf-8") as out:
                    for r in records:
                        out.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")))
                        out.write("\n")
                counts["files"] += 1
                written += len(records)
            counts["days"] += 1
            counts["records"] += written
            if progress:
                progress(written)
        return counts

    def truth_rows(self, until: datetime | None = None) -> list[tuple[str, str, str, str]]:
        """One row per enterprise: credit code, name, default date (YYYY-MM-DD, empty when it
        does not default by ``until``, default: the world's end) and default kind."""
        until = until or self.end
        rows = []
        for e in self.enterprises:
            defaulted = e.default_date is not None and e.default_date <= until
            rows.append(
                (
                    e.credit_code,
                    e.name,
                    e.default_date.date().isoformat() if defaulted else "",
                    e.default_kind if defaulted else "",
                )
            )
        return rows

    def write_truth(self, path: str | Path, until: datetime | None = None) -> int:
        """defaults.csv in the agreed format (header ``credit_code,name,default_date,
        default_kind``, one row per firm); returns the number of defaulters written."""
        rows = self.truth_rows(until)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(TRUTH_HEADER)
            writer.writerows(rows)
        return sum(1 for r in rows if r[2])

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
                        published_time(r),
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

    def edge_active(self, index: int, as_of: datetime | None) -> bool:
        """Whether edge ``index`` still stands at ``as_of`` (None: ever existed)."""
        ended = self.edge_ends[index] if index < len(self.edge_ends) else None
        return as_of is None or ended is None or ended > as_of

    def graph(self, as_of: datetime | None = None) -> GraphData:
        """The knowledge graph as arrays; with ``as_of``, without the relations ended by then
        (a released guarantee no longer carries contagion).  Without it: every edge, ended or
        not (``edge_ends`` says which ended when)."""
        ne = len(self.enterprises)
        edges = [edge for i, edge in enumerate(self.edges) if self.edge_active(i, as_of)]
        if not edges:
            return GraphData.empty(ne)
        src, dst, kind, share, amount = zip(*edges, strict=True)
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


def published_time(record: dict) -> datetime:
    """When the source published the record (its ``published``, else its ``time``)."""
    text = record.get("published") or record["time"]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: float) -> str:
    return str(Decimal(max(amount, 1.0)).quantize(Decimal("0.01")))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
