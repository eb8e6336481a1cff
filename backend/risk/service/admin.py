"""Administration of the warning system: loading a batch of feed records by hand, training
challenger models on the stored history, and promoting a challenger to champion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.context import Actor
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
    return registry.promote(session, actor, model_id)
