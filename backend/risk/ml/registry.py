"""The model registry, in the database (``risk_models``): every trained model with its
artifact (checksummed), feature list, thresholds, training description and metrics on the
held-out data; one champion per model name (used for live scoring), challengers beside it.

``train_from_database`` builds point-in-time snapshots from the stored histories, trains every
algorithm on the same enterprises, scores all of them - and the current champion - on the
same held-out enterprises, and registers the new models as challengers with the comparison
(the first model ever trained becomes champion).  ``promote`` makes a challenger the
champion (admin; audited)."""

from __future__ import annotations

from datetime import datetime, timedelta
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
from backend.risk.ml import classifier
from backend.risk.ml.dataset import build_dataset, snapshot_dates, split_by_enterprise
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


def training_data(session: Session, *, now: datetime, horizon_days: int, step_days: int):
    graph = load_graph(session)
    ids = [int(i) for i in graph.node_ids["enterprise"]]
    histories_by_id = load_histories(session, ids)
    histories = [histories_by_id[i] for i in ids]
    first = session.scalar(select(func.min(RiskEvent.source_time)))
    if first is None:
        raise BusinessRuleViolation("no events to learn from", code="not_enough_history")
    start = first + timedelta(days=180)
    end = now - timedelta(days=horizon_days)
    dates = snapshot_dates(start, end, step_days)
    if len(dates) < 2:
        raise BusinessRuleViolation(
            "less than a year of history: nothing to learn from yet", code="not_enough_history"
        )
    ruleset = load_ruleset()
    return ids, build_dataset(histories, graph, ruleset, dates=dates, horizon_days=horizon_days)


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
    ensure_role(actor, "admin")
    now = now or utcnow()
    ids, data = training_data(session, now=now, horizon_days=horizon_days, step_days=step_days)
    train_rows, test_rows = split_by_enterprise(ids, data.groups)
    y_train, y_test = data.y[train_rows], data.y[test_rows]
    if y_train.sum() < 5 or y_test.sum() < 2:
        raise BusinessRuleViolation(
            f"too few defaults to learn from ({int(data.y.sum())} positive snapshots)",
            code="not_enough_history",
        )
    current = champion(session, name)
    trained = []
    for algorithm in algorithms:
        model = classifier.train(data.X[train_rows], y_train, algorithm)
        metrics = {"test": classifier.metrics(y_test, model.predict(data.X[test_rows]))}
        if current is not None:
            metrics["vs_champion"] = compare(current[1], model, data.X[test_rows], y_test)
            metrics["vs_champion"]["champion_id"] = current[0].id
        trained.append((model, metrics))
    best = max(range(len(trained)), key=lambda i: trained[i][1]["test"]["auc"] or 0)
    training = {
        "snapshots": len(data.dates),
        "from": data.dates[0].isoformat(),
        "to": data.dates[-1].isoformat(),
        "horizon_days": horizon_days,
        "rows": len(data.y),
        "train_rows": len(train_rows),
        "test_rows": len(test_rows),
        "positives": int(data.y.sum()),
        "split": "by enterprise (hash of id), 30% held out",
    }
    rows = []
    for i, (model, metrics) in enumerate(trained):
        status = "champion" if current is None and i == best else "challenger"
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
                "vs_champion": r.metrics.get("vs_champion"),
            }
            for r in rows
        ],
        "training": training,
    }
