"""The centre's record of finger-vein consent and enrolments, as both sides use it: the consent
kind (``CONSENT``, one implementation with the face's: ../consent.py), the enrolment's view
(lock, loader, status, capture count: never anything of the vein), the lock looked up for a
caller (its branch's staff and loaders; anyone else 404), an enrolment row, its audit record and
its live push ``vein_enrolment.update`` (to the lock's branch and to the loader).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.access import can_see_branch
from backend.branch.consent import BiometricConsent
from backend.branch.models import VeinConsent, VeinEnrolment
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.clock import isoformat
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.live import rooms_for

CONSENT_TEXT_VERSION = "vein-v1"
CAPTURES = 3  # finger presentations the lock takes for one template
CAPTURE_VALID_S = 120  # the lock's capture session
CAPTURE_GIVE_UP_S = CAPTURE_VALID_S + 300  # the centre stops waiting for a silent lock
RESEND_REVOKE_S = 60
STATUSES = ("capturing", "enrolled", "revoking", "failed")
ENROLLER_ROLES = ("teller",)  # and admins
ALARM_RULE = "vein_enrolment_unrequested"
LIVE_EVENT = "vein_enrolment.update"


def _enrolment_count(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(VeinEnrolment.id)).where(
                VeinEnrolment.user_id == user_id,
                VeinEnrolment.status.in_(("capturing", "enrolled")),
            )
        )
        or 0
    )


CONSENT = BiometricConsent(
    VeinConsent,
    role="loader",
    text_version=CONSENT_TEXT_VERSION,
    granted_action="branch.vein_consent_granted",
    withdrawn_action="branch.vein_consent_withdrawn",
    object_type="vein_consent",
    view_extras=lambda session, user_id: {"enrolments": _enrolment_count(session, user_id)},
)


active_consent = CONSENT.active


def enrolment_view(row: VeinEnrolment) -> dict[str, Any]:
    return {
        "lock_id": row.lock_id,
        "branch_id": row.branch_id,
        "loader_id": row.user_id,
        "username": row.username,
        "status": row.status,
        "captures": row.captures,
        "captures_needed": CAPTURES,
        "requested_at": isoformat(row.requested_at),
        "enrolled_at": isoformat(row.enrolled_at),
        "failure_reason": row.failure_reason,
        "revoke_requested_at": isoformat(row.revoke_requested_at),
    }


def visible_lock(session: Session, actor: Actor, lock_id: str) -> devices_port.DeviceInfo:
    lock = devices_port.find_device(session, lock_id)
    if lock is None or lock.device_type != "lock" or not can_see_branch(actor, lock.branch_id):
        raise NotFound("lock not found", code="lock_not_found")
    return lock


def enrolment_row(
    session: Session, lock_id: str, username: str, *, lock: bool = True
) -> VeinEnrolment | None:
    stmt = select(VeinEnrolment).where(
        VeinEnrolment.lock_id == lock_id, VeinEnrolment.username == username
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def audit_enrolment(
    session: Session,
    actor: Actor,
    action: str,
    row: VeinEnrolment,
    before: dict[str, Any] | None = None,
    **after: Any,
) -> None:
    audit.record(
        session,
        actor,
        f"branch.{action}",
        "vein_enrolment",
        f"{row.lock_id}:{row.username}",
        before,
        {"lock_id": row.lock_id, "loader_id": row.user_id, "status": row.status, **after},
    )


def push(session: Session, hall: Hall, row: VeinEnrolment, **change: Any) -> None:
    """``vein_enrolment.update`` (the enrolment's view, ``change`` over it) to the lock's branch
    and to the loader, after the commit. Never anything of the vein itself."""
    rooms = rooms_for(
        users=[row.user_id] if row.user_id is not None else [],
        branches=[row.branch_id] if row.branch_id else [],
    )
    hall.emit(session, LIVE_EVENT, {**enrolment_view(row), **change}, rooms)
