"""Feed loads, full scans and the model registry, as administrators and approvers see them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_role
from backend.risk.models import FeedRun, RiskModel, ScanRun


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


def list_models(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    """The registry, newest first."""
    ensure_role(actor, "approver")
    stmt = select(RiskModel)
    return paginate(session, stmt, RiskModel.id, limit=limit, cursor=cursor, descending=True)
