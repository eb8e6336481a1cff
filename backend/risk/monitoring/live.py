"""The live path: re-evaluating the enterprises an arriving event touched, in the caller's
transaction: assessment (features, tags, rules), the champion model, and reconciliation of
the findings with the stored signals.

Ingestion (``backend/risk/intake/ingest.py``) and ``record_internal_event`` call
``evaluate_enterprises`` for the enterprises they touched.  Graph measures and the
related-party risk come from the last full scan (stored on the enterprise), so that the live
path stays a few queries; contagion signals themselves are raised by the full scan
(``scan.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform.clock import utcnow
from backend.platform.live import LiveEmitter
from backend.risk.ml import registry
from backend.risk.models import Enterprise
from backend.risk.monitoring.steps import existing_tags, model_findings, org_kinds, store_tags
from backend.risk.scoring.assessment import Assessment, assess
from backend.risk.scoring.features import vector
from backend.risk.scoring.history import load_histories
from backend.risk.scoring.rulefile import ruleset_in_force
from backend.risk.scoring.ruleset import Ruleset
from backend.risk.signals.lifecycle import Changes, finish, load_books, reconcile


@dataclass
class EvaluationReport:
    enterprises: int = 0
    changes: Changes = field(default_factory=Changes)
    model_id: int | None = None

    def as_dict(self) -> dict:
        return {
            "enterprises": self.enterprises,
            "model_id": self.model_id,
            **self.changes.as_dict(),
        }


def evaluate_enterprises(
    session: Session,
    enterprise_ids: Sequence[int],
    *,
    now: datetime | None = None,
    live: LiveEmitter | None = None,
    ruleset: Ruleset | None = None,
) -> EvaluationReport:
    now = now or utcnow()
    ruleset = ruleset or ruleset_in_force(session)
    report = EvaluationReport()
    ids = list(dict.fromkeys(enterprise_ids))
    if not ids:
        return report
    session.flush()
    histories = load_histories(session, ids)
    enterprises = list(
        session.scalars(select(Enterprise).where(Enterprise.id.in_(ids)).order_by(Enterprise.id))
    )
    kinds = org_kinds(session, enterprises)
    assessments: list[Assessment] = []
    for ent in enterprises:
        metrics = ent.graph_metrics or {}
        assessments.append(
            assess(
                histories[ent.id],
                now,
                metrics,
                ruleset,
                contagion_score=float(metrics.get("related_risk", 0.0)),
                linked_org_kind=kinds.get(ent.id),
                network=metrics,  # the network columns as the last full scan left them
            )
        )
    champion = registry.champion(session)
    X = np.asarray([vector(a.features) for a in assessments], dtype=float)
    probabilities, ml_findings = model_findings(champion, X)
    report.model_id = champion[0].id if champion else None
    books = load_books(session, [e.id for e in enterprises])
    tags = existing_tags(session, [e.id for e in enterprises])
    origins = ("rule", "model") if champion else ("rule",)
    for i, (ent, assessment) in enumerate(zip(enterprises, assessments, strict=True)):
        findings = list(assessment.findings)
        if ml_findings[i] is not None:
            findings.append(ml_findings[i])
        report.changes.merge(
            reconcile(session, ent, findings, books[ent.id], origins=origins, now=now)
        )
        store_tags(session, ent.id, assessment.tags, tags[ent.id], now)
        if champion:
            ent.risk_score, ent.scored_by_model_id = float(probabilities[i]), champion[0].id
        ent.updated_at = now
    finish(session, report.changes, now=now, live=live)
    report.enterprises = len(enterprises)
    session.flush()
    return report
