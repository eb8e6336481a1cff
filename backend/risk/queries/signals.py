"""Signals and the inbox as the caller may see them: listings (newest first, active ones
unless asked otherwise), one signal with its evidence and workflow history, and the caller's
inbox items with their signals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.pagination import Page, paginate
from backend.risk import catalog
from backend.risk.access import ensure_reader, scope_enterprises, visible_signal
from backend.risk.models import ACTIVE_STATUSES, SIGNAL_STATUSES, Enterprise, InboxItem, RiskSignal
from backend.risk.queries.shapes import signal_detail, signal_dict


def list_signals(
    session: Session,
    actor: Actor,
    *,
    level: str | None = None,
    status: str | None = None,
    origin: str | None = None,
    enterprise_id: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Signals the caller may see, newest first; active ones unless ``status`` says otherwise
    (``status=all`` for every status)."""
    stmt = scope_enterprises(
        actor, select(RiskSignal).join(Enterprise, Enterprise.id == RiskSignal.enterprise_id)
    )
    stmt = _filtered(stmt, level, status, origin, enterprise_id)
    page = paginate(session, stmt, RiskSignal.id, limit=limit, cursor=cursor, descending=True)
    names = enterprises_by_id(session, {s.enterprise_id for s in page.items})
    page.items = [signal_dict(s, names.get(s.enterprise_id)) for s in page.items]
    return page


def _filtered(stmt, level, status, origin, enterprise_id):
    if level:
        stmt = stmt.where(RiskSignal.level == level)
    if status in (None, "active"):
        stmt = stmt.where(RiskSignal.status.in_(ACTIVE_STATUSES))
    elif status != "all":
        stmt = stmt.where(RiskSignal.status == status)
    if origin:
        stmt = stmt.where(RiskSignal.origin == origin)
    if enterprise_id is not None:
        stmt = stmt.where(RiskSignal.enterprise_id == enterprise_id)
    return stmt


def enterprises_by_id(session: Session, ids) -> dict[int, Enterprise]:
    if not ids:
        return {}
    return {
        e.id: e for e in session.scalars(select(Enterprise).where(Enterprise.id.in_(list(ids))))
    }


def get_signal(session: Session, actor: Actor, signal_id: int) -> dict[str, Any]:
    signal, enterprise = visible_signal(session, actor, signal_id)
    return signal_detail(session, signal, enterprise)


def list_inbox(
    session: Session,
    actor: Actor,
    *,
    unread: bool = False,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    ensure_reader(actor)
    stmt = scope_enterprises(
        actor,
        select(InboxItem)
        .join(RiskSignal, RiskSignal.id == InboxItem.signal_id)
        .join(Enterprise, Enterprise.id == RiskSignal.enterprise_id)
        .where(InboxItem.user_id == actor.user_id),
    )
    if unread:
        stmt = stmt.where(InboxItem.read_at.is_(None))
    page = paginate(session, stmt, InboxItem.id, limit=limit, cursor=cursor, descending=True)
    signals = {
        s.id: s
        for s in session.scalars(
            select(RiskSignal).where(RiskSignal.id.in_([i.signal_id for i in page.items]))
        )
    }
    names = enterprises_by_id(session, {s.enterprise_id for s in signals.values()})
    page.items = [
        {
            "id": item.id,
            "reason": item.reason,
            "created_at": item.created_at,
            "read_at": item.read_at,
            "signal": signal_dict(
                signals[item.signal_id], names.get(signals[item.signal_id].enterprise_id)
            ),
        }
        for item in page.items
    ]
    return page


def unread_count(session: Session, actor: Actor) -> int:
    ensure_reader(actor)
    return session.scalar(
        select(func.count(InboxItem.id)).where(
            InboxItem.user_id == actor.user_id, InboxItem.read_at.is_(None)
        )
    )


def validate_filters(level: str | None, status: str | None) -> None:
    if level is not None and level not in catalog.LEVELS:
        raise ValidationFailed("unknown level", details={"level": [f"one of {catalog.LEVELS}"]})
    if status is not None and status not in (*SIGNAL_STATUSES, "active", "all"):
        raise ValidationFailed("unknown status", details={"status": ["unknown status"]})


def signal_listing(
    session: Session,
    *,
    level: str | None = None,
    status: str | None = None,
    origin: str | None = None,
    enterprise_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Signals for an operator (``finedge risk signals``), newest first: every enterprise;
    active ones unless ``status`` says otherwise (``all`` for every status); ``since``: raised
    at or after it."""
    stmt = _filtered(select(RiskSignal), level, status, origin, enterprise_id)
    if since is not None:
        stmt = stmt.where(RiskSignal.raised_at >= since)
    signals = list(session.scalars(stmt.order_by(RiskSignal.id.desc()).limit(limit)))
    names = enterprises_by_id(session, {s.enterprise_id for s in signals})
    return [signal_dict(s, names.get(s.enterprise_id)) for s in signals]
