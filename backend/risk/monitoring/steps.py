"""The steps the live path (``live.py``) and the full scan (``scan.py``) share once the
enterprises are assessed: which kind of org each enterprise is linked to (a dealer gets the
``floorplan_dealer`` tag), the champion model's findings for a batch of feature rows, and
making the stored tags (``risk_tags``) match the derived ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import Org
from backend.risk.ml import registry
from backend.risk.models import Enterprise, EnterpriseTag
from backend.risk.scoring.assessment import model_finding
from backend.risk.scoring.ruleset import Finding
from backend.risk.scoring.tags import Tag


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
