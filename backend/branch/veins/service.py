"""Vein enrolment's write side: a loader's consent granted or withdrawn (withdrawal revokes on
every lock), a teller's request that a lock capture a loader's vein and its removal, what the
lock reports (captures, enrolled, failed, revoked, and its acks of our commands), and the job
that sends unconfirmed revocations again, gives up on capture requests no lock answered and
ends enrolments on retired locks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.access import active_loader, ensure_branch_staff
from backend.branch.alarms import raise_and_push
from backend.branch.models import VeinEnrolment
from backend.branch.runtime import Hall
from backend.branch.veins.records import (
    ALARM_RULE,
    CAPTURE_GIVE_UP_S,
    CAPTURE_VALID_S,
    CAPTURES,
    CONSENT,
    CONSENT_TEXT_VERSION,
    ENROLLER_ROLES,
    RESEND_REVOKE_S,
    active_consent,
    audit_enrolment,
    enrolment_row,
    enrolment_view,
    push,
    visible_lock,
)
from backend.identity.models import User
from backend.platform.clock import ensure_utc
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound

LOCK_EVENTS = ("lock.capture", "lock.enrolled", "lock.enrol_failed", "lock.revoked")


grant_consent = CONSENT.grant


def withdraw_consent(
    session: Session, actor: Actor, hall: Hall, *, now: datetime
) -> dict[str, Any]:
    """Every lock holding (or capturing) the loader's vein is told to delete it, now and by
    the job until it confirms; the enrolments count as gone from this moment on."""

    def revoke_everywhere() -> dict[str, Any]:
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
        return {"locks_revoking": sorted({r.lock_id for r in rows})}

    return CONSENT.withdraw(session, actor, now=now, erase=revoke_everywhere)


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
    lock = visible_lock(session, actor, lock_id)
    ensure_branch_staff(session, actor, lock.branch_id, *ENROLLER_ROLES)
    if lock.status == "retired":
        raise BusinessRuleViolation("the lock is retired", code="device_retired")
    loader = active_loader(session, loader_id, lock.branch_id, "loader_id")
    consent = active_consent(session, loader.id)
    if consent is None:
        raise BusinessRuleViolation(
            "the loader has not consented to finger-vein enrolment",
            code="vein_consent_missing",
            details={"loader_id": [f"needs consent to {CONSENT_TEXT_VERSION}"]},
        )
    row = enrolment_row(session, lock.device_id, loader.username)
    if row is not None and row.status == "enrolled":
        raise Conflict("the loader is enrolled on this lock", code="already_enrolled")
    if row is not None and row.status == "revoking":
        raise Conflict(
            "the lock has not confirmed the last revocation yet", code="revocation_pending"
        )
    before = {"status": row.status} if row is not None else None
    first = row is None
    if row is None:
        row = VeinEnrolment(
            branch_id=lock.branch_id,
            lock_id=lock.device_id,
            user_id=loader.id,
            username=loader.username,
            revoke_attempts=0,
        )
    row.status, row.consent_id, row.requested_by = "capturing", consent.id, actor.user_id
    row.requested_at, row.updated_at, row.captures = now, now, 0
    row.enrolled_at = row.failure_reason = row.revoke_requested_at = row.revoke_sent_at = None
    if first:
        _insert_first(session, row)
    else:
        session.flush()
    args = {"loader_id": loader.username, "captures": CAPTURES, "valid_for_s": CAPTURE_VALID_S}
    hall.command(session, lock.device_id, "lock.enroll", args)
    audit_enrolment(
        session,
        actor,
        "vein_enrolment_requested",
        row,
        before,
        captures=CAPTURES,
        valid_for_s=CAPTURE_VALID_S,
    )
    push(session, hall, row)
    return enrolment_view(row)


def _insert_first(session: Session, row: VeinEnrolment) -> None:
    """The first request for a loader on a lock. Two at once both find no row (nothing to lock
    yet); the unique (lock, loader) fails the later insert, inside a SAVEPOINT so the caller's
    transaction survives to answer 409."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        if enrolment_row(session, row.lock_id, row.username, lock=False) is None:
            raise  # not the concurrent request: a real fault
        raise Conflict(
            "another request to enrol this loader on this lock came first",
            code="enrolment_in_progress",
        ) from None


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
    lock = visible_lock(session, actor, lock_id)
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
    audit_enrolment(session, actor, "vein_enrolment_revoke_requested", row, before, reason=reason)
    push(session, hall, row)


