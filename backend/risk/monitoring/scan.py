"""The full scan: re-evaluate every enterprise, with progress, and report what changed.

Phases (``ScanRun.phase``, with ``done``/``total`` for the long ones):

1. ``graph``: load the knowledge graph into arrays; guarantee circles, mutual guarantees,
   degrees and 2-hop related parties for every enterprise (backend/risk/graph/algorithms.py);
2. ``assess``: in chunks, every enterprise's features, tags and rule findings;
3. ``contagion``: propagate everybody's own level along guarantee, equity and group edges;
   related-party risk becomes a model feature and, where it exceeds the enterprise's own
   level, a contagion signal;
4. ``model``: the champion scores everyone in one batch; explanations for flagged rows;
5. ``reconcile``: in chunks, signals raised/escalated/expired, tags and the enterprise's
   stored measures updated; with ``commit=True`` each chunk commits, so that progress is
   visible to others and a long scan does not hold one huge transaction.

The report lists counts by level and origin, tags added and removed, enterprises whose level
changed (the largest moves first), circles found, the rate, the ruleset and model used."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.platform.clock import utcnow
from backend.platform.live import LiveEmitter
from backend.risk import catalog
from backend.risk.graph.algorithms import metric_rows, strong_components
from backend.risk.graph.store import load_graph
from backend.risk.ml import registry
from backend.risk.models import Enterprise, ScanRun
from backend.risk.monitoring.steps import existing_tags, model_findings, org_kinds, store_tags
from backend.risk.scoring.assessment import (
    assess,
    contagion,
    contagion_finding,
    fill_network,
    flow_edges,
    related_scores,
)
from backend.risk.scoring.features import FEATURE_NAMES, NETWORK_FEATURES, vector
from backend.risk.scoring.history import load_histories
from backend.risk.scoring.rulefile import ruleset_in_force
from backend.risk.scoring.ruleset import Ruleset
from backend.risk.signals.lifecycle import Changes, finish, load_books, reconcile

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def full_scan(
    session: Session,
    *,
    now: datetime | None = None,
    live: LiveEmitter | None = None,
    chunk_size: int = 500,
    commit: bool = True,
    trigger: str = "manual",
    progress: Progress | None = None,
    ruleset: Ruleset | None = None,
    backfill: bool = False,
) -> ScanRun:
    """``ruleset``: default the one in force (``ruleset_in_force``). ``backfill``: the scan of a
    go-live backfill: raised signals are marked ``backfill`` and routed to nobody (no inbox
    items, no pushes); the caller reports one summary instead."""
    now = now or utcnow()
    ruleset = ruleset or ruleset_in_force(session)
    champion = registry.champion(session)
    total = session.scalar(select(func.count(Enterprise.id)))
    run = ScanRun(
        trigger=trigger,
        status="running",
        phase="graph",
        total=total,
        done=0,
        started_at=now,
        ruleset_version=ruleset.version,
        model_id=champion[0].id if champion else None,
    )
    session.add(run)
    session.flush()
    run_id = run.id
    if commit:
        session.commit()
    try:
        report = _scan(
            session, run, now, live, chunk_size, commit, progress, ruleset, champion, backfill
        )
    except Exception as exc:
        session.rollback()
        run = session.get(ScanRun, run_id)
        run.status, run.finished_at = "failed", utcnow()
        run.report = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        if commit:
            session.commit()
        raise
    run.status, run.phase, run.finished_at, run.report = "ok", "done", utcnow(), report
    session.flush()
    if commit:
        session.commit()
    return run


def _step(session, run, phase, done, commit, progress):
    run.phase, run.done = phase, done
    session.flush()
    if commit:
        session.commit()
    if progress:
        progress(phase, done, run.total)


def _scan(
    session, run, now, live, chunk_size, commit, progress, ruleset, champion, backfill=False
) -> dict[str, Any]:
    started = time.perf_counter()
    graph = load_graph(session, as_of=now)  # the graph as it stood at the scan's moment
    ids = [int(i) for i in graph.node_ids["enterprise"]]
    metrics = metric_rows(graph)
    _labels, circles = strong_components(graph.n, *_guarantees(graph))
    flows = flow_edges(graph, ruleset.contagion)
    _step(session, run, "assess", 0, commit, progress)

    n = len(ids)
    X = np.zeros((n, len(FEATURE_NAMES)))
    tags: list[list] = [[] for _ in range(n)]
    findings: list[list] = [[] for _ in range(n)]
    names: list[str] = [""] * n
    for chunk_index, chunk in enumerate(_chunks(list(range(n)), chunk_size)):
        chunk_ids = [ids[i] for i in chunk]
        histories = load_histories(session, chunk_ids)
        enterprises = list(session.scalars(select(Enterprise).where(Enterprise.id.in_(chunk_ids))))
        kinds = org_kinds(session, enterprises)
        for i in chunk:
            history = histories[ids[i]]
            names[i] = history.name
            a = assess(history, now, metrics[i], ruleset, linked_org_kind=kinds.get(ids[i]))
            X[i], tags[i], findings[i] = vector(a.features), a.tags, a.findings
        _step(session, run, "assess", min((chunk_index + 1) * chunk_size, n), commit, progress)

    own_levels = [catalog.max_level(f.level for f in fs) for fs in findings]
    prop = contagion(graph, own_levels, ruleset.contagion, flows)
    related = related_scores(graph.n, prop, flows)[:n]
    network = fill_network(X, graph, own_levels, related)

    def describe(index: int):
        return ids[index], names[index]

    contagion_count = 0
    for i in range(n):
        found = contagion_finding(i, prop, own_levels, ruleset.contagion, ruleset.version, describe)
        if found is not None:
            findings[i].append(found)
            contagion_count += 1
    _step(session, run, "model", 0, commit, progress)
    probabilities, ml_findings = model_findings(champion, X)
    for i, found in enumerate(ml_findings):
        if found is not None:
            findings[i].append(found)

    changes = Changes()
    tags_added = tags_removed = 0
    level_moves: list[tuple[int, int, str | None, str | None]] = []
    origins = ("rule", "model", "contagion") if champion else ("rule", "contagion")
    _step(session, run, "reconcile", 0, commit, progress)
    for chunk_index, chunk in enumerate(_chunks(list(range(n)), chunk_size)):
        chunk_ids = [ids[i] for i in chunk]
        by_id = {
            e.id: e for e in session.scalars(select(Enterprise).where(Enterprise.id.in_(chunk_ids)))
        }
        books = load_books(session, chunk_ids)
        stored = existing_tags(session, chunk_ids)
        for i in chunk:
            ent = by_id[ids[i]]
            before = ent.risk_level
            changes.merge(
                reconcile(
                    session,
                    ent,
                    findings[i],
                    books[ent.id],
                    origins=origins,
                    now=now,
                    backfill=backfill,
                )
            )
            added, removed = store_tags(session, ent.id, tags[i], stored[ent.id], now)
            tags_added, tags_removed = tags_added + added, tags_removed + removed
            ent.graph_metrics = {
                **{k: round(v, 4) for k, v in metrics[i].items()},
                "related_risk": round(float(related[i]), 4),
                **{k: round(float(network[k][i]), 4) for k in NETWORK_FEATURES[1:]},
            }
            if champion:
                ent.risk_score, ent.scored_by_model_id = float(probabilities[i]), champion[0].id
            ent.scanned_at = now
            if before != ent.risk_level:
                move = catalog.level_rank(ent.risk_level) - catalog.level_rank(before)
                level_moves.append((move, ent.id, before, ent.risk_level))
        finish(session, changes, now=now, live=live, notify=not backfill)
        _step(session, run, "reconcile", min((chunk_index + 1) * chunk_size, n), commit, progress)

    elapsed = time.perf_counter() - started
    level_moves.sort(key=lambda m: (-abs(m[0]), -m[0], m[1]))
    levels_now = Counter(catalog.max_level(f.level for f in fs) or "none" for fs in findings)
    report = {
        "enterprises": n,
        "seconds": round(elapsed, 3),
        "enterprises_per_s": round(n / elapsed, 1) if elapsed > 0 else None,
        "ruleset_version": ruleset.version,
        "model_id": champion[0].id if champion else None,
        "backfill": backfill,
        "signals": {k: v for k, v in changes.as_dict().items() if k != "signal_ids"},
        "raised_by_origin": dict(Counter(s.origin for s in changes.raised)),
        "contagion_findings": contagion_count,
        "tags_added": tags_added,
        "tags_removed": tags_removed,
        "levels_now": dict(levels_now),
        "level_changes": len(level_moves),
        "largest_level_changes": [
            {"enterprise_id": eid, "from": a, "to": b} for _m, eid, a, b in level_moves[:20]
        ],
        "guarantee_circles": len(circles),
        "largest_circle": len(circles[0]) if circles else 0,
        "edges": len(graph.src),
    }
    log.info(
        "risk full scan: %s", {k: report[k] for k in ("enterprises", "seconds", "level_changes")}
    )
    return report


def _guarantees(graph):
    mask = graph.mask("guarantee")
    return graph.src[mask], graph.dst[mask]
