"""Risk early warning: the use cases behind the HTTP API and other areas (see the package
docstring in backend/risk/__init__.py for the interfaces other areas rely on).

Every function takes the session and the acting user; none commits.  Reading risk data needs
the admin, approver or rm role; an RM sees only the enterprises assigned to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.identity.models import Org, User
from backend.platform import audit
from backend.platform.clock import isoformat, utcnow
from backend.platform.context import Actor
from backend.platform.errors import NotFound, ValidationFailed
from backend.platform.live import LiveEmitter
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_role
from backend.risk import catalog, registry, workflow
from backend.risk.access import (
    ensure_reader,
    scope_enterprises,
    visible_enterprise,
    visible_signal,
)
from backend.risk.blocking import (  # noqa: F401  (re-exported: the service API)
    blocking_signals,
    ensure_no_blocking_signal,
    has_blocking_signal,
    record_internal_event,
)
from backend.risk.creditcode import normalize_name
from backend.risk.ingest import IngestReport, ingest_records
from backend.risk.models import (
    ACTIVE_STATUSES,
    SIGNAL_STATUSES,
    Enterprise,
    EnterpriseTag,
    FeedRun,
    InboxItem,
    RiskEvent,
    RiskModel,
    RiskSignal,
    ScanRun,
)
from backend.risk.views import (
    enterprise_graph,
    enterprise_summary,
    enterprise_view,
    event_dict,
    signal_detail,
    signal_dict,
)

MAX_DEPTH = 4


# --- signals -------------------------------------------------------------------------------


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
    page = paginate(session, stmt, RiskSignal.id, limit=limit, cursor=cursor, descending=True)
    names = _enterprises(session, {s.enterprise_id for s in page.items})
    page.items = [signal_dict(s, names.get(s.enterprise_id)) for s in page.items]
    return page


def _enterprises(session: Session, ids) -> dict[int, Enterprise]:
    if not ids:
        return {}
    return {
        e.id: e for e in session.scalars(select(Enterprise).where(Enterprise.id.in_(list(ids))))
    }


def get_signal(session: Session, actor: Actor, signal_id: int) -> dict[str, Any]:
    signal, enterprise = visible_signal(session, actor, signal_id)
    return signal_detail(session, signal, enterprise)


def decide_signal(
    session: Session,
    actor: Actor,
    signal_id: int,
    decision: str,
    comment: str | None,
    *,
    live: LiveEmitter | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Maker step: confirm / dismiss / lift (a proposal for hard signals)."""
    signal = workflow.decide(session, actor, signal_id, decision, comment, now=now, live=live)
    return get_signal(session, actor, signal.id)


