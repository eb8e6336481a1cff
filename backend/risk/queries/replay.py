"""Rulesets, backtests and promotions as the console and the API show them (approver, admin):
each ruleset version with its state and rule count, its latest backtest and the champion's
backtest on the same dataset beside it; backtests with the report's headline figures;
promotions with both backtests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.errors import NotFound, ValidationFailed
from backend.platform.pagination import (
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    paginate,
)
from backend.platform.permissions import ensure_role
from backend.risk.access import CHECKERS
from backend.risk.ml import registry
from backend.risk.models import Backtest, Promotion, RiskModel, RulesetState
from backend.risk.scoring.rulefile import load_ruleset, ruleset_in_force, ruleset_versions

PROMOTION_STATUSES = ("pending", "approved", "rejected")


def backtest_dict(row: Backtest | None, *, full: bool = False) -> dict[str, Any] | None:
    if row is None:
        return None
    out = {
        "id": row.id,
        "subject_kind": row.subject_kind,
        "subject": row.subject,
        "dataset": row.dataset,
        "dataset_sha256": row.dataset_sha256,
        "period_from": row.period_from.isoformat(),
        "period_to": row.period_to.isoformat(),
        "created_at": row.created_at,
        "created_by": row.created_by,
        "summary": _summary(row.report),
    }
    if full:
        out["report"] = row.report
    return out


def _summary(report: dict) -> dict[str, Any]:
    """The headline figures, worked out when the backtest was saved (replay/report.py's
    ``summary``; the read side does not import the replay package, which sits above it)."""
    found = (report or {}).get("summary")
    return found if isinstance(found, dict) else {}


def current_champion(session: Session, subject_kind: str) -> tuple[str, str]:
    """(kind, subject) of what a challenger of ``subject_kind`` is compared with: the ruleset
    in force; for models the champion model, or while there is none the ruleset in force
    (rules and contagion alone)."""
    if subject_kind == "ruleset":
        return "ruleset", ruleset_in_force(session).version
    champion = registry.champion(session)
    if champion is None:
        return "ruleset", ruleset_in_force(session).version
    return "model", str(champion[0].id)


def promotion_dict(session: Session, row: Promotion) -> dict[str, Any]:
    challenger = session.get(Backtest, row.challenger_backtest_id)
    champion = session.get(Backtest, row.champion_backtest_id) if row.champion_backtest_id else None
    return {
        "id": row.id,
        "subject_kind": row.subject_kind,
        "subject": row.subject,
        "status": row.status,
        "proposed_by": row.proposed_by,
        "proposed_comment": row.proposed_comment,
        "proposed_at": row.proposed_at,
        "decided_by": row.decided_by,
        "decision_comment": row.decision_comment,
        "decided_at": row.decided_at,
        "challenger_backtest": backtest_dict(challenger),
        "champion_backtest": backtest_dict(champion),
    }


def latest_backtest(session: Session, kind: str, subject: str) -> Backtest | None:
    return session.scalar(
        select(Backtest)
        .where(Backtest.subject_kind == kind, Backtest.subject == subject)
        .order_by(Backtest.id.desc())
        .limit(1)
    )


def champion_backtest_on(session: Session, backtest: Backtest | None, kind: str) -> Backtest | None:
    """The champion's latest backtest on the dataset of ``backtest`` (for side by side)."""
    if backtest is None:
        return None
    champion_kind, champion_subject = current_champion(session, kind)
    return session.scalar(
        select(Backtest)
        .where(
            Backtest.subject_kind == champion_kind,
            Backtest.subject == champion_subject,
            Backtest.dataset_sha256 == backtest.dataset_sha256,
        )
        .order_by(Backtest.id.desc())
        .limit(1)
    )


def list_rulesets(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    """Rule file versions, newest first (a page, as every list; the cursor is the last
    version shown)."""
    ensure_role(actor, *CHECKERS)
    limit = check_limit(limit)
    versions = list(reversed(ruleset_versions()))
    if cursor:
        last = decode_cursor(cursor)
        if last not in versions:
            raise ValidationFailed("unknown cursor", code="invalid_cursor")
        versions = versions[versions.index(last) + 1 :]
    shown, rest = versions[:limit], versions[limit:]
    items = _rulesets(session, shown)
    return Page(items, encode_cursor(shown[-1]) if rest and shown else None)


def _rulesets(session: Session, versions: list[str]) -> list[dict[str, Any]]:
    in_force = ruleset_in_force(session).version
    states = {r.version: r for r in session.scalars(select(RulesetState))}
    out = []
    for version in versions:
        ruleset = load_ruleset(version)
        state = states.get(version)
        status = (
            "champion"
            if version == in_force
            else (state.status if state and state.status != "champion" else "challenger")
        )
        latest = latest_backtest(session, "ruleset", version)
        champion = champion_backtest_on(session, latest, "ruleset")
        out.append(
            {
                "version": version,
                "status": status,
                "in_force": version == in_force,
                "rules": len(ruleset.rules),
                "promoted_at": state.promoted_at if state else None,
                "promoted_by": state.promoted_by if state else None,
                "latest_backtest": backtest_dict(latest),
                "champion_backtest": backtest_dict(champion),
            }
        )
    return out


def list_backtests(
    session: Session,
    actor: Actor,
    *,
    subject_kind: str | None = None,
    subject: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    ensure_role(actor, *CHECKERS)
    stmt = select(Backtest)
    if subject and subject_kind == "model" and not subject.isdigit():
        name, _, version = subject.rpartition(":")  # name:version -> the model's id
        found = (
            session.scalar(
                select(RiskModel.id).where(
                    RiskModel.name == name, RiskModel.version == int(version)
                )
            )
            if name and version.isdigit()
            else None
        )
        subject = str(found) if found is not None else subject
    if subject_kind:
        stmt = stmt.where(Backtest.subject_kind == subject_kind)
    if subject:
        stmt = stmt.where(Backtest.subject == subject)
    page = paginate(session, stmt, Backtest.id, limit=limit, cursor=cursor, descending=True)
    return Page([backtest_dict(r) for r in page.items], page.next_cursor)


def get_backtest(session: Session, actor: Actor, backtest_id: int) -> dict[str, Any]:
    ensure_role(actor, *CHECKERS)
    row = session.get(Backtest, backtest_id)
    if row is None:
        raise NotFound("backtest not found", code="risk_backtest_not_found")
    return backtest_dict(row, full=True)


def list_promotions(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    ensure_role(actor, *CHECKERS)
    if status is not None and status not in PROMOTION_STATUSES:
        raise ValidationFailed("unknown status", details={"status": list(PROMOTION_STATUSES)})
    stmt = select(Promotion)
    if status:
        stmt = stmt.where(Promotion.status == status)
    page = paginate(session, stmt, Promotion.id, limit=limit, cursor=cursor, descending=True)
    return Page([promotion_dict(session, r) for r in page.items], page.next_cursor)
