"""Face recognition's read side: a client's consent and how many encodings of their face are
stored, and the arrivals of a relationship manager's VIP clients (their sightings at a branch
door: what the ``client.arrived`` push announced, and repeated sightings within its quiet time).
Reads only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.access import ensure_role
from backend.branch.face.consent import CONSENT, CONSENT_TEXT_VERSION, consent_view
from backend.branch.models import ClientProfile, FaceSighting
from backend.platform.context import Actor
from backend.platform.pagination import paginate

__all__ = ["CONSENT_TEXT_VERSION", "consent_view", "get_consent", "list_arrivals"]

get_consent = CONSENT.get


def list_arrivals(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> dict[str, Any]:
    """Sightings of VIP clients at branch doors, newest first: an RM's own clients (their
    profile names the RM), every VIP's for an admin; any other role is refused (403). A client
    who withdraws consent takes their sightings with them (service.withdraw_consent)."""
    ensure_role(actor, "rm")
    vip = select(ClientProfile.user_id).where(ClientProfile.segment == "vip")
    if not actor.is_admin:
        vip = vip.where(ClientProfile.rm_user_id == actor.user_id)
    stmt = select(FaceSighting).where(FaceSighting.user_id.in_(vip))
    page = paginate(session, stmt, FaceSighting.id, limit=limit, cursor=cursor, descending=True)
    profiles = {
        p.user_id: p
        for p in session.scalars(
            select(ClientProfile).where(ClientProfile.user_id.in_({s.user_id for s in page.items}))
        )
    }
    return {
        "items": [
            {
                "id": s.id,
                "branch_id": s.branch_id,
                "client_id": s.user_id,
                "name": profiles[s.user_id].display_name,
                "segment": profiles[s.user_id].segment,
                "at": s.at,
                "device_id": s.device_id,
            }
            for s in page.items
        ],
        "next_cursor": page.next_cursor,
    }
