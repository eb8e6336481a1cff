"""Training and evaluation data: point-in-time snapshots of every enterprise at a series of
dates, each labelled 1 when the enterprise defaults within the horizon after the snapshot.

Features at a snapshot are built from what the bank knew then: the one point-in-time view
(``EnterpriseHistory.events_until``: events that happened by the snapshot *and* were known by
then, ``EventView.known_at``), the same view live scoring uses, so that a lawsuit filed before
the snapshot but published after it is invisible to the training row as it was to the scan.
Enterprises that have already defaulted get no row (nothing left to predict) but keep their
own level, so that their distress still reaches their partners (contagion, network columns)
as it does live.

Each row also carries the baseline the model must beat: the highest level the rules and
contagion gave the enterprise at the snapshot (``rule_rank``, 0-4), and the days from the
snapshot to the default (``days_to_default``, inf when none is known) for precision at other
horizons.  ``split_out_of_time`` splits by snapshot date (train on an earlier period, test on a
later one, training labels censored at the cut: what the bank could have known then);
``skew_report`` compares features built the training way with those built by event date."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from backend.risk import catalog
from backend.risk.graph.algorithms import GraphData, metric_rows
from backend.risk.scoring.assessment import (
    assess,
    contagion,
    contagion_finding,
    fill_network,
    flow_edges,
    related_scores,
)
from backend.risk.scoring.features import FEATURE_NAMES, vector
from backend.risk.scoring.history import EnterpriseHistory, EventView
from backend.risk.scoring.ruleset import Ruleset


@dataclass
class Dataset:
    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray  # enterprise index of each row
    as_of: np.ndarray  # snapshot index of each row
    dates: list[datetime]
    feature_names: tuple[str, ...] = FEATURE_NAMES
    rule_rank: np.ndarray = field(default_factory=lambda: np.zeros(0))
    days_to_default: np.ndarray = field(default_factory=lambda: np.zeros(0))
    horizon_days: int = 180

    def subset(self, rows: np.ndarray) -> Dataset:
        return Dataset(
            self.X[rows],
            self.y[rows],
            self.groups[rows],
            self.as_of[rows],
            self.dates,
            self.feature_names,
            self.rule_rank[rows],
            self.days_to_default[rows],
            self.horizon_days,
        )


def snapshot_dates(start: datetime, end: datetime, step_days: int) -> list[datetime]:
    dates, t = [], start
    while t <= end:
        dates.append(t)
        t += timedelta(days=step_days)
    return dates


def snapshot_levels(
    histories: Sequence[EnterpriseHistory],
    graph: GraphData,
    ruleset: Ruleset,
    as_of: datetime,
    *,
    metrics: list | None = None,
    flows=None,
) -> tuple[dict[int, Any], list[str | None], np.ndarray, list[int], np.ndarray]:
    """Everybody assessed at one snapshot: (assessments, own levels, related scores, the
    enterprises still alive, the highest rule or contagion rank of each)."""
    metrics = metrics if metrics is not None else metric_rows(graph)
    flows = flows if flows is not None else flow_edges(graph, ruleset.contagion)
    n = len(histories)
    assessed = {i: assess(histories[i], as_of, metrics[i], ruleset) for i in range(n)}
    levels = [assessed[i].own_level for i in range(n)]
    prop = contagion(graph, levels, ruleset.contagion, flows)
    related = related_scores(graph.n, prop, flows)[:n]
    alive = [i for i, h in enumerate(histories) if h.default_date is None or h.default_date > as_of]
    ranks = np.asarray([catalog.level_rank(level) for level in levels], dtype=float)
    for i in alive:
        found = contagion_finding(
            i, prop, levels, ruleset.contagion, ruleset.version, lambda j: (j, str(j))
        )
        if found is not None:
            ranks[i] = max(ranks[i], catalog.level_rank(found.level))
    return assessed, levels, related, alive, ranks


def build_dataset(
    histories: Sequence[EnterpriseHistory],
    graph: GraphData,
    ruleset: Ruleset,
    *,
    dates: Sequence[datetime],
    horizon_days: int = 180,
) -> Dataset:
    """``histories[i]`` is enterprise node ``i`` of ``graph``."""
    metrics = metric_rows(graph)
    flows = flow_edges(graph, ruleset.contagion)
    horizon = timedelta(days=horizon_days)
    blocks, y, groups, snaps, ranks, until = [], [], [], [], [], []
    for d, as_of in enumerate(dates):
        assessed, levels, related, alive, rank = snapshot_levels(
            histories, graph, ruleset, as_of, metrics=metrics, flows=flows
        )
        if not alive:
            continue
        X = np.asarray([vector(assessed[i].features) for i in alive], dtype=float)
        fill_network(X, graph, levels, related, rows=alive)
        blocks.append(X)
        for i in alive:
            default = histories[i].default_date
            y.append(1 if default is not None and as_of < default <= as_of + horizon else 0)
            until.append((default - as_of).total_seconds() / 86400.0 if default else np.inf)
            groups.append(i)
            snaps.append(d)
            ranks.append(rank[i])
    X = np.concatenate(blocks) if blocks else np.zeros((0, len(FEATURE_NAMES)))
    return Dataset(
        X.reshape(-1, len(FEATURE_NAMES)),
        np.asarray(y, dtype=int),
        np.asarray(groups, dtype=np.int64),
        np.asarray(snaps, dtype=np.int64),
        list(dates),
        rule_rank=np.asarray(ranks, dtype=float),
        days_to_default=np.asarray(until, dtype=float),
        horizon_days=horizon_days,
    )


@dataclass
class OutOfTime:
    train: np.ndarray  # row indices
    test: np.ndarray
    y_train: np.ndarray  # labels censored at the cut (what was known then)
    cut: datetime
    train_dates: tuple[datetime, datetime] | None
    test_dates: tuple[datetime, datetime] | None


def _censored(data: Dataset, rows: np.ndarray, cut: datetime) -> np.ndarray:
    known_by_cut = np.array(
        [(cut - data.dates[int(d)]).total_seconds() / 86400.0 for d in data.as_of[rows]]
    )
    return ((data.y[rows] == 1) & (data.days_to_default[rows] <= known_by_cut)).astype(int)


def split_out_of_time(
    data: Dataset, *, test_share: float = 0.4, min_dates: int = 2, cut_index: int | None = None
) -> OutOfTime:
    """Train on the snapshots before the cut, test on those from it on (at least
    ``min_dates`` snapshots on each side).  Training labels only count defaults up to the cut:
    a row a month before the cut whose enterprise defaults two months after it is a 0, as the
    bank would have labelled it then.  The cut (unless given) is the snapshot that leaves
    about ``test_share`` of the positive rows to the test: defaults are rare and uneven in
    time, so a cut by dates alone can leave one side without any."""
    dates = data.dates
    lo, hi = min(min_dates, len(dates)), max(len(dates) - min_dates, 0)
    if cut_index is None:
        cut_index = hi
        best = None
        for k in range(lo, hi + 1):
            train = np.flatnonzero(data.as_of < k)
            test = np.flatnonzero(data.as_of >= k)
            have_train = int(_censored(data, train, dates[k]).sum()) if k < len(dates) else 0
            have_test = int(data.y[test].sum())
            total = have_train + have_test
            if not total:
                continue
            gap = abs(have_test / total - test_share)
            if best is None or gap < best:
                best, cut_index = gap, k
    cut_index = min(max(cut_index, 0), max(len(dates) - 1, 0))
    cut = dates[cut_index] if dates else datetime.min
    train = np.flatnonzero(data.as_of < cut_index)
    test = np.flatnonzero(data.as_of >= cut_index)
    return OutOfTime(
        train=train,
        test=test,
        y_train=_censored(data, train, cut),
        cut=cut,
        train_dates=(dates[0], dates[cut_index - 1]) if cut_index > 0 else None,
        test_dates=(dates[cut_index], dates[-1]) if len(test) else None,
    )


def split_by_enterprise(
    keys: Sequence[object], groups: np.ndarray, *, test_share: float = 0.3, salt: str = "risk"
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of train and test, assigning each enterprise by a hash of its key (stable
    across runs and across models: champion and challenger see the same held-out rows)."""
    in_test = np.array(
        [
            int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            < test_share
            for key in keys
        ]
    )
    mask = in_test[groups] if len(groups) else np.zeros(0, dtype=bool)
    return np.flatnonzero(~mask), np.flatnonzero(mask)


