"""Champion and challenger, with maker-checker: a ruleset version or a model becomes the one in
force only through a promotion that shows its backtest beside the current champion's on the
same dataset (the same deliveries, period and truth: ``Backtest.dataset_sha256``).

    propose (approver or admin, with a comment and the challenger's backtest)
        -> pending -> approve (another approver or admin: four eyes) -> the subject is champion
                   -> reject  (another approver or admin)             -> nothing changes

The champion of rulesets is the ``risk_rulesets`` row with status champion (else the highest
rule file version, ``ruleset_in_force``); of models, the registry's champion.  While no model
is champion, a model's promotion is judged against the backtest of the ruleset in force (rules
and contagion alone).  Every step is an audit record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from backend.platform.permissions import ensure_role
from backend.risk.access import CHECKERS
from backend.risk.ml import registry
from backend.risk.models import Backtest, Promotion, RiskModel, RulesetState
from backend.risk.queries.replay import current_champion, promotion_dict
from backend.risk.replay.store import resolve_subject
from backend.risk.scoring.rulefile import ruleset_in_force

MAX_COMMENT = 2000


def _comment(comment: str | None) -> str:
    text = (comment or "").strip()
    if not text:
        raise ValidationFailed(
            "a comment is required", code="comment_required", details={"comment": ["required"]}
        )
    if len(text) > MAX_COMMENT:
        raise ValidationFailed(
            f"comment is longer than {MAX_COMMENT} characters",
            details={"comment": [f"at most {MAX_COMMENT} characters"]},
        )
    return text


def propose(
    session: Session,
    actor: Actor,
    *,
    subject_kind: str,
    subject: str,
    challenger_backtest_id: int,
    comment: str | None,
    now: datetime | None = None,
) -> Promotion:
    ensure_role(actor, *CHECKERS)
    text = _comment(comment)
    subject = resolve_subject(session, subject_kind, subject)
    challenger = session.get(Backtest, challenger_backtest_id)
    if challenger is None:
        raise NotFound("backtest not found", code="risk_backtest_not_found")
    if (challenger.subject_kind, challenger.subject) != (subject_kind, subject):
        raise BusinessRuleViolation(
            f"backtest {challenger.id} judges {challenger.subject_kind} {challenger.subject}, "
            f"not {subject_kind} {subject}",
            code="backtest_subject_mismatch",
            details={"challenger_backtest_id": [f"a backtest of {subject_kind} {subject}"]},
        )
    champion_kind, champion_subject = current_champion(session, subject_kind)
    if (champion_kind, champion_subject) == (subject_kind, subject):
        raise Conflict(f"{subject_kind} {subject} is already in force", code="already_champion")
    if session.scalar(
        select(Promotion.id).where(
            Promotion.subject_kind == subject_kind,
            Promotion.subject == subject,
            Promotion.status == "pending",
        )
    ):
        raise Conflict(
            f"a promotion of {subject_kind} {subject} is already waiting for a checker",
            code="promotion_pending",
        )
    champion = session.scalar(
        select(Backtest)
        .where(
            Backtest.subject_kind == champion_kind,
            Backtest.subject == champion_subject,
            Backtest.dataset_sha256 == challenger.dataset_sha256,
        )
        .order_by(Backtest.id.desc())
        .limit(1)
    )
    if champion is None:
        raise BusinessRuleViolation(
            f"no backtest of the champion ({champion_kind} {champion_subject}) on the same "
            f"dataset as backtest {challenger.id} ({challenger.dataset}): replay the same "
            "deliveries with the champion and save its backtest first",
            code="champion_backtest_missing",
            details={
                "champion": {"subject_kind": champion_kind, "subject": champion_subject},
                "dataset_sha256": challenger.dataset_sha256,
            },
        )
    row = Promotion(
        subject_kind=subject_kind,
        subject=subject,
        challenger_backtest_id=challenger.id,
        champion_backtest_id=champion.id,
        status="pending",
        proposed_by=actor.username,
        proposed_comment=text,
        proposed_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "risk.promotion_proposed",
        "risk_promotion",
        row.id,
        after={
            "subject_kind": subject_kind,
            "subject": subject,
            "challenger_backtest_id": challenger.id,
            "champion_backtest_id": champion.id,
            "champion": f"{champion_kind} {champion_subject}",
            "comment": text,
        },
    )
    return row


def _make_ruleset_champion(session: Session, actor: Actor, version: str, now: datetime) -> None:
    previous = ruleset_in_force(session).version
    rows = {r.version: r for r in session.scalars(select(RulesetState))}
    if previous not in rows:
        rows[previous] = RulesetState(version=previous, status="champion")
        session.add(rows[previous])
    for row in rows.values():
        if row.status == "champion" and row.version != version:
            row.status = "retired"
    target = rows.get(version)
    if target is None:
        target = RulesetState(version=version, status="champion")
        session.add(target)
    target.status, target.promoted_at, target.promoted_by = "champion", now, actor.username
    audit.record(
        session,
        actor,
        "risk.ruleset_promoted",
        "risk_ruleset",
        version,
        {"in_force": previous},
        {"in_force": version},
    )


def decide(
    session: Session,
    actor: Actor,
    promotion_id: int,
    approve: bool,
    comment: str | None,
    *,
    now: datetime | None = None,
) -> Promotion:
    """The checker's step: approve (the subject becomes champion) or reject."""
    ensure_role(actor, *CHECKERS)
    text = _comment(comment)
    row = session.get(Promotion, promotion_id)
    if row is None:
        raise NotFound("promotion not found", code="risk_promotion_not_found")
    if row.status != "pending":
        raise Conflict(f"the promotion is already {row.status}", code="promotion_decided")
    if row.proposed_by == actor.username:
        raise PermissionDenied(
            "the maker of a promotion cannot also check it", code="four_eyes_required"
        )
    now = now or utcnow()
    before = {"status": row.status}
    if approve:
        if row.subject_kind == "ruleset":
            _make_ruleset_champion(session, actor, row.subject, now)
        else:
            model = session.get(RiskModel, int(row.subject))
            if model is None:
                raise NotFound("model not found", code="risk_model_not_found")
            if model.status != "champion":
                registry.make_champion(session, actor, model.id, now=now)
    row.status = "approved" if approve else "rejected"
    row.decided_by, row.decision_comment, row.decided_at = actor.username, text, now
    session.flush()
    audit.record(
        session,
        actor,
        f"risk.promotion_{row.status}",
        "risk_promotion",
        row.id,
        before,
        {"status": row.status, "comment": text},
    )
    return row


def propose_promotion(session: Session, actor: Actor, **kwargs: Any) -> dict[str, Any]:
    return promotion_dict(session, propose(session, actor, **kwargs))


def decide_promotion(
    session: Session, actor: Actor, promotion_id: int, approve: bool, comment: str | None
) -> dict[str, Any]:
    return promotion_dict(session, decide(session, actor, promotion_id, approve, comment))
