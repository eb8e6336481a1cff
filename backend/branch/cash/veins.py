"""Finger-vein enrolment of cash loaders: consent at the centre, the template only on the lock.

The bank keeps biometric data only with recorded consent, encrypted at rest, deleted on
withdrawal and never logged. A finger-vein lock matches on the device, so the template is
captured and kept by the lock itself and never travels: the centre keeps the loader's consent
(``VeinConsent``) and what it asked each lock to do (``VeinEnrolment``), never a template.

    loader consents               POST /vein/consent                     (text vein-v1)
    teller asks the lock          POST /locks/{lock}/enrolments {loader_id}   -> capturing
      centre -> lock              lock.enroll {loader_id: username, captures: 3, valid_for_s: 120}
    loader presents the finger    lock.capture {loader_id, n}             (n of 3; progress only)
    lock stores the template      lock.enrolled {loader_id}               -> enrolled
                   or gives up    lock.enrol_failed {loader_id, reason}   -> failed
    teller removes / consent withdrawn   -> revoking, lock.revoke {loader_id}
      (re-sent every RESEND_REVOKE_S by the job until the lock answers)
    lock deleted it               lock.revoked {loader_id} or an ok ack of lock.revoke -> row gone

A ``lock.enrolled`` the centre did not ask for (no capturing request on that lock) or for a
loader without consent is answered with ``lock.revoke`` and a major alarm: a loader without
consent never becomes enrolled. The cash flow arms a lock only for two loaders enrolled on it
(``missing_enrolments``). Audit records name the lock, the loader and the status; nothing of a
vein (no template, no capture) ever reaches the centre.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.access import can_see_branch, ensure_branch_staff, ensure_role
from backend.branch.cash.flow import _alarm
from backend.branch.cash.service import _loader
from backend.branch.models import VeinConsent, VeinEnrolment
from backend.branch.runtime import Hall
from backend.identity.models import User
from backend.platform import audit
from backend.platform.clock import ensure_utc, isoformat
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    ValidationFailed,
)
from backend.platform.pagination import Page, paginate

CONSENT_TEXT_VERSION = "vein-v1"
CAPTURES = 3  # finger presentations the lock takes for one template
CAPTURE_VALID_S = 120  # the lock's capture session
CAPTURE_GIVE_UP_S = CAPTURE_VALID_S + 300  # the centre stops waiting for a silent lock
RESEND_REVOKE_S = 60
STATUSES = ("capturing", "enrolled", "revoking", "failed")
ENROLLER_ROLES = ("teller",)  # and admins
LOCK_EVENTS = ("lock.capture", "lock.enrolled", "lock.enrol_failed", "lock.revoked")
ALARM_RULE = "vein_enrolment_unrequested"


# --------------------------------------------------------------------------- consent


def _latest_consent(session: Session, user_id: int | None) -> VeinConsent | None:
    if user_id is None:
        return None
    return session.scalar(
        select(VeinConsent).where(VeinConsent.user_id == user_id).order_by(VeinConsent.id.desc())
    )


def active_consent(session: Session, user_id: int | None) -> VeinConsent | None:
    consent = _latest_consent(session, user_id)
    return consent if consent is not None and consent.status == "granted" else None


def consent_view(session: Session, user_id: int) -> dict[str, Any]:
    consent = _latest_consent(session, user_id)
    enrolments = session.scalar(
        select(func.count(VeinEnrolment.id)).where(
            VeinEnrolment.user_id == user_id,
            VeinEnrolment.status.in_(("capturing", "enrolled")),
        )
    )
    return {
        "status": consent.status if consent else "none",
        "text_version": consent.text_version if consent else None,
        "granted_at": isoformat(consent.granted_at) if consent else None,
        "withdrawn_at": isoformat(consent.withdrawn_at) if consent else None,
        "enrolments": int(enrolments or 0),
    }


def get_consent(session: Session, actor: Actor) -> dict[str, Any]:
    ensure_role(actor, "loader")
    return consent_view(session, actor.user_id)


def grant_consent(
    session: Session,
    actor: Actor,
    *,
    text_version: str = CONSENT_TEXT_VERSION,
    channel: str = "miniprogram",
    now: datetime,
) -> dict[str, Any]:
    ensure_role(actor, "loader")
    if text_version != CONSENT_TEXT_VERSION:
        raise ValidationFailed(
            "consent must be to the current text",
            code="consent_text_outdated",
            details={"text_version": [CONSENT_TEXT_VERSION]},
        )
    if active_consent(session, actor.user_id) is None:
        consent = VeinConsent(
            user_id=actor.user_id,
            status="granted",
            text_version=text_version,
            channel=channel,
            granted_at=now,
        )
        session.add(consent)
        session.flush()
        audit.record(
            session,
            actor,
            "branch.vein_consent_granted",
            "vein_consent",
            consent.id,
            after={"text_version": text_version, "channel": channel},
        )
    return consent_view(session, actor.user_id)


def withdraw_consent(
    session: Session, actor: Actor, hall: Hall, *, now: datetime
) -> dict[str, Any]:
    """Every lock holding (or capturing) the loader's vein is told to delete it, now and by
    the job until it confirms; the enrolments count as gone from this moment on."""
    ensure_role(actor, "loader")
    current = active_consent(session, actor.user_id)
    rows = list(
        session.scalars(
            select(VeinEnrolment)
            .where(VeinEnrolment.user_id == actor.user_id)
            .order_by(VeinEnrolment.id)
            .with_for_update()
        )
    )
    for row in rows:
        _start_revoke(session, hall, row, actor, now, reason="consent_withdrawn")
    if current is not None:
        current.status, current.withdrawn_at = "withdrawn", now
        audit.record(
            session,
            actor,
            "branch.vein_consent_withdrawn",
            "vein_consent",
            current.id,
            before={"status": "granted"},
            after={"status": "withdrawn", "locks_revoking": sorted({r.lock_id for r in rows})},
        )
    session.flush()
    return consent_view(session, actor.user_id)


# --------------------------------------------------------------------------- enrolments


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


def _visible_lock(session: Session, actor: Actor, lock_id: str) -> devices_port.DeviceInfo:
    lock = devices_port.find_device(session, lock_id)
    if lock is None or lock.device_type != "lock" or not can_see_branch(actor, lock.branch_id):
        raise NotFound("lock not found", code="lock_not_found")
    return lock


def _row(
    session: Session, lock_id: str, username: str, *, lock: bool = True
) -> VeinEnrolment | None:
    stmt = select(VeinEnrolment).where(
        VeinEnrolment.lock_id == lock_id, VeinEnrolment.username == username
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def _audit(
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


def request_enrolment(
    session: Session,
    actor: Actor,
    hall: Hall,
    lock_id: str,
    loader_id: int,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A teller (or admin) of the lock's branch asks the lock to capture a loader's vein."""
    now = hall.now(now)
    lock = _visible_lock(session, actor, lock_id)
    ensure_branch_staff(session, actor, lock.branch_id, *ENROLLER_ROLES)
    if lock.status == "retired":
        raise BusinessRuleViolation("the lock is retired", code="device_retired")
    loader = _loader(session, loader_id, lock.branch_id, "loader_id")
    consent = active_consent(session, loader.id)
    if consent is None:
        raise BusinessRuleViolation(
            "the loader has not consented to finger-vein enrolment",
            code="vein_consent_missing",
            details={"loader_id": [f"needs consent to {CONSENT_TEXT_VERSION}"]},
        )
    row = _row(session, lock.device_id, loader.username)
    if row is not None and row.status == "enrolled":
        raise Conflict("the loader is enrolled on this lock", code="already_enrolled")
    if row is not None and row.status == "revoking":
        raise Conflict(
            "the lock has not confirmed the last revocation yet", code="revocation_pending"
        )
    before = {"status": row.status} if row is not None else None
    if row is None:
        row = VeinEnrolment(
            branch_id=lock.branch_id,
            lock_id=lock.device_id,
            user_id=loader.id,
            username=loader.username,
            revoke_attempts=0,
        )
        session.add(row)
    row.status, row.consent_id, row.requested_by = "capturing", consent.id, actor.user_id
    row.requested_at, row.updated_at, row.captures = now, now, 0
    row.enrolled_at = row.failure_reason = row.revoke_requested_at = row.revoke_sent_at = None
    session.flush()
    args = {"loader_id": loader.username, "captures": CAPTURES, "valid_for_s": CAPTURE_VALID_S}
    hall.command(session, lock.device_id, "lock.enroll", args)
    _audit(
        session,
        actor,
        "vein_enrolment_requested",
        row,
        before,
        captures=CAPTURES,
        valid_for_s=CAPTURE_VALID_S,
    )
    return enrolment_view(row)