# --- point in time: event time against known time ---------------------------------------------


def _with_events(history: EnterpriseHistory, events: list[EventView]) -> EnterpriseHistory:
    return EnterpriseHistory(
        key=history.key,
        name=history.name,
        credit_code=history.credit_code,
        status=history.status,
        registered_capital=history.registered_capital,
        established_on=history.established_on,
        attributes=history.attributes,
        events=events,
        default_date=history.default_date,
    )


def event_time_view(histories: Sequence[EnterpriseHistory]) -> list[EnterpriseHistory]:
    """The same histories as if every event had been known when it happened (the old way of
    building training rows: by event date)."""
    return [_with_events(h, [replace(e, known_at=None) for e in h.events]) for h in histories]


# Publication lags by source, in days (low, high): vendors publish court and tax records weeks
# after the fact, the bank's own systems and the news at once.
DEFAULT_LAGS = {
    "court": (5, 90),
    "tax_bureau": (10, 120),
    "regulator": (5, 60),
    "pledge_registry": (1, 30),
    "registry": (1, 45),
    "rating_agency": (0, 10),
    "annual_reports": (30, 120),
}


def with_publication_lags(
    histories: Sequence[EnterpriseHistory],
    *,
    seed: int = 0,
    lags: dict[str, tuple[int, int]] | None = None,
) -> list[EnterpriseHistory]:
    """Histories whose events become known ``time + lag`` (``lags`` by source, uniform in days;
    sources not named are known at once).  A harder world for evaluation: what the generator
    dates on the day it happened, the bank learns weeks later."""
    rng = random.Random(seed)
    lags = DEFAULT_LAGS if lags is None else lags
    out = []
    for h in histories:
        events = []
        for e in h.events:
            span = lags.get(e.source)
            if span is None or e.kind == "loan_default":
                events.append(e)
                continue
            lag = timedelta(days=rng.uniform(*span))
            events.append(replace(e, known_at=max(e.known_at or e.time, e.time + lag)))
        out.append(_with_events(h, events))
    return out


