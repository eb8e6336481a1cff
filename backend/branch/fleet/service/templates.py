"""Parameter templates per device model: versioned, never edited (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.branch.access import ensure_role
from backend.branch.fleet.state import template_view
from backend.branch.models import FleetTemplate
from backend.platform import audit
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed


def create_template(
    session: Session,
    actor: Actor,
    *,
    model: str,
    name: str,
    params: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """A new version of the (model, name) template (admin). Templates are never edited."""
    ensure_role(actor, "admin")
    if not isinstance(params, dict) or not params or any(v is None for v in params.values()):
        raise ValidationFailed(
            "params is a non-empty object without nulls", details={"params": ["an object"]}
        )
    if not model.strip() or not name.strip():
        raise ValidationFailed("model and name are required", details={"model": ["required"]})
    last = session.scalar(
        select(func.max(FleetTemplate.version)).where(
            FleetTemplate.model == model, FleetTemplate.name == name
        )
    )
    template = FleetTemplate(
        model=model,
        name=name,
        version=(last or 0) + 1,
        params=params,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(template)
    session.flush()
    audit.record(
        session,
        actor,
        "fleet.template",
        "fleet_template",
        template.id,
        after=template_view(template),
    )
    return template_view(template)