def check_signal(
    session: Session,
    actor: Actor,
    signal_id: int,
    approve: bool,
    comment: str | None,
    *,
    live: LiveEmitter | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Checker step: approve or reject the pending decision on a hard signal."""
    signal = workflow.check(session, actor, signal_id, approve, comment, now=now, live=live)
    return get_signal(session, actor, signal.id)


# --- inbox -----------------------------------------------------------------------------------


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
    names = _enterprises(session, {s.enterprise_id for s in signals.values()})
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


def mark_read(session: Session, actor: Actor, item_id: int, *, now: datetime | None = None) -> dict:
    ensure_reader(actor)
    item = session.get(InboxItem, item_id)
    if item is None or item.user_id != actor.user_id:
        raise NotFound("inbox item not found", code="inbox_item_not_found")
    if item.read_at is None:
        item.read_at = now or utcnow()
    signal = session.get(RiskSignal, item.signal_id)
    return {
        "id": item.id,
        "reason": item.reason,
        "created_at": isoformat(item.created_at),
        "read_at": isoformat(item.read_at),
        "signal": signal_dict(signal, session.get(Enterprise, signal.enterprise_id)),
    }


def unread_count(session: Session, actor: Actor) -> int:
    ensure_reader(actor)
    return session.scalar(
        select(func.count(InboxItem.id)).where(
            InboxItem.user_id == actor.user_id, InboxItem.read_at.is_(None)
        )
    )


# --- enterprises ----------------------------------------------------------------------------


def list_enterprises(
    session: Session,
    actor: Actor,
    *,
    q: str | None = None,
    level: str | None = None,
    tag: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    stmt = scope_enterprises(actor, select(Enterprise))
    if q:
        key = normalize_name(q)
        stmt = stmt.where(
            or_(
                Enterprise.credit_code == q.strip().upper(),
                Enterprise.normalized_name.contains(key, autoescape=True),
            )
        )
    if level:
        stmt = stmt.where(Enterprise.risk_level == level)
    if tag:
        stmt = stmt.where(
            Enterprise.id.in_(select(EnterpriseTag.enterprise_id).where(EnterpriseTag.code == tag))
        )
    page = paginate(session, stmt, Enterprise.id, limit=limit, cursor=cursor)
    page.items = [enterprise_summary(e) for e in page.items]
    return page


def get_enterprise_view(session: Session, actor: Actor, enterprise_id: int) -> dict[str, Any]:
    """The unified risk view: tags, active signals, events by source, source differences,
    graph summary and model score."""
    return enterprise_view(session, visible_enterprise(session, actor, enterprise_id))


def get_enterprise_graph(
    session: Session, actor: Actor, enterprise_id: int, *, depth: int = 2
) -> dict[str, Any]:
    if not 1 <= depth <= MAX_DEPTH:
        raise ValidationFailed(
            f"depth must be between 1 and {MAX_DEPTH}", details={"depth": [f"1..{MAX_DEPTH}"]}
        )
    return enterprise_graph(session, visible_enterprise(session, actor, enterprise_id), depth)


def list_events(
    session: Session,
    actor: Actor,
    enterprise_id: int,
    *,
    source: str | None = None,
    category: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    visible_enterprise(session, actor, enterprise_id)
    stmt = select(RiskEvent).where(RiskEvent.enterprise_id == enterprise_id)
    if source:
        stmt = stmt.where(RiskEvent.source == source)
    if category:
        stmt = stmt.where(RiskEvent.category == category)
    page = paginate(session, stmt, RiskEvent.id, limit=limit, cursor=cursor, descending=True)
    page.items = [event_dict(e) for e in page.items]
    return page


def update_enterprise(
    session: Session,
    actor: Actor,
    enterprise_id: int,
    *,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Assign the relationship manager (``rm_user_id``) or link an org (``org_id``):
    admin or approver."""
    ensure_role(actor, "approver")
    ent = visible_enterprise(session, actor, enterprise_id)
    before = {"rm_user_id": ent.rm_user_id, "org_id": ent.org_id}
    if "rm_user_id" in changes:
        rm_id = changes["rm_user_id"]
        if rm_id is not None:
            user = session.get(User, rm_id)
            if user is None or user.role != "rm" or not user.active:
                raise ValidationFailed(
                    "rm_user_id must name an active relationship manager",
                    code="invalid_rm",
                    details={"rm_user_id": ["not an active user with role rm"]},
                )
        ent.rm_user_id = rm_id
    if "org_id" in changes:
        org_id = changes["org_id"]
        if org_id is not None and session.get(Org, org_id) is None:
            raise ValidationFailed(
                "org not found", code="invalid_org", details={"org_id": ["no such org"]}
            )
        if org_id is not None:
            other = session.scalar(
                select(Enterprise.id).where(Enterprise.org_id == org_id, Enterprise.id != ent.id)
            )
            if other is not None:
                raise ValidationFailed(
                    "the org is already linked to another enterprise",
                    code="org_already_linked",
                    details={"org_id": [f"linked to enterprise {other}"]},
                )
        ent.org_id = org_id
    ent.updated_at = now or utcnow()
    after = {"rm_user_id": ent.rm_user_id, "org_id": ent.org_id}
    if after != before:
        audit.record(
            session, actor, "risk.enterprise_updated", "risk_enterprise", ent.id, before, after
        )
    return enterprise_summary(ent)


# --- feeds, scans, models -----------------------------------------------------------------------


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


def list_feed_runs(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    ensure_role(actor, "admin")
    return paginate(
        session, select(FeedRun), FeedRun.id, limit=limit, cursor=cursor, descending=True
    )


def list_scans(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    ensure_role(actor, "approver")
    return paginate(
        session, select(ScanRun), ScanRun.id, limit=limit, cursor=cursor, descending=True
    )


def get_scan(session: Session, actor: Actor, scan_id: int) -> ScanRun:
    ensure_role(actor, "approver")
    run = session.get(ScanRun, scan_id)
    if run is None:
        raise NotFound("scan not found", code="risk_scan_not_found")
    return run


def list_models(session: Session, actor: Actor) -> list[RiskModel]:
    ensure_role(actor, "approver")
    return list(session.scalars(select(RiskModel).order_by(RiskModel.id.desc()).limit(50)))


def train_models(session: Session, actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    return registry.train_from_database(session, actor, now=now)


def promote_model(session: Session, actor: Actor, model_id: int) -> RiskModel:
    return registry.promote(session, actor, model_id)


def validate_filters(level: str | None, status: str | None) -> None:
    if level is not None and level not in catalog.LEVELS:
        raise ValidationFailed("unknown level", details={"level": [f"one of {catalog.LEVELS}"]})
    if status is not None and status not in (*SIGNAL_STATUSES, "active", "all"):
        raise ValidationFailed("unknown status", details={"status": ["unknown status"]})
