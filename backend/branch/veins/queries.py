"""Vein enrolment's read side: a loader's consent, the enrolments on a lock (its branch's staff
see all, a loader only their own), and which of a task's loaders are not enrolled on a lock
with consent (the cash flow arms a lock only for two enrolled loaders). Reads only.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.models import VeinConsent, VeinEnrolment
from backend.branch.veins.records import (
    CONSENT,
    CONSENT_TEXT_VERSION,
    STATUSES,
    enrolment_view,
    visible_lock,
)
from backend.platform.context import Actor
from backend.platform.pagination import Page, paginate

__all__ = [
    "CONSENT_TEXT_VERSION",
    "STATUSES",
    "consent_view",
    "enrolment_view",
    "get_consent",
    "list_enrolments",
    "missing_enrolments",
]

consent_view = CONSENT.view


get_consent = CONSENT.get


def list_enrolments(
    session: Session,
    actor: Actor,
    lock_id: str,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """The lock's enrolments for its branch's staff; a loader sees only their own."""
    lock = visible_lock(session, actor, lock_id)
    stmt = select(VeinEnrolment).where(VeinEnrolment.lock_id == lock.device_id)
    if actor.role == "loader":
        stmt = stmt.where(VeinEnrolment.user_id == actor.user_id)
    return paginate(session, stmt, VeinEnrolment.id, limit=limit, cursor=cursor)


def missing_enrolments(session: Session, lock_id: str, usernames: list[str]) -> list[str]:
    """Of these loaders (lock ids: usernames), those the centre has not seen enrolled on the
    lock with consent still granted."""
    enrolled = set(
        session.scalars(
            select(VeinEnrolment.username)
            .join(VeinConsent, VeinConsent.user_id == VeinEnrolment.user_id)
            .where(
                VeinEnrolment.lock_id == lock_id,
                VeinEnrolment.username.in_(usernames),
                VeinEnrolment.status == "enrolled",
                VeinConsent.status == "granted",
            )
        )
    )
    return [name for name in usernames if name not in enrolled]
