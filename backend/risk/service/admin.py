"""Administration of the warning system: loading a batch of feed records by hand, training
challenger models on the stored history, and promoting a challenger to champion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound
from backend.platform.live import LiveEmitter
from backend.platform.permissions import ensure_role
from backend.risk.intake.ingest import IngestReport, ingest_records
from backend.risk.ml import registry
from backend.risk.models import RiskModel


def ingest_feed(
    session: Session,
    actor: Actor,
    source: str,
    records: list[Any],
    *,
    live: LiveEmitter | None = None,
    now: datetime | None = None,
) -> IngestReport:
    ensure_role(actor, "admin")
    return ingest_records(session, actor, source, records, adapter="api", now=now, live=live)


def train_models(session: Session, actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    return registry.train_from_database(session, actor, now=now)


def promote_model(session: Session, actor: Actor, model_id: int) -> RiskModel:
    """The old single-step promotion of the HTTP API: a model now becomes champion only through
    a maker-checker promotion with its backtest beside the champion's (``promotions.py``)."""
    ensure_role(actor, "admin")
    row = session.get(RiskModel, model_id)
    if row is None:
        raise NotFound("model not found", code="risk_model_not_found")
    if row.status == "champion":
        raise Conflict("the model is already the champion", code="already_champion")
    raise BusinessRuleViolation(
        "a model is promoted through POST /api/v1/risk/promotions (maker-checker, with its "
        "backtest beside the champion's on the same dataset)",
        code="promotion_required",
        details={
            "use": "POST /api/v1/risk/promotions",
            "subject_kind": "model",
            "subject": str(model_id),
        },
    )
