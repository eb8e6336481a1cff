"""One enterprise at one moment, assessed: features, tags, rule findings (pure), and the
contagion step that needs everybody's assessment at once.

The same functions serve the live path (an event arrives), the full scan, model training
(point-in-time snapshots) and the backtest, so that what the model learned from is exactly
what it is later shown."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from backend.risk import catalog
from backend.risk.graph.algorithms import GraphData, Propagation, propagate
from backend.risk.scoring.conditions import RuleContext
from backend.risk.scoring.features import FEATURE_NAMES, NETWORK_FEATURES, compute_features
from backend.risk.scoring.history import EnterpriseHistory
from backend.risk.scoring.ruleset import ContagionSpec, Finding, Ruleset
from backend.risk.scoring.tags import Tag, derive_tags


@dataclass
class Assessment:
    features: dict[str, float]
    tags: list[Tag]
    findings: list[Finding]

    @property
    def own_level(self) -> str | None:
        return catalog.max_level(f.level for f in self.findings)


def assess(
    history: EnterpriseHistory,
    as_of: datetime,
    graph: Mapping[str, float],
    ruleset: Ruleset,
    *,
    contagion_score: float = 0.0,
    linked_org_kind: str | None = None,
    network: Mapping[str, float] | None = None,
) -> Assessment:
    features = compute_features(history, as_of, graph, contagion_score, network)
    status = (
        "liquidation"
        if features["status_bad"] and history.status not in catalog.BAD_STATUSES
        else None
    )
    tags = derive_tags(
        history, features, graph, as_of, status=status, linked_org_kind=linked_org_kind
    )
    ctx = RuleContext(history, as_of, features, {t.code for t in tags})
    return Assessment(features, tags, ruleset.evaluate(ctx))


def flow_edges(graph: GraphData, spec: ContagionSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed edges along which risk flows, with weight = flow weight x decay (x share)."""
    srcs, dsts, weights = [], [], []
    for kind, flow in spec.flows.items():
        mask = graph.mask(kind)
        if not mask.any():
            continue
        share = graph.share[mask]
        scale = np.where(np.isnan(share), 1.0, share) if flow.get("by_share") else 1.0
        for direction, (a, b) in (
            ("forward", (graph.src[mask], graph.dst[mask])),
            ("backward", (graph.dst[mask], graph.src[mask])),
        ):
            w = float(flow.get(direction, 0.0))
            if w <= 0:
                continue
            srcs.append(a)
            dsts.append(b)
            weights.append(np.broadcast_to(w * spec.decay * scale, a.shape).astype(float))
    if not srcs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(srcs), np.concatenate(dsts), np.concatenate(weights)


