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
    lock retired                  the job ends every enrolment on it -> row gone (the
                                  device's decommissioning wipes what the lock holds)

Consent is the shared ``backend.branch.consent`` (as for faces); withdrawing it revokes on
every lock. Each change of an enrolment is pushed as ``vein_enrolment.update`` (its view: lock,
loader, status, capture count; ``revoked`` / ``ended`` when the row goes) to the branch and to
the loader. Two first requests for one loader on one lock at once: the later is 409
``enrolment_in_progress``.

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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.access import can_see_branch, ensure_branch_staff
from backend.branch.alarms import raise_and_push
from backend.branch.cash.service import active_loader
from backend.branch.consent import BiometricConsent
from backend.branch.models import VeinConsent, VeinEnrolment
from backend.branch.runtime import Hall
from backend.identity.models import User
from backend.platform import audit
from backend.platform.clock import ensure_utc, isoformat
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound
from backend.platform.live import rooms_for
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
LIVE_EVENT = "vein_enrolment.update"


# --------------------------------------------------------------------------- consent


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
consent_view = CONSENT.view
get_consent = CONSENT.get
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


def _push(session: Session, hall: Hall, row: VeinEnrolment, **change: Any) -> None:
    """``vein_enrolment.update`` (the enrolment's view, ``change`` over it) to the lock's branch
    and to the loader, after the commit. Never anything of the vein itself."""
    rooms = rooms_for(
        users=[row.user_id] if row.user_id is not None else [],
        branches=[row.branch_id] if row.branch_id else [],
    )
    hall.emit(session, LIVE_EVENT, {**enrolment_view(row), **change}, rooms)


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
    loader = active_loader(session, loader_id, lock.branch_id, "loader_id")
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
    _audit(
        session,
        actor,
        "vein_enrolment_requested",
        row,
        before,
        captures=CAPTURES,
        valid_for_s=CAPTURE_VALID_S,
    )
    _push(session, hall, row)
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
        if _row(session, row.lock_id, row.username, lock=False) is None:
            raise  # not the concurrent request: a real fault
        raise Conflict(
            "another request to enrol this loader on this lock came first",
            code="enrolment_in_progress",
        ) from None


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
    _push(session, hall, row)


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
            _push(session, hall, row)
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
        _audit(session, SYSTEM, "vein_enrolled", row, before)
        _push(session, hall, row)
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
    _audit(session, SYSTEM, "vein_enrol_failed", row, {"status": "capturing"}, reason=reason)
    _push(session, hall, row)


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
    _audit(session, SYSTEM, action, row, {"status": row.status}, **why)
    _push(session, hall, row, status=gone_as, **why)
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
        return _revoked(session, hall, _row(session, lock_id, username), ("revoking",), "ack")
    if name == "lock.enroll" and status != "ok":
        row = _row(session, lock_id, username)
        if row is None or row.status != "capturing":
            return "ignored"
        _fail(session, hall, row, f"lock {status}: {data.get('reason') or ''}"[:80], now)
        return "failed"
    return "ignored"


# --------------------------------------------------------------------------- job


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
