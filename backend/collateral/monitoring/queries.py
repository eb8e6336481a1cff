"""The read side of monitoring: credits' LTV (only those the caller may see), the LTV
distribution, revaluation runs, ratio studies and market sales. Reads only."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collateral import access
from backend.collateral.models import AvmModel, CreditLink, Property, RatioStudy, RevaluationRun
from backend.collateral.monitoring.ltv import visible_link
from backend.collateral.monitoring.policy import LEVELS, POLICY
from backend.identity.models import User
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_role

OVER = ("warn", "alarm", "block")
BUCKET_BP = 1000  # the distribution's bucket width: 10 points of LTV


@dataclass
class CreditLtv:
    """A credit link with its property and its RM, as the LTV screens show it."""

    id: int
    property_id: int
    property_code: str
    credit_kind: str
    credit_ref: str
    borrower_org_id: int
    outstanding: Decimal
    outstanding_at: datetime | None
    property_value: Decimal | None
    ltv_bp: int | None
    ltv_level: str | None
    ltv_at: datetime | None
    rm_user_id: int | None
    rm_username: str | None
    warn_bp: int
    alarm_bp: int
    block_bp: int


def _view(link: CreditLink, prop: Property, rm: str | None) -> CreditLtv:
    product = POLICY.of(link.credit_kind) if link.credit_kind in POLICY.products else None
    return CreditLtv(
        id=link.id,
        property_id=prop.id,
        property_code=prop.code,
        credit_kind=link.credit_kind,
        credit_ref=link.credit_ref,
        borrower_org_id=link.borrower_org_id,
        outstanding=link.outstanding,
        outstanding_at=link.outstanding_at,
        property_value=prop.latest_value,
        ltv_bp=link.ltv_bp,
        ltv_level=link.ltv_level,
        ltv_at=link.ltv_at,
        rm_user_id=prop.rm_user_id,
        rm_username=rm,
        warn_bp=product.warn_bp if product else 0,
        alarm_bp=product.alarm_bp if product else 0,
        block_bp=product.block_bp if product else 0,
    )


def _scoped_links(actor: Actor):
    stmt = (
        select(CreditLink)
        .join(Property, Property.id == CreditLink.property_id)
        .where(CreditLink.status == "active")
    )
    return access.scope(stmt, actor)


def _views(session: Session, links: list[CreditLink]) -> list[CreditLtv]:
    props = {
        p.id: p
        for p in session.scalars(
            select(Property).where(Property.id.in_({x.property_id for x in links}))
        )
    }
    rm_ids = {p.rm_user_id for p in props.values() if p.rm_user_id is not None}
    names = dict(session.execute(select(User.id, User.username).where(User.id.in_(rm_ids))).all())
    return [
        _view(x, props[x.property_id], names.get(props[x.property_id].rm_user_id)) for x in links
    ]


def list_credit_ltv(
    session: Session,
    actor: Actor,
    *,
    level: str | None = None,
    over: bool = False,
    credit_kind: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Credit links with their LTV, newest id first: ``over`` those at warn or above (the
    alert list; an RM's own clients' only)."""
    ensure_role(actor, *access.STAFF)
    stmt = _scoped_links(actor)
    if level:
        stmt = stmt.where(CreditLink.ltv_level == level)
    elif over:
        stmt = stmt.where(CreditLink.ltv_level.in_(OVER))
    if credit_kind:
        stmt = stmt.where(CreditLink.credit_kind == credit_kind)
    page = paginate(session, stmt, CreditLink.id, limit=limit, cursor=cursor, descending=True)
    page.items = _views(session, page.items)
    return page


def get_credit_ltv(session: Session, actor: Actor, link_id: int) -> CreditLtv:
    link = visible_link(session, actor, link_id)
    if not actor.is_bank_staff:
        raise NotFound("credit not found", code="credit_not_found")
    return _views(session, [link])[0]


def ltv_distribution(session: Session, actor: Actor) -> dict:
    """Credits the caller may see by LTV bucket (10 points wide) and by level; one count per
    credit (not per link)."""
    ensure_role(actor, *access.STAFF)
    seen: dict[tuple[str, str], tuple[int | None, str | None]] = {}
    for link in session.scalars(_scoped_links(actor)):
        seen[(link.credit_kind, link.credit_ref)] = (link.ltv_bp, link.ltv_level)
    buckets: Counter[int] = Counter()
    levels: Counter[str] = Counter()
    for bp, level in seen.values():
        levels[level or "none"] += 1
        if bp is not None:
            buckets[min(bp // BUCKET_BP, 12)] += 1
    return {
        "credits": len(seen),
        "levels": {name: levels.get(name, 0) for name in (*LEVELS, "none")},
        "buckets": [
            {
                "from_bp": b * BUCKET_BP,
                "to_bp": None if b == 12 else (b + 1) * BUCKET_BP,
                "credits": buckets.get(b, 0),
            }
            for b in range(13)
        ],
        "policy": {
            kind: {
                "warn_bp": p.warn_bp,
                "alarm_bp": p.alarm_bp,
                "block_bp": p.block_bp,
                "blocks": p.blocks,
            }
            for kind, p in POLICY.products.items()
        },
        "policy_version": POLICY.version,
    }


def list_runs(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    ensure_role(actor, *access.STAFF)
    return paginate(
        session,
        select(RevaluationRun),
        RevaluationRun.id,
        limit=limit,
        cursor=cursor,
        descending=True,
    )


def get_run(session: Session, actor: Actor, run_id: int) -> RevaluationRun:
    ensure_role(actor, *access.STAFF)
    run = session.get(RevaluationRun, run_id)
    if run is None:
        raise NotFound("revaluation run not found", code="revaluation_run_not_found")
    return run


def list_ratio_studies(
    session: Session,
    actor: Actor,
    *,
    quarter: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    ensure_role(actor, *access.STAFF)
    stmt = select(RatioStudy)
    if quarter:
        stmt = stmt.where(RatioStudy.quarter == quarter)
    page = paginate(session, stmt, RatioStudy.id, limit=limit, cursor=cursor, descending=True)
    versions = dict(
        session.execute(
            select(AvmModel.id, AvmModel.version).where(
                AvmModel.id.in_({r.model_id for r in page.items})
            )
        ).all()
    )
    for row in page.items:
        row.model_version = versions.get(row.model_id)
    return page


def get_ratio_study(session: Session, actor: Actor, study_id: int) -> RatioStudy:
    ensure_role(actor, *access.STAFF)
    row = session.get(RatioStudy, study_id)
    if row is None:
        raise NotFound("ratio study not found", code="ratio_study_not_found")
    model = session.get(AvmModel, row.model_id)
    row.model_version = model.version if model else None
    return row
