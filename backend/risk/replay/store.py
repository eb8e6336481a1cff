"""Keeping a backtest report (``finedge risk backtest --save``) as a ``risk_backtests`` row:
which ruleset version or model it judges, the dataset it was run on and the SHA-256 of the
deliveries' truth and of the signals file, so that a promotion can insist on the champion's
backtest on the same data."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import NotFound, ValidationFailed
from backend.risk.models import Backtest, RiskModel
from backend.risk.replay.report import summary
from backend.risk.scoring.rulefile import ruleset_versions

SUBJECT_KINDS = ("ruleset", "model")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def deliveries_digest(path: str | Path) -> str:
    """SHA-256 over every delivered file (relative path and content) of a deliveries folder;
    the folder's name when it is not here any more."""
    root = Path(path)
    if not root.is_dir():
        return root.name
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(root).as_posix()}\0{file_sha256(file)}\n".encode())
    return digest.hexdigest()


def dataset_key(meta: dict[str, Any], truth_sha256: str) -> str:
    """What makes two backtests comparable: the same deliveries (their content, see
    ``deliveries_digest``), the same period and the same truth file.  Stored as
    ``Backtest.dataset_sha256``."""
    text = "|".join(
        [
            deliveries_digest(str(meta.get("deliveries") or "")),
            str(meta.get("from")),
            str(meta.get("to")),
            truth_sha256,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def resolve_subject(session: Session, kind: str, subject: str) -> str:
    """The canonical subject: a ruleset version, or a model's id (given as id or
    name:version)."""
    if kind not in SUBJECT_KINDS:
        raise ValidationFailed(
            "subject_kind must be ruleset or model",
            details={"subject_kind": [f"one of {SUBJECT_KINDS}"]},
        )
    subject = str(subject).strip()
    if kind == "ruleset":
        if subject not in ruleset_versions():
            raise NotFound(f"no rule file with version {subject!r}", code="ruleset_not_found")
        return subject
    row = find_model(session, subject)
    if row is None:
        raise NotFound(f"no model {subject!r}", code="risk_model_not_found")
    return str(row.id)


def find_model(session: Session, spec: str) -> RiskModel | None:
    """A model by id or by ``name:version``."""
    spec = str(spec).strip()
    if spec.isdigit():
        return session.get(RiskModel, int(spec))
    name, _, version = spec.rpartition(":")
    if not name or not version.isdigit():
        return None
    return session.scalar(
        select(RiskModel).where(RiskModel.name == name, RiskModel.version == int(version))
    )


def save_backtest(
    session: Session,
    actor: Actor,
    report: dict[str, Any],
    *,
    meta: dict[str, Any],
    subject_kind: str,
    subject: str,
    signals_sha256: str,
    truth_sha256: str,
    now: datetime | None = None,
) -> Backtest:
    subject = resolve_subject(session, subject_kind, subject)
    row = Backtest(
        subject_kind=subject_kind,
        subject=subject,
        dataset=(
            f"deliveries {Path(str(meta.get('deliveries') or '')).name} "
            f"{meta.get('from')}..{meta.get('to')}; truth sha256 {truth_sha256[:12]}; "
            f"signals sha256 {signals_sha256[:12]}"
        )[:200],
        dataset_sha256=dataset_key(meta, truth_sha256),
        period_from=date.fromisoformat(meta["from"]),
        period_to=date.fromisoformat(meta["to"]),
        report={
            **report,
            "summary": summary(report),
            "signals_sha256": signals_sha256,
            "truth_sha256": truth_sha256,
        },
        created_at=now or utcnow(),
        created_by=actor.username,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "risk.backtest_saved",
        "risk_backtest",
        row.id,
        after={"subject_kind": subject_kind, "subject": subject, "dataset": row.dataset},
    )
    return row