def skew_report(
    histories: Sequence[EnterpriseHistory],
    graph: GraphData,
    ruleset: Ruleset,
    dates: Sequence[datetime],
    *,
    max_dates: int = 4,
    horizon_days: int = 180,
) -> dict[str, Any]:
    """Train/live skew: features of a sample of snapshots built by event date (every event
    seen from the day it happened) against the point-in-time view (seen from when it was
    known, as live scoring sees it).  Rows and features that differ, and the share of rows
    affected; zero means training by event date would have been harmless on this data."""
    if not dates:
        return {"snapshots": 0, "rows": 0, "rows_differing": 0, "share_rows_differing": 0.0}
    step = max(1, len(dates) // max_dates)
    sample = list(dates)[::step][:max_dates]
    known = build_dataset(histories, graph, ruleset, dates=sample, horizon_days=horizon_days)
    by_event = build_dataset(
        event_time_view(histories), graph, ruleset, dates=sample, horizon_days=horizon_days
    )
    differs = ~np.isclose(known.X, by_event.X, rtol=1e-9, atol=1e-9)
    rows = differs.any(axis=1)
    per_feature = {
        FEATURE_NAMES[j]: int(differs[:, j].sum())
        for j in np.argsort(-differs.sum(axis=0), kind="stable")
        if differs[:, j].any()
    }
    rank_differs = known.rule_rank != by_event.rule_rank
    return {
        "snapshots": len(sample),
        "rows": len(known.y),
        "rows_differing": int(rows.sum()),
        "share_rows_differing": round(float(rows.mean()), 4) if len(rows) else 0.0,
        "features_differing": per_feature,
        "rule_level_differing": int(rank_differs.sum()),
        "note": "features by event date vs by known date (EventView.known_at): the training "
        "rows use the known-date view, the same as live scoring",
    }
