"""Evaluation report of the warning system on a synthetic world with ground truth.

    python -m backend.risk.ml.backtest --enterprises 2000 --seed 7

1. Point-in-time snapshots every 30 days, labelled "defaults within 180 days" from the ground
   truth; split by enterprise (30% held out).
2. Both algorithms trained on the same training enterprises; ROC AUC, average precision,
   Brier score and precision in the top k on the same held-out rows, and the champion /
   challenger comparison (``registry.compare``).
3. A backtest replaying the whole system (rules, contagion, the model) every ``step_days``:
   for each held-out enterprise that defaults, how many days before its default the first
   strong or hard signal came (lead days); for those that do not, how many got one anyway
   (false alarms).  The same replay with rules only shows what the model adds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from backend.risk import catalog
from backend.risk.graph.algorithms import metric_rows
from backend.risk.ml import classifier
from backend.risk.ml.dataset import build_dataset, snapshot_dates, split_by_enterprise
from backend.risk.ml.registry import compare
from backend.risk.scoring.assessment import (
    assess,
    contagion,
    contagion_finding,
    flow_edges,
    related_scores,
)
from backend.risk.scoring.features import CONTAGION_INDEX, vector
from backend.risk.scoring.rulefile import load_ruleset
from backend.risk.scoring.ruleset import Ruleset
from backend.risk.synthetic import World, generate

WARNING = catalog.LEVEL_RANK["strong"]


def backtest(
    world: World,
    ruleset: Ruleset,
    model: classifier.TrainedModel | None,
    *,
    start: datetime,
    end: datetime,
    step_days: int = 14,
) -> dict[int, datetime]:
    """First date on which each enterprise had a strong or hard signal (any origin)."""
    histories = world.histories()
    graph = world.graph()
    metrics = metric_rows(graph)
    flows = flow_edges(graph, ruleset.contagion)
    first: dict[int, datetime] = {}
    n = len(histories)
    for as_of in snapshot_dates(start, end, step_days):
        alive = [
            i
            for i in range(n)
            if histories[i].default_date is None or histories[i].default_date > as_of
        ]
        assessed = {i: assess(histories[i], as_of, metrics[i], ruleset) for i in alive}
        levels = [assessed[i].own_level if i in assessed else None for i in range(n)]
        prop = contagion(graph, levels, ruleset.contagion, flows)
        related = related_scores(graph.n, prop, flows)
        best = {i: catalog.level_rank(levels[i]) for i in alive}
        for i in alive:
            found = contagion_finding(
                i, prop, levels, ruleset.contagion, ruleset.version, lambda j: (j, str(j))
            )
            if found:
                best[i] = max(best[i], catalog.level_rank(found.level))
        if model is not None and alive:
            X = np.asarray([vector(assessed[i].features) for i in alive])
            X[:, CONTAGION_INDEX] = related[alive]
            for i, p in zip(alive, model.predict(X), strict=True):
                best[i] = max(best[i], catalog.level_rank(model.level(float(p))))
        for i, rank in best.items():
            if rank >= WARNING and i not in first:
                first[i] = as_of
    return first


def lead_report(
    world: World, first: dict[int, datetime], members: list[int], *, start: datetime, end: datetime
) -> dict[str, Any]:
    defaulters = [
        i
        for i in members
        if (d := world.enterprises[i].default_date) is not None
        and start + timedelta(days=30) < d <= end
    ]
    leads = [
        (world.enterprises[i].default_date - first[i]).days
        for i in defaulters
        if i in first and first[i] < world.enterprises[i].default_date
    ]
    healthy = [i for i in members if world.enterprises[i].default_date is None]
    false_alarms = [i for i in healthy if i in first]
    warned = [i for i in members if i in first]
    true_warnings = [
        i
        for i in warned
        if (d := world.enterprises[i].default_date) is not None
        and d - first[i] <= timedelta(days=365)
    ]
    return {
        "defaulters": len(defaulters),
        "warned_before_default": len(leads),
        "share_warned": round(len(leads) / len(defaulters), 3) if defaulters else None,
        "lead_days_median": statistics.median(leads) if leads else None,
        "lead_days_mean": round(statistics.fmean(leads), 1) if leads else None,
        "lead_days_p25": float(np.percentile(leads, 25)) if leads else None,
        "lead_days_p75": float(np.percentile(leads, 75)) if leads else None,
        "share_warned_30d_ahead": round(sum(1 for x in leads if x >= 30) / len(defaulters), 3)
        if defaulters
        else None,
        "share_warned_90d_ahead": round(sum(1 for x in leads if x >= 90) / len(defaulters), 3)
        if defaulters
        else None,
        "never_defaulting": len(healthy),
        "false_alarm_rate": round(len(false_alarms) / len(healthy), 3) if healthy else None,
        "warning_precision_365d": round(len(true_warnings) / len(warned), 3) if warned else None,
    }


def evaluation_report(
    n: int = 2000,
    *,
    seed: int = 7,
    horizon_days: int = 180,
    step_days: int = 14,
    snapshot_days: int = 30,
    ks: tuple[int, ...] = (10, 20, 50),
) -> dict[str, Any]:
    started = time.perf_counter()
    world = generate(n, seed=seed)
    histories = world.histories()
    graph = world.graph()
    ruleset = load_ruleset()
    dates = snapshot_dates(world.start + timedelta(days=150), world.end, snapshot_days)
    data = build_dataset(histories, graph, ruleset, dates=dates, horizon_days=horizon_days)
    keys = [e.credit_code for e in world.enterprises]
    train_rows, test_rows = split_by_enterprise(keys, data.groups)
    models, results = {}, {}
    for algorithm in classifier.ALGORITHMS:
        model = classifier.train(data.X[train_rows], data.y[train_rows], algorithm)
        models[algorithm] = model
        results[algorithm] = classifier.metrics(
            data.y[test_rows], model.predict(data.X[test_rows]), ks=(20, 50, 100)
        )
    champion_name = max(results, key=lambda a: results[a]["auc"] or 0)
    challenger_name = next(a for a in classifier.ALGORITHMS if a != champion_name)
    comparison = compare(
        models[champion_name], models[challenger_name], data.X[test_rows], data.y[test_rows]
    )
    # precision in the top k at one date: the last snapshot, held-out enterprises only
    last = len(dates) - 1
    rows = np.intersect1d(test_rows, np.flatnonzero(data.as_of == last))
    p_last = models[champion_name].predict(data.X[rows])
    top_k = {
        str(k): round(classifier.precision_at_k(data.y[rows], p_last, k), 3)
        for k in ks
        if k <= len(rows)
    }
    test_members = sorted({int(g) for g in data.groups[test_rows]})
    start, end = world.start + timedelta(days=150), world.end
    first_all = backtest(
        world, ruleset, models[champion_name], start=start, end=end, step_days=step_days
    )
    first_rules = backtest(world, ruleset, None, start=start, end=end, step_days=step_days)
    return {
        "world": {
            "enterprises": n,
            "seed": seed,
            "from": world.start.date().isoformat(),
            "to": world.end.date().isoformat(),
            "edges": len(world.edges),
            "events": sum(len(h.events) for h in histories),
            "defaults_in_window": sum(
                1 for e in world.enterprises if e.default_date and e.default_date <= world.end
            ),
        },
        "dataset": {
            "snapshots": len(dates),
            "rows": len(data.y),
            "positives": int(data.y.sum()),
            "train_rows": len(train_rows),
            "test_rows": len(test_rows),
            "horizon_days": horizon_days,
        },
        "models": results,
        "champion": champion_name,
        "champion_vs_challenger": comparison,
        "precision_at_k_last_snapshot": {
            "date": dates[last].date().isoformat(),
            "held_out": len(rows),
            **top_k,
        },
        "lead_time_held_out": lead_report(world, first_all, test_members, start=start, end=end),
        "lead_time_rules_only_held_out": lead_report(
            world, first_rules, test_members, start=start, end=end
        ),
        "backtest_step_days": step_days,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enterprises", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--step-days", type=int, default=14)
    args = parser.parse_args(argv)
    report = evaluation_report(args.enterprises, seed=args.seed, step_days=args.step_days)
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
