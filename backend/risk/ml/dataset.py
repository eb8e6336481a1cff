"""Training and evaluation data: point-in-time snapshots of every enterprise at a series of
dates, each labelled 1 when the enterprise defaults within the horizon after the snapshot.

Features at a snapshot use only events up to that date; enterprises that have already
defaulted are left out (there is nothing left to predict).  Splits are by enterprise, never
by row, so that no enterprise's snapshots sit on both sides of a train/test split."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from backend.risk.graph.algorithms import GraphData, metric_rows
from backend.risk.scoring.assessment import assess, contagion, flow_edges, related_scores
from backend.risk.scoring.features import FEATURE_NAMES, vector
from backend.risk.scoring.history import EnterpriseHistory
from backend.risk.scoring.ruleset import Ruleset


@dataclass
class Dataset:
    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray  # enterprise index of each row
    as_of: np.ndarray  # snapshot index of each row
    dates: list[datetime]
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def subset(self, rows: np.ndarray) -> Dataset:
        return Dataset(
            self.X[rows],
            self.y[rows],
            self.groups[rows],
            self.as_of[rows],
            self.dates,
            self.feature_names,
        )


def snapshot_dates(start: datetime, end: datetime, step_days: int) -> list[datetime]:
    dates, t = [], start
    while t <= end:
        dates.append(t)
        t += timedelta(days=step_days)
    return dates


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
    X, y, groups, snaps = [], [], [], []
    for d, as_of in enumerate(dates):
        alive = [
            i for i, h in enumerate(histories) if h.default_date is None or h.default_date > as_of
        ]
        assessments = {i: assess(histories[i], as_of, metrics[i], ruleset) for i in alive}
        levels = [
            assessments[i].own_level if i in assessments else None for i in range(len(histories))
        ]
        related = related_scores(graph.n, contagion(graph, levels, ruleset.contagion, flows), flows)
        for i in alive:
            features = assessments[i].features
            features["contagion_score"] = float(related[i])
            X.append(vector(features))
            default = histories[i].default_date
            y.append(1 if default is not None and as_of < default <= as_of + horizon else 0)
            groups.append(i)
            snaps.append(d)
    return Dataset(
        np.asarray(X, dtype=float).reshape(-1, len(FEATURE_NAMES)),
        np.asarray(y, dtype=int),
        np.asarray(groups, dtype=np.int64),
        np.asarray(snaps, dtype=np.int64),
        list(dates),
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
