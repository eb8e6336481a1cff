"""The review queue of unknown enterprises, and corrections of entity resolution (approver,
admin; every step audited).

- ``resolve_item``: attach a held record to an existing enterprise (``enterprise_id``) or
  create the enterprise it names (``create``), then load it.  Every other pending item naming
  the same reference (the same credit code; or, without a code, the same normalised name) is
  resolved with it.  An unknown code resolved to an enterprise without a code becomes that
  enterprise's code; resolved to an enterprise with another code, later records with the
  unknown code resolve to it too (the resolved item is remembered).  A name resolved to an
  enterprise becomes its alias (unless it is another enterprise's own name).
- ``reject_item``: keep the record out, with a comment; the same record sent again unchanged
  stays out (``resolution_rejected``), with other content it is held again.
- ``delete_alias``: remove a wrong alias (e.g. a real firm's name a phantom enterprise took),
  so that the name resolves to the right enterprise again."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import Conflict, NotFound, ValidationFailed
from backend.platform.live import LiveEmitter
from backend.platform.permissions import ensure_role
from backend.risk.access import visible_enterprise
from backend.risk.creditcode import normalize_name
from backend.risk.intake.ingest import ingest_records
from backend.risk.intake.resolution import pin_key
from backend.risk.models import Enterprise, EnterpriseAlias, ResolutionItem
from backend.risk.queries.shapes import alias_dict, resolution_item_dict


def _pending_item(session: Session, actor: Actor, item_id: int) -> ResolutionItem:
    ensure_role(actor, "approver")
    item = session.get(ResolutionItem, item_id)
    if item is None:
        raise NotFound("review item not found", code="risk_resolution_item_not_found")
    if item.status != "pending":
        raise Conflict(
            f"the review item is already {item.status}",
            code="resolution_item_closed",
            details={"status": item.status},
        )
    return item


def _siblings(session: Session, item: ResolutionItem) -> list[ResolutionItem]:
    """The pending items naming the same reference as ``item`` (itself first)."""
    stmt = select(ResolutionItem).where(
        ResolutionItem.status == "pending", ResolutionItem.id != item.id
    )
    if item.credit_code:
        stmt = stmt.where(ResolutionItem.credit_code == item.credit_code)
    else:
        stmt = stmt.where(ResolutionItem.credit_code.is_(None))
    key = pin_key(item.credit_code, item.name)
    others = [
        other
        for other in session.scalars(stmt.order_by(ResolutionItem.id))
        if pin_key(other.credit_code, other.name) == key
    ]
    return [item, *others]


def _create_enterprise(session: Session, item: ResolutionItem, now: datetime) -> Enterprise:
    if item.credit_code:
        existing = session.scalar(
            select(Enterprise).where(Enterprise.credit_code == item.credit_code)
        )
        if existing is not None:
            return existing
    name = (item.name or item.credit_code or item.record_id).strip()[:200]
    ent = Enterprise(
        credit_code=item.credit_code,
        name=name,
        normalized_name=normalize_name(name)[:200],
        status="in_business",
        attributes={},
        created_at=now,
        updated_at=now,
    )
    session.add(ent)
    session.flush()
    return ent


def _remember_name(session: Session, ent: Enterprise, name: str | None, now: datetime) -> None:
    """A resolved name becomes the enterprise's alias (never another enterprise's name)."""
    key = normalize_name(name or "")[:200]
    if not key or key == ent.normalized_name:
        return
    taken = session.scalar(
        select(Enterprise.id).where(Enterprise.normalized_name == key, Enterprise.id != ent.id)
    )
    if taken is not None:
        return
    if session.scalar(select(EnterpriseAlias.id).where(EnterpriseAlias.normalized_name == key)):
        return
    try:
        with session.begin_nested():
            session.add(
                EnterpriseAlias(
                    enterprise_id=ent.id,
                    normalized_name=key,
                    name=name.strip()[:200],
                    source="review",
                    created_at=now,
                )
            )
            session.flush()
    except IntegrityError:
        return


def resolve_item(
    session: Session,
    actor: Actor,
    item_id: int,
    *,
    enterprise_id: int | None = None,
    create: bool = False,
    comment: str | None = None,
    now: datetime | None = None,
    live: LiveEmitter | None = None,
) -> dict[str, Any]:
    """Resolve a held record (and its siblings) to an enterprise and load them."""
    item = _pending_item(session, actor, item_id)
    if (enterprise_id is None) == (not create):
        raise ValidationFailed(
            "give either enterprise_id or create: true",
            code="invalid_resolution",
            details={"enterprise_id": ["an enterprise id, or create: true instead"]},
        )
    now = now or utcnow()
    created = False
    if create:
        before = (
            session.scalar(select(Enterprise.id).where(Enterprise.credit_code == item.credit_code))
            if item.credit_code
            else None
        )
        ent = _create_enterprise(session, item, now)
        created = before is None
    else:
        ent = session.get(Enterprise, enterprise_id)
        if ent is None:
            raise ValidationFailed(
                "no such enterprise",
                code="invalid_enterprise",
                details={"enterprise_id": ["no enterprise with this id"]},
            )
    if item.credit_code and ent.credit_code is None:
        clash = session.scalar(
            select(Enterprise.id).where(Enterprise.credit_code == item.credit_code)
        )
        if clash is None:
            ent.credit_code, ent.updated_at = item.credit_code, now
    _remember_name(session, ent, item.name, now)
    items = _siblings(session, item)
    by_source: dict[str, list[ResolutionItem]] = defaultdict(list)
    for it in items:
        it.status, it.enterprise_id = "resolved", ent.id
        it.decided_at, it.decided_by, it.comment = now, actor.username, comment
        by_source[it.source].append(it)
    session.flush()
    pins = {pin_key(item.credit_code, item.name): ent}
    loaded = {"accepted": 0, "updated": 0, "duplicates": 0, "rejected": 0, "queued": 0}
    for source, group in by_source.items():
        report = ingest_records(
            session,
            actor,
            source,
            [it.record for it in group],
            adapter="review",
            location=f"review item {item.id}",
            now=now,
            live=live,
            pins=pins,
        )
        loaded["accepted"] += report.accepted
        loaded["updated"] += report.updated
        loaded["duplicates"] += report.duplicates
        loaded["rejected"] += len(report.rejected)
        loaded["queued"] += len(report.queued)  # e.g. the other end of an edge is unknown too
    session.flush()
    audit.record(
        session,
        actor,
        "risk.resolution_resolved",
        "risk_resolution_item",
        item.id,
        before={"status": "pending"},
        after={
            "enterprise_id": ent.id,
            "created": created,
            "items": [it.id for it in items],
            "loaded": loaded,
        },
    )
    return {
        "item": resolution_item_dict(item),
        "enterprise_id": ent.id,
        "created": created,
        "resolved_items": len(items),
        "loaded": loaded,
    }


def reject_item(
    session: Session, actor: Actor, item_id: int, comment: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """Keep a held record out, with a comment."""
    item = _pending_item(session, actor, item_id)
    item.status, item.decided_at = "rejected", now or utcnow()
    item.decided_by, item.comment = actor.username, comment
    session.flush()
    audit.record(
        session,
        actor,
        "risk.resolution_rejected",
        "risk_resolution_item",
        item.id,
        before={"status": "pending"},
        after={"status": "rejected", "comment": comment},
    )
    return resolution_item_dict(item)


def delete_alias(session: Session, actor: Actor, enterprise_id: int, alias_id: int) -> dict:
    """Remove a wrong alias of an enterprise (approver, admin); audited."""
    ensure_role(actor, "approver")
    ent = visible_enterprise(session, actor, enterprise_id)
    alias = session.get(EnterpriseAlias, alias_id)
    if alias is None or alias.enterprise_id != ent.id:
        raise NotFound("alias not found", code="risk_alias_not_found")
    before = alias_dict(alias)
    session.delete(alias)
    session.flush()
    audit.record(
        session, actor, "risk.alias_deleted", "risk_enterprise", ent.id, before=before, after=None
    )
    return before
