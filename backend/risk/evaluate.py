"""Re-evaluating enterprises in the database: assessment (features, tags, rules), the
champion model, and reconciliation of the findings with the stored signals.

``evaluate_enterprises`` is the live path: ingestion and ``record_internal_event`` call it for
the enterprises they touched.  Graph measures and the related-party risk come from the last
full scan (stored on the enterprise), so that the live path stays a few queries; contagion
signals themselves are raised by the full scan (backend/risk/scan.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import Org
from backend.platform.clock import utcnow
from backend.platform.live import LiveEmitter
from backend.risk import registry
from backend.risk.assessment import Assessment, assess, model_finding
from backend.risk.features import FEATURE_NAMES, vector
from backend.risk.history import load_histories
from backend.risk.models import Enterprise, EnterpriseTag
from backend.risk.ruleset import Finding, Ruleset, load_ruleset
from backend.risk.signals import Changes, finish, load_books, reconcile
from backend.risk.tags import Tag

CONTAGION_INDEX = FEATURE_NAMES.index("contagion_score")


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


def org_kinds(session: Session, enterprises: Sequence[Enterprise]) -> dict[int, str]:
    org_ids = [e.org_id for e in enterprises if e.org_id is not None]
    if not org_ids:
        return {}
    kinds = dict(session.execute(select(Org.id, Org.kind).where(Org.id.in_(org_ids))).all())
    return {e.id: kinds.get(e.org_id) for e in enterprises if e.org_id is not None}


def store_tags(
    session: Session,
    enterprise_id: int,
    tags: list[Tag],
    existing: dict[str, EnterpriseTag],
    now: datetime,
) -> tuple[int, int]:
    """Make the stored tags match ``tags``; returns (added, removed)."""
    added = removed = 0
    wanted = {t.code: t for t in tags}
    for code, row in existing.items():
        if code not in wanted:
            session.delete(row)
            removed += 1
    for code, tag in wanted.items():
        row = existing.get(code)
        if row is None:
            session.add(
                EnterpriseTag(
                    enterprise_id=enterprise_id,
                    code=code,
                    label=tag.label,
                    reason=tag.reason[:300],
                    evidence=tag.evidence,
                    since=now,
                )
            )
            added += 1
        elif (row.label, row.reason, row.evidence) != (tag.label, tag.reason[:300], tag.evidence):
            row.label, row.reason, row.evidence = tag.label, tag.reason[:300], tag.evidence
    return added, removed


def existing_tags(
    session: Session, enterprise_ids: Sequence[int]
) -> dict[int, dict[str, EnterpriseTag]]:
    out: dict[int, dict[str, EnterpriseTag]] = {i: {} for i in enterprise_ids}
    for row in session.scalars(
        select(EnterpriseTag).where(EnterpriseTag.enterprise_id.in_(list(enterprise_ids)))
    ):
        out[row.enterprise_id][row.code] = row
    return out


def model_findings(
    champion, features_rows: np.ndarray, *, horizon_days: int = registry.HORIZON_DAYS
) -> tuple[np.ndarray, list[Finding | None]]:
    """Probabilities and model findings (with explanations) for a batch of feature rows."""
    if champion is None or len(features_rows) == 0:
        return np.zeros(len(features_rows)), [None] * len(features_rows)
    row, model = champion
    probabilities = model.predict(features_rows)
    levels = [model.level(float(p)) for p in probabilities]
    flagged = [i for i, level in enumerate(levels) if level]
    explanations = (
        dict(zip(flagged, model.explain(features_rows[flagged]), strict=True)) if flagged else {}
    )
    findings = [
        model_finding(
            float(probabilities[i]),
            levels[i],
            explanations.get(i, []),
            model_id=row.id,
            model_name=f"{row.name} v{row.version} ({row.algorithm})",
            horizon_days=horizon_days,
        )
        if levels[i]
        else None
        for i in range(len(levels))
    ]
    return probabilities, findings


def evaluate_enterprises(
    session: Session,
    enterprise_ids: Sequence[int],
    *,
    now: datetime | None = None,
    live: LiveEmitter | None = None,
    ruleset: Ruleset | None = None,
) -> EvaluationReport:
    now = now or utcnow()
    ruleset = ruleset or load_ruleset()
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
