"""The review queue of records naming unknown enterprises, and an enterprise's aliases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_role
from backend.risk.access import visible_enterprise
from backend.risk.models import EnterpriseAlias, ResolutionItem
from backend.risk.queries.shapes import alias_dict, resolution_item_dict

ITEM_STATUSES = ("pending", "resolved", "rejected")


def list_resolution_items(
    session: Session,
    actor: Actor,
    *,
    status: str | None = "pending",
    source: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Held records, oldest first (approver, admin); ``status`` pending (default), resolved,
    rejected or all."""
    ensure_role(actor, "approver")
    stmt = select(ResolutionItem)
    if status and status != "all":
        if status not in ITEM_STATUSES:
            raise ValidationFailed(
                "unknown status",
                code="invalid_status",
                details={"status": [f"one of {', '.join(ITEM_STATUSES)}, all"]},
            )
        stmt = stmt.where(ResolutionItem.status == status)
    if source:
        stmt = stmt.where(ResolutionItem.source == source)
    page = paginate(session, stmt, ResolutionItem.id, limit=limit, cursor=cursor)
    page.items = [resolution_item_dict(i) for i in page.items]
    return page


def list_aliases(
    session: Session,
    actor: Actor,
    enterprise_id: int,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """The other spellings an enterprise is resolved by (whoever may see the enterprise)."""
    visible_enterprise(session, actor, enterprise_id)
    stmt = select(EnterpriseAlias).where(EnterpriseAlias.enterprise_id == enterprise_id)
    page = paginate(session, stmt, EnterpriseAlias.id, limit=limit, cursor=cursor)
    page.items = [alias_dict(a) for a in page.items]
    return page