def list_enrolments(
    session: Session,
    actor: Actor,
    lock_id: str,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """The lock's enrolments for its branch's staff; a loader sees only their own."""
    lock = _visible_lock(session, actor, lock_id)
    stmt = select(VeinEnrolment).where(VeinEnrolment.lock_id == lock.device_id)
    if actor.role == "loader":
        stmt = stmt.where(VeinEnrolment.user_id == actor.user_id)
    return paginate(session, stmt, VeinEnrolment.id, limit=limit, cursor=cursor)


def revoke_enrolment(
    session: Session,
    actor: Actor,
    hall: Hall,
    lock_id: str,
    loader_id: int,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A teller (or admin) removes a loader from a lock: the lock is told to delete the vein;
    the row goes when the lock confirms."""
    now = hall.now(now)
    lock = _visible_lock(session, actor, lock_id)
    ensure_branch_staff(session, actor, lock.branch_id, *ENROLLER_ROLES)
    row = session.scalar(
        select(VeinEnrolment)
        .where(VeinEnrolment.lock_id == lock.device_id, VeinEnrolment.user_id == loader_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound("no enrolment of this loader on this lock", code="enrolment_not_found")
    _start_revoke(session, hall, row, actor, now, reason="removed")
    return enrolment_view(row)


def _start_revoke(
    session: Session, hall: Hall, row: VeinEnrolment, actor: Actor, now: datetime, *, reason: str
) -> None:
    before = {"status": row.status}
    if row.status != "revoking":
        row.status, row.revoke_requested_at = "revoking", now
    _send_revoke(session, hall, row, now)
    _audit(session, actor, "vein_enrolment_revoke_requested", row, before, reason=reason)


def _send_revoke(session: Session, hall: Hall, row: VeinEnrolment, now: datetime) -> None:
    row.revoke_sent_at, row.updated_at = now, now
    row.revoke_attempts = (row.revoke_attempts or 0) + 1
    hall.command(session, row.lock_id, "lock.revoke", {"loader_id": row.username})


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


# --------------------------------------------------------------------------- the lock reports


def on_lock_event(
    session: Session,
    hall: Hall,
    lock_id: str,
    type_: str,
    data: dict[str, Any],
    now: datetime,
) -> str:
    username = data.get("loader_id")
    if not isinstance(username, str) or not username or len(username) > 80:
        return "ignored"
    row = _row(session, lock_id, username)
    if type_ == "lock.capture":
        if row is None or row.status != "capturing":
            return "ignored"
        n = data.get("n")
        if isinstance(n, int) and not isinstance(n, bool) and 0 < n <= CAPTURES:
            row.captures, row.updated_at = max(row.captures, n), now
        return "capture"
    if type_ == "lock.enrolled":
        return _enrolled(session, hall, lock_id, username, row, now)
    if type_ == "lock.enrol_failed":
        if row is None or row.status != "capturing":
            return "ignored"
        _fail(session, row, str(data.get("reason") or "unknown")[:80], now)
        return "failed"
    if type_ == "lock.revoked":
        return _revoked(session, row, ("revoking", "enrolled", "failed"), "lock.revoked")
    return "ignored"


def _enrolled(
    session: Session,
    hall: Hall,
    lock_id: str,
    username: str,
    row: VeinEnrolment | None,
    now: datetime,
) -> str:
    user_id = (
        row.user_id
        if row is not None
        else session.scalar(select(User.id).where(User.username == username))
    )
    consent = active_consent(session, user_id)
    if row is not None and row.status == "capturing" and consent is not None:
        before = {"status": row.status}
        row.status, row.enrolled_at, row.updated_at = "enrolled", now, now
        row.captures, row.consent_id = CAPTURES, consent.id
        _audit(session, SYSTEM, "vein_enrolled", row, before)
        return "enrolled"
    problem = "no_consent" if consent is None else "not_requested"
    if row is None:
        lock = devices_port.find_device(session, lock_id)
        row = VeinEnrolment(
            branch_id=lock.branch_id if lock else "",
            lock_id=lock_id,
            user_id=user_id,
            username=username,
            status="revoking",
            requested_at=now,
            captures=0,
            revoke_attempts=0,
            updated_at=now,
        )
        session.add(row)
        session.flush()
    _alarm(
        session,
        hall,
        lock_id,
        ALARM_RULE,
        "major",
        f"the lock enrolled {username} without a request and consent at the centre",
        {"loader_id": username, "problem": problem},
        now,
    )
    _start_revoke(session, hall, row, SYSTEM, now, reason=problem)
    return problem


def _fail(session: Session, row: VeinEnrolment, reason: str, now: datetime) -> None:
    row.status, row.failure_reason, row.updated_at = "failed", reason, now
    _audit(session, SYSTEM, "vein_enrol_failed", row, {"status": "capturing"}, reason=reason)


def _revoked(
    session: Session, row: VeinEnrolment | None, statuses: tuple[str, ...], source: str
) -> str:
    # A capturing row is a request made after the revocation: a late confirmation of the
    # earlier revoke must not delete it.
    if row is None or row.status not in statuses:
        return "ignored"
    _audit(session, SYSTEM, "vein_enrolment_revoked", row, {"status": row.status}, source=source)
    session.delete(row)
    session.flush()
    return "revoked"


def on_ack(session: Session, hall: Hall, lock_id: str, data: dict[str, Any], now: datetime) -> str:
    """The lock's answer to our commands: an ok ``lock.revoke`` confirms the deletion; a
    refused ``lock.enroll`` ends the capture request."""
    command_id, status = data.get("id"), data.get("status")
    if not isinstance(command_id, str) or status not in ("ok", "rejected", "failed"):
        return "ignored"
    sent = devices_port.command_sent(session, lock_id, command_id)
    if sent is None:
        return "ignored"
    name, args = sent
    username = args.get("loader_id")
    if not isinstance(username, str):
        return "ignored"
    if name == "lock.revoke" and status == "ok":
        return _revoked(session, _row(session, lock_id, username), ("revoking",), "ack")
    if name == "lock.enroll" and status != "ok":
        row = _row(session, lock_id, username)
        if row is None or row.status != "capturing":
            return "ignored"
        _fail(session, row, f"lock {status}: {data.get('reason') or ''}"[:80], now)
        return "failed"
    return "ignored"


# --------------------------------------------------------------------------- job


def resend_revocations(session: Session, hall: Hall, now: datetime) -> dict[str, int]:
    """Job: revocations not confirmed are sent again every RESEND_REVOKE_S; capture requests
    the lock never answered end as failed after CAPTURE_GIVE_UP_S."""
    due = now - timedelta(seconds=RESEND_REVOKE_S)
    resent = 0
    for row in session.scalars(
        select(VeinEnrolment)
        .where(VeinEnrolment.status == "revoking")
        .order_by(VeinEnrolment.id)
        .with_for_update()
    ):
        if row.revoke_sent_at is not None and ensure_utc(row.revoke_sent_at) > due:
            continue
        lock = devices_port.find_device(session, row.lock_id)
        if lock is None or lock.status == "retired":
            continue  # the dispatcher refuses retired devices; the row stays visible
        _send_revoke(session, hall, row, now)
        resent += 1
    expired = 0
    silent = now - timedelta(seconds=CAPTURE_GIVE_UP_S)
    for row in session.scalars(
        select(VeinEnrolment)
        .where(VeinEnrolment.status == "capturing", VeinEnrolment.requested_at < silent)
        .with_for_update()
    ):
        _fail(session, row, "no_answer_from_lock", now)
        expired += 1
    return {"revokes_sent": resent, "captures_expired": expired}
