"""The model registry, in the database (``risk_models``): every trained model with its
artifact (checksummed), feature list, thresholds, training description and metrics on the
held-out data; one champion per model name (used for live scoring), challengers beside it.

``train_from_database`` builds point-in-time snapshots from the stored histories (events as
known at each snapshot, the view live scoring has), trains every algorithm on the earlier
snapshots and validates it on the later ones (out of time), next to the baseline "highest
rule level" and the current champion on the same rows; tunes each model's level thresholds to
the ruleset's targets on those rows; reports the train/live skew; and registers the new models
as challengers (the first model ever becomes champion only when it beats the baseline out of
time).  ``promote`` makes a challenger the champion (admin; audited; refused for a model that
did not beat the baseline out of time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound
from backend.platform.permissions import ensure_role
from backend.risk.graph.store import load_graph
from backend.risk.ml import classifier, levels
from backend.risk.ml.dataset import (
    build_dataset,
    skew_report,
    snapshot_dates,
    split_out_of_time,
)
from backend.risk.models import RiskEvent, RiskModel
from backend.risk.scoring.features import FEATURE_NAMES
from backend.risk.scoring.history import load_histories
from backend.risk.scoring.rulefile import load_ruleset

MODEL_NAME = "default-warning"
HORIZON_DAYS = 180
_cache: dict[tuple[int, str], classifier.TrainedModel] = {}


def load(row: RiskModel) -> classifier.TrainedModel:
    key = (row.id, row.artifact_sha256)
    model = _cache.get(key)
    if model is None:
        model = classifier.loads(row.artifact, row.artifact_sha256)
        if len(_cache) > 8:
            _cache.clear()
        _cache[key] = model
    return model


def champion(
    session: Session, name: str = MODEL_NAME
) -> tuple[RiskModel, classifier.TrainedModel] | None:
    row = session.scalar(
        select(RiskModel).where(RiskModel.name == name, RiskModel.status == "champion")
    )
    if row is None or list(row.feature_names) != list(FEATURE_NAMES):
        return None  # a model trained on another feature set cannot score today's features
    return row, load(row)


def register(
    session: Session,
    actor: Actor,
    model: classifier.TrainedModel,
    *,
    status: str,
    metrics: dict[str, Any],
    training: dict[str, Any],
    name: str = MODEL_NAME,
    now: datetime | None = None,
) -> RiskModel:
    now = now or utcnow()
    version = (
        session.scalar(select(func.max(RiskModel.version)).where(RiskModel.name == name)) or 0
    ) + 1
    blob, sha = classifier.dumps(model)
    row = RiskModel(
        name=name,
        version=version,
        algorithm=model.algorithm,
        status=status,
        feature_names=list(model.feature_names),
        thresholds=dict(model.thresholds),
        metrics=metrics,
        params=dict(model.params),
        training=training,
        artifact=blob,
        artifact_sha256=sha,
        trained_at=now,
        trained_by=actor.username,
        promoted_at=now if status == "champion" else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "risk.model_registered",
        "risk_model",
        row.id,
        after={
            "name": name,
            "version": version,
            "algorithm": model.algorithm,
            "status": status,
            "auc": metrics.get("test", {}).get("auc"),
        },
    )
    return row


def promote(
    session: Session, actor: Actor, model_id: int, *, now: datetime | None = None
) -> RiskModel:
    """The single-step promotion (admin), kept for the CLI and tests that set a champion
    directly; the HTTP API promotes through a maker-checker promotion with backtests
    (backend/risk/service/promotions.py), which calls ``make_champion``."""
    ensure_role(actor, "admin")
    return make_champion(session, actor, model_id, now=now)


def make_champion(
    session: Session, actor: Actor, model_id: int, *, now: datetime | None = None
) -> RiskModel:
    """Make the model its name's champion and retire the previous one (audited); the caller
    checked who may."""
    row = session.get(RiskModel, model_id)
    if row is None:
        raise NotFound("model not found", code="risk_model_not_found")
    if row.status == "champion":
        raise Conflict("the model is already the champion", code="already_champion")
    if list(row.feature_names) != list(FEATURE_NAMES):
        raise BusinessRuleViolation(
            "the model was trained on another feature set", code="model_features_outdated"
        )
    metrics = row.metrics or {}
    if "beats_baseline" in metrics and not metrics["beats_baseline"]:
        raise BusinessRuleViolation(
            f"the model's out-of-time AUC {metrics.get('oot_auc')} does not beat the rule-level "
            f"baseline's {metrics.get('baseline_oot_auc')}",
            code="model_below_baseline",
        )
    now = now or utcnow()
    for current in session.scalars(
        select(RiskModel).where(RiskModel.name == row.name, RiskModel.status == "champion")
    ):
        current.status = "retired"
        audit.record(
            session,
            actor,
            "risk.model_retired",
            "risk_model",
            current.id,
            {"status": "champion"},
            {"status": "retired"},
        )
    before = {"status": row.status}
    row.status, row.promoted_at = "champion", now
    audit.record(
        session, actor, "risk.model_promoted", "risk_model", row.id, before, {"status": "champion"}
    )
    return row


def compare(
    champion_model: classifier.TrainedModel,
    challenger: classifier.TrainedModel,
    X: np.ndarray,
    y: np.ndarray,
) -> dict[str, Any]:
    """Both models on the same held-out rows."""
    a = classifier.metrics(y, champion_model.predict(X))
    b = classifier.metrics(y, challenger.predict(X))
    better = (b["auc"] or 0) > (a["auc"] or 0)
    return {
        "rows": len(y),
        "champion": a,
        "challenger": b,
        "auc_delta": round((b["auc"] or 0) - (a["auc"] or 0), 4),
        "winner": "challenger" if better else "champion",
    }


MIN_TRAIN_POSITIVES = 5
MIN_TEST_POSITIVES = 2
MIN_SNAPSHOTS = 4  # at least two before the cut and two after it
FEATURE_HISTORY_DAYS = 180  # the first snapshot comes this long after the first event


def _months(days: float) -> float:
    return round(days / 30.44, 1)


def training_data(session: Session, *, now: datetime, horizon_days: int, step_days: int):
    """Point-in-time snapshots of every enterprise in the database (the same view as live
    scoring: events as they were known at each snapshot)."""
    graph = load_graph(session)
    ids = [int(i) for i in graph.node_ids["enterprise"]]
    histories_by_id = load_histories(session, ids)
    histories = [histories_by_id[i] for i in ids]
    first = session.scalar(select(func.min(RiskEvent.source_time)))
    if first is None:
        raise BusinessRuleViolation(
            "no events to learn from: training needs at least "
            f"{_months(FEATURE_HISTORY_DAYS + horizon_days + MIN_SNAPSHOTS * step_days):.0f} "
            "months of event history with defaults",
            code="not_enough_history",
        )
    if first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    start = first + timedelta(days=FEATURE_HISTORY_DAYS)
    end = now - timedelta(days=horizon_days)
    dates = snapshot_dates(start, end, step_days) if end >= start else []
    if len(dates) < MIN_SNAPSHOTS:
        have = (now - first).days
        need = FEATURE_HISTORY_DAYS + horizon_days + (MIN_SNAPSHOTS - 1) * step_days
        raise BusinessRuleViolation(
            f"not enough history: {_months(have)} months of events "
            f"(from {first.date().isoformat()}) give {len(dates)} snapshot(s); out-of-time "
            f"validation needs {MIN_SNAPSHOTS} snapshots {step_days} days apart, i.e. "
            f"{_months(need)} months ({FEATURE_HISTORY_DAYS} days of features before the first "
            f"snapshot and {horizon_days} days of outcome after the last)",
            code="not_enough_history",
        )
    ruleset = load_ruleset()
    data = build_dataset(histories, graph, ruleset, dates=dates, horizon_days=horizon_days)
    return ids, histories, graph, ruleset, data


def oot_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=int)
    if not 0 < y.sum() < len(y):
        return None
    return round(float(roc_auc_score(y, score)), 4)


def per_period(data, rows: np.ndarray, p: np.ndarray, *, period_days: int = 91) -> list[dict]:
    """Model and baseline AUC per test period (quarters of snapshot dates)."""
    out: list[dict] = []
    if not len(rows):
        return out
    dates = data.dates
    first = dates[int(data.as_of[rows].min())]
    period = np.array([(dates[int(d)] - first).days // period_days for d in data.as_of[rows]])
    for k in sorted(set(period.tolist())):
        mask = period == k
        r = rows[mask]
        snaps = sorted({int(d) for d in data.as_of[r]})
        out.append(
            {
                "from": dates[snaps[0]].date().isoformat(),
                "to": dates[snaps[-1]].date().isoformat(),
                "rows": int(mask.sum()),
                "positives": int(data.y[r].sum()),
                "auc": oot_auc(data.y[r], p[mask]),
                "baseline_auc": oot_auc(data.y[r], data.rule_rank[r]),
            }
        )
    return out


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 5) -> list[dict]:
    """Mean predicted probability against the observed rate, by quantile of the prediction,
    on out-of-time rows (honest calibration: these rows were not seen in training)."""
    if not len(y):
        return []
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    return [
        {
            "rows": int((which == b).sum()),
            "mean_p": round(float(p[which == b].mean()), 4),
            "observed": round(float(y[which == b].mean()), 4),
        }
        for b in sorted(set(which.tolist()))
    ]


def validate_out_of_time(
    data,
    algorithms: tuple[str, ...],
    *,
    targets: dict[str, dict[str, float]] | None = None,
    current: classifier.TrainedModel | None = None,
    test_share: float = 0.4,
) -> dict[str, Any]:
    """Train each algorithm on the earlier snapshots, score the later ones: model AUC, Brier
    score, calibration and per-period AUC next to the rule-level baseline on the same rows
    (and the current champion's), thresholds tuned to ``targets`` on the out-of-time rows.
    Refuses (``BusinessRuleViolation``) with what is missing when the data cannot support it."""
    split = split_out_of_time(data, test_share=test_share)
    y_test = data.y[split.test]
    have_train, have_test = int(split.y_train.sum()), int(y_test.sum())
    if (
        have_train < MIN_TRAIN_POSITIVES
        or have_test < MIN_TEST_POSITIVES
        or have_test == len(y_test)
    ):
        raise BusinessRuleViolation(
            f"too few defaults to learn from: {have_train} positive snapshot(s) before the cut "
            f"{split.cut.date().isoformat()} (needed {MIN_TRAIN_POSITIVES}) and {have_test} "
            f"after it (needed {MIN_TEST_POSITIVES}); {len(data.dates)} snapshots in all, "
            f"{int(data.y.sum())} positive",
            code="not_enough_history",
        )
    baseline = oot_auc(y_test, data.rule_rank[split.test])
    test = split.test
    results = []
    for algorithm in algorithms:
        model = classifier.train(data.X[split.train], split.y_train, algorithm)
        p = model.predict(data.X[test])
        m = classifier.metrics(y_test, p)
        metrics: dict[str, Any] = {
            "test": m,
            "oot_auc": m["auc"],
            "baseline_oot_auc": baseline,
            "beats_baseline": m["auc"] is not None and (baseline is None or m["auc"] > baseline),
            "brier": m["brier"],
            "calibration_oot": calibration_table(y_test, p),
            "per_period": per_period(data, test, p),
            "split": {
                "kind": "out of time: by snapshot date",
                "cut": split.cut.date().isoformat(),
                "train": [d.date().isoformat() for d in split.train_dates or ()],
                "test": [d.date().isoformat() for d in split.test_dates or ()],
                "train_rows": len(split.train),
                "train_positives": have_train,
                "test_rows": len(test),
                "test_positives": have_test,
            },
        }
        if targets:
            thresholds, achieved = levels.tune_thresholds(
                p,
                data.groups[test],
                data.as_of[test],
                data.days_to_default[test],
                data.dates,
                targets,
                base_ranks=data.rule_rank[test],
            )
            model.thresholds = thresholds
            metrics["levels"] = achieved
            metrics["baseline_levels"] = levels.level_figures(
                data.rule_rank[test],
                data.groups[test],
                data.as_of[test],
                data.days_to_default[test],
                data.dates,
            )
        if current is not None:
            metrics["vs_champion"] = compare(current, model, data.X[test], y_test)
        results.append((model, metrics))
    return {"results": results, "split": split, "baseline_oot_auc": baseline}


def train_from_database(
    session: Session,
    actor: Actor,
    *,
    now: datetime | None = None,
    algorithms: tuple[str, ...] = classifier.ALGORITHMS,
    horizon_days: int = HORIZON_DAYS,
    step_days: int = 30,
    name: str = MODEL_NAME,
) -> dict[str, Any]:
    """Train on the earlier snapshots, validate on the later ones (out of time), register
    every model as a challenger with its metrics.  The first model ever becomes champion only
    when its out-of-time AUC beats the rule-level baseline's on the same rows."""
    ensure_role(actor, "admin")
    now = now or utcnow()
    _ids, histories, graph, ruleset, data = training_data(
        session, now=now, horizon_days=horizon_days, step_days=step_days
    )
    current = champion(session, name)
    validated = validate_out_of_time(
        data,
        algorithms,
        targets=ruleset.targets,
        current=current[1] if current else None,
    )
    trained = validated["results"]
    skew = skew_report(histories, graph, ruleset, data.dates, horizon_days=horizon_days)
    for _model, metrics in trained:
        if current is not None:
            metrics["vs_champion"]["champion_id"] = current[0].id
    best = max(range(len(trained)), key=lambda i: trained[i][1]["oot_auc"] or 0)
    split = validated["split"]
    training = {
        "snapshots": len(data.dates),
        "from": data.dates[0].isoformat(),
        "to": data.dates[-1].isoformat(),
        "horizon_days": horizon_days,
        "rows": len(data.y),
        "train_rows": len(split.train),
        "test_rows": len(split.test),
        "positives": int(data.y.sum()),
        "split": f"out of time: trained on snapshots before {split.cut.date().isoformat()}, "
        "tested on those from it on (training labels censored at the cut)",
        "ruleset_version": ruleset.version,
        "point_in_time": "events as known at each snapshot (EventView.known_at)",
        "skew": skew,
    }
    rows, why = [], None
    for i, (model, metrics) in enumerate(trained):
        status = "challenger"
        if current is None and i == best:
            if metrics["beats_baseline"]:
                status = "champion"
            else:
                why = (
                    f"not champion: out-of-time AUC {metrics['oot_auc']} does not beat the "
                    f"rule-level baseline's {metrics['baseline_oot_auc']} on the same rows"
                )
                metrics["not_champion_because"] = why
        rows.append(
            register(
                session,
                actor,
                model,
                status=status,
                metrics=metrics,
                training=training,
                name=name,
                now=now,
            )
        )
    return {
        "models": [
            {
                "id": r.id,
                "version": r.version,
                "algorithm": r.algorithm,
                "status": r.status,
                "test": r.metrics["test"],
                "oot_auc": r.metrics["oot_auc"],
                "baseline_oot_auc": r.metrics["baseline_oot_auc"],
                "brier": r.metrics["brier"],
                "thresholds": dict(r.thresholds),
                "levels": r.metrics.get("levels"),
                "vs_champion": r.metrics.get("vs_champion"),
            }
            for r in rows
        ],
        "training": training,
        "baseline_oot_auc": validated["baseline_oot_auc"],
        "skew": skew,
        **({"not_champion_because": why} if why else {}),
    }