def _send_revoke(session: Session, hall: Hall, row: VeinEnrolment, now: datetime) -> None:
    row.revoke_sent_at, row.updated_at = now, now
    row.revoke_attempts = (row.revoke_attempts or 0) + 1
    hall.command(session, row.lock_id, "lock.revoke", {"loader_id": row.username})


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
    row = enrolment_row(session, lock_id, username)
    if type_ == "lock.capture":
        if row is None or row.status != "capturing":
            return "ignored"
        n = data.get("n")
        if isinstance(n, int) and not isinstance(n, bool) and 0 < n <= CAPTURES:
            row.captures, row.updated_at = max(row.captures, n), now
            push(session, hall, row)
        return "capture"
    if type_ == "lock.enrolled":
        return _enrolled(session, hall, lock_id, username, row, now)
    if type_ == "lock.enrol_failed":
        if row is None or row.status != "capturing":
            return "ignored"
        _fail(session, hall, row, str(data.get("reason") or "unknown")[:80], now)
        return "failed"
    if type_ == "lock.revoked":
        return _revoked(session, hall, row, ("revoking", "enrolled", "failed"), "lock.revoked")
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
        audit_enrolment(session, SYSTEM, "vein_enrolled", row, before)
        push(session, hall, row)
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
    raise_and_push(
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


def _fail(session: Session, hall: Hall, row: VeinEnrolment, reason: str, now: datetime) -> None:
    row.status, row.failure_reason, row.updated_at = "failed", reason, now
    audit_enrolment(
        session, SYSTEM, "vein_enrol_failed", row, {"status": "capturing"}, reason=reason
    )
    push(session, hall, row)


def _revoked(
    session: Session,
    hall: Hall,
    row: VeinEnrolment | None,
    statuses: tuple[str, ...],
    source: str,
) -> str:
    # A capturing row is a request made after the revocation: a late confirmation of the
    # earlier revoke must not delete it.
    if row is None or row.status not in statuses:
        return "ignored"
    _remove(session, hall, row, "vein_enrolment_revoked", "revoked", source=source)
    return "revoked"


def _remove(
    session: Session, hall: Hall, row: VeinEnrolment, action: str, gone_as: str, **why: Any
) -> None:
    """The centre's record of the enrolment goes: audited, and pushed with status ``gone_as``."""
    audit_enrolment(session, SYSTEM, action, row, {"status": row.status}, **why)
    push(session, hall, row, status=gone_as, **why)
    session.delete(row)
    session.flush()


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
        return _revoked(
            session, hall, enrolment_row(session, lock_id, username), ("revoking",), "ack"
        )
    if name == "lock.enroll" and status != "ok":
        row = enrolment_row(session, lock_id, username)
        if row is None or row.status != "capturing":
            return "ignored"
        _fail(session, hall, row, f"lock {status}: {data.get('reason') or ''}"[:80], now)
        return "failed"
    return "ignored"


def end_on_retired_locks(session: Session, hall: Hall) -> int:
    """A retired lock takes no command any more (the dispatcher refuses it), so a revocation
    would never reach it: every enrolment on it ends here, whatever its status. What the lock
    holds goes with the device: its decommissioning must wipe it (docs/branch.md)."""
    lock_ids = session.scalars(select(VeinEnrolment.lock_id).distinct())
    retired = devices_port.retired_among(session, lock_ids)
    if not retired:
        return 0
    rows = list(
        session.scalars(
            select(VeinEnrolment)
            .where(VeinEnrolment.lock_id.in_(sorted(retired)))
            .order_by(VeinEnrolment.id)
            .with_for_update()
        )
    )
    for row in rows:
        _remove(
            session,
            hall,
            row,
            "vein_enrolment_ended",
            "ended",
            reason="lock_retired",
            wiped_by="device_decommissioning",
        )
    return len(rows)


def resend_revocations(session: Session, hall: Hall, now: datetime) -> dict[str, int]:
    """Job: enrolments on retired locks end (``end_on_retired_locks``); revocations not
    confirmed are sent again every RESEND_REVOKE_S; capture requests the lock never answered
    end as failed after CAPTURE_GIVE_UP_S."""
    ended = end_on_retired_locks(session, hall)
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
        if devices_port.find_device(session, row.lock_id) is None:
            continue  # no such device (any more): nothing to send to
        _send_revoke(session, hall, row, now)
        resent += 1
    expired = 0
    silent = now - timedelta(seconds=CAPTURE_GIVE_UP_S)
    for row in session.scalars(
        select(VeinEnrolment)
        .where(VeinEnrolment.status == "capturing", VeinEnrolment.requested_at < silent)
        .with_for_update()
    ):
        _fail(session, hall, row, "no_answer_from_lock", now)
        expired += 1
    return {"revokes_sent": resent, "captures_expired": expired, "enrolments_ended": ended}
