"""Who looks after an enterprise: assigning its relationship manager and linking it to an
org of the bank (a floor-plan dealer, a client), by an approver or admin; audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import Org, User
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.permissions import ensure_role
from backend.risk.access import visible_enterprise
from backend.risk.models import Enterprise
from backend.risk.queries.shapes import enterprise_summary


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