def contagion(
    graph: GraphData,
    own_levels: Sequence[str | None],
    spec: ContagionSpec,
    flows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Propagation:
    """Contagion scores for every node, seeded by the enterprises' own levels."""
    seeds = np.zeros(graph.n)
    for i, level in enumerate(own_levels):
        if level:
            seeds[i] = spec.seed_weights.get(level, 0.0)
    src, dst, weight = flows if flows is not None else flow_edges(graph, spec)
    return propagate(graph.n, src, dst, weight, seeds, max_hops=spec.max_hops)


def level_keys(prefix: str, level: str) -> frozenset[str]:
    """Evidence keys of a graded finding: one per level up to its own, so that a dismissal at
    a level also covers the levels below it, and only a higher level is new evidence."""
    return frozenset(f"{prefix}:{lvl}" for lvl in catalog.LEVELS[: catalog.level_rank(level)])


def related_scores(
    n: int, prop: Propagation, flows: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Per node, the strongest risk reaching it from related parties: the best incoming
    edge's (score of its source x weight), ignoring risk that started at the node itself.
    A feature of the model, independent of the node's own signals."""
    src, dst, weight = flows
    out = np.zeros(n)
    if len(src):
        candidate = prop.score[src] * weight
        keep = (prop.origin[src] != dst) & (candidate > 0)
        np.maximum.at(out, dst[keep], candidate[keep])
    return out


def network_features(
    graph: GraphData,
    own_levels: Sequence[str | None],
    related: np.ndarray,
    guarantee_exposure: np.ndarray,
) -> dict[str, np.ndarray]:
    """The network columns of the model for every enterprise node, once everybody's own level
    is known: the related-party risk (``related_scores``), the highest own level among its
    guarantee partners (both directions: borrowers it guarantees, guarantors of its loans; 0-4),
    how many of them have a medium or higher signal, and the guarantee exposure (amount given
    / capital, ``guarantee_exposure``) that goes to borrowers with such a signal."""
    n = len(own_levels)
    rank = np.zeros(graph.n)
    rank[:n] = [catalog.level_rank(level) for level in own_levels]
    out = {name: np.zeros(n) for name in NETWORK_FEATURES}
    out["contagion_score"] = np.asarray(related[:n], dtype=float)
    mask = graph.mask("guarantee")
    if not mask.any():
        return out
    s, d, amount = graph.src[mask], graph.dst[mask], graph.amount[mask]
    distress = np.zeros(graph.n)
    np.maximum.at(distress, s, rank[d])
    np.maximum.at(distress, d, rank[s])
    count = np.zeros(graph.n)
    np.add.at(count, s, (rank[d] >= 2).astype(float))
    np.add.at(count, d, (rank[s] >= 2).astype(float))
    given = np.zeros(graph.n)
    signalled = np.zeros(graph.n)
    np.add.at(given, s, amount)
    np.add.at(signalled, s, amount * (rank[d] >= 2))
    share = np.divide(signalled, given, out=np.zeros(graph.n), where=given > 0)
    out["partner_distress"] = distress[:n]
    out["distressed_partners"] = count[:n]
    out["signalled_exposure"] = share[:n] * np.asarray(guarantee_exposure[:n], dtype=float)
    return out


NETWORK_COLUMNS = [FEATURE_NAMES.index(name) for name in NETWORK_FEATURES]
EXPOSURE_COLUMN = FEATURE_NAMES.index("guarantee_exposure")


def fill_network(
    X: np.ndarray,
    graph: GraphData,
    own_levels: Sequence[str | None],
    related: np.ndarray,
    rows: Sequence[int] | None = None,
) -> dict[str, np.ndarray]:
    """Write the network columns into feature rows ``X`` (row ``k`` is enterprise node
    ``rows[k]``, or node ``k`` when ``rows`` is None); returns the columns for every node."""
    index = np.arange(len(own_levels)) if rows is None else np.asarray(rows, dtype=np.int64)
    exposure = np.zeros(len(own_levels))
    exposure[index] = X[:, EXPOSURE_COLUMN]
    columns = network_features(graph, own_levels, related, exposure)
    for name, col in zip(NETWORK_FEATURES, NETWORK_COLUMNS, strict=True):
        X[:, col] = columns[name][index]
    return columns


def contagion_finding(
    index: int,
    prop: Propagation,
    own_levels: Sequence[str | None],
    spec: ContagionSpec,
    version: str,
    describe: Callable[[int], tuple[object, str]],
) -> Finding | None:
    """A contagion signal for enterprise ``index`` when related risk exceeds its own level."""
    origin = int(prop.origin[index])
    if origin < 0 or origin == index:
        return None
    score = float(prop.score[index])
    level = spec.level_for(score)
    if level is None:
        return None
    if catalog.level_rank(level) > catalog.level_rank(spec.max_level):
        level = spec.max_level
    if catalog.level_rank(level) <= catalog.level_rank(own_levels[index]):
        return None
    origin_key, origin_name = describe(origin)
    hops = int(prop.hops[index])
    return Finding(
        rule_id="CONTAGION",
        origin="contagion",
        level=level,
        title="Risk contagion from a related party",
        reason=(
            f"related party {origin_name} has a {own_levels[origin]} signal, {hops} hop(s) away "
            f"along guarantee/equity/group links (contagion score {score:.2f})"
        )[:500],
        evidence={
            "origin": origin_key,
            "origin_name": origin_name,
            "hops": hops,
            "score": round(score, 4),
        },
        keys=level_keys(f"contagion:{origin_key}", level),
        rule_version=version,
        score=score,
    )


def model_finding(
    probability: float,
    level: str | None,
    contributions: list,
    *,
    model_id: object,
    model_name: str,
    horizon_days: int,
) -> Finding | None:
    if level is None:
        return None
    top = ", ".join(c.feature for c in contributions[:3] if c.effect > 0) or "overall profile"
    return Finding(
        rule_id="MODEL",
        origin="model",
        level=level,
        title="Warning model",
        reason=(
            f"model {model_name} gives {probability:.1%} probability of default within "
            f"{horizon_days} days; main drivers: {top}"
        )[:500],
        evidence={
            "model_id": model_id,
            "probability": round(probability, 4),
            "contributions": [c.as_dict() for c in contributions],
        },
        keys=level_keys("model", level),
        rule_version=str(model_id),
        score=probability,
    )
