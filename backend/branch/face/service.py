"""Consent, enrolment, withdrawal and recognition at the door.

- A client records consent in the mini-program (``grant_consent``); only then may they enrol a
  face (``enrol``: a photo, or an encoding computed on their phone). Withdrawal deletes every
  encoding and sighting of theirs at once.
- The door camera sends encodings computed at the edge (images stay in the branch). Each is
  matched 1:N against the encodings of consenting clients (gallery.py) at the branch's
  tolerance. Nothing about a face that matches nobody is stored or logged. A match is kept as a
  sighting; a VIP's arrival tells their relationship manager (live push), at most once per
  ``SIGHTING_QUIET``. Face never opens anything: it only informs staff.
- Encodings are Fernet-encrypted at rest (crypto.py) and never appear in logs or audit records.
- Every encoding from outside is checked (vectors.py: 128 finite numbers of a face's norm):
  enrolment refuses it (``invalid_encoding``), the door drops it with the camera's
  ``face_encoding_refused`` alarm, and the matcher skips any stored row that fails.

This is the write side; the consent as read is queries.py (consent.py holds the consent kind).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.branch.access import ensure_branch_staff, ensure_role
from backend.branch.alarms import raise_and_push
from backend.branch.face import detect, vectors
from backend.branch.face import gallery as galleries
from backend.branch.face.consent import CONSENT, consent_view
from backend.branch.face.crypto import ENCODING_SIZE, EncodingBox, FaceCryptoError
from backend.branch.halls import get_hall
from backend.branch.models import ClientProfile, FaceConsent, FaceEncoding, FaceSighting
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.clock import ensure_utc, isoformat
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import BusinessRuleViolation, ValidationFailed
from backend.platform.live import rooms_for

log = logging.getLogger(__name__)

MAX_ENCODINGS_PER_CLIENT = 5
SIGHTING_QUIET = timedelta(minutes=10)
TOLERANCE_RANGE = (0.3, 0.8)
# The alarm a door camera's invalid encoding raises (dropped, never stored).
REFUSED_RULE = "face_encoding_refused"
# The event a relationship manager receives when a consenting VIP client is recognised.
VIP_EVENT = "client.arrived"


grant_consent = CONSENT.grant


def withdraw_consent(session: Session, actor: Actor, *, now: datetime) -> dict[str, Any]:
    """Withdrawal deletes the client's encodings and sightings in the same transaction."""

    def erase() -> dict[str, Any]:
        deleted = session.execute(
            delete(FaceEncoding).where(FaceEncoding.user_id == actor.user_id)
        ).rowcount
        sightings = session.execute(
            delete(FaceSighting).where(FaceSighting.user_id == actor.user_id)
        ).rowcount
        return {"encodings_deleted": deleted, "sightings_deleted": sightings}

    return CONSENT.withdraw(session, actor, now=now, erase=erase)


def parse_encoding(value: object, field: str = "encoding") -> np.ndarray:
    """A face encoding from outside (vectors.check), or ValidationFailed ``invalid_encoding``
    with the rule it broke (never a value of it)."""
    try:
        return vectors.check(value)
    except vectors.InvalidEncoding as exc:
        raise ValidationFailed(
            "a face encoding is a list of 128 finite numbers of a face's norm "
            f"({vectors.NORM_RANGE[0]} to {vectors.NORM_RANGE[1]}, each within "
            f"±{vectors.MAX_COMPONENT})",
            code="invalid_encoding",
            details={field: [exc.reason]},
        ) from None


def enrol(
    session: Session,
    actor: Actor,
    hall: Hall,
    *,
    image: bytes | None = None,
    encoding: list[float] | None = None,
    now: datetime,
) -> dict[str, Any]:
    """Store one encoding of the client's face; only with consent granted."""
    ensure_role(actor, "client")
    consent = CONSENT.active(session, actor.user_id)
    if consent is None:
        raise BusinessRuleViolation("record consent first", code="consent_required")
    if (image is None) == (encoding is None):
        raise ValidationFailed(
            "send an image or an encoding", details={"image": ["image or encoding"]}
        )
    if image is not None:
        try:
            capture = detect.encode_largest(detect.load_image(image))
        except detect.BadImage:
            raise ValidationFailed(
                "not a readable image", code="invalid_image", details={"image": ["JPEG or PNG"]}
            ) from None
        except detect.NoFace:
            raise BusinessRuleViolation(
                "no face found with enough confidence", code="no_face"
            ) from None
        vector, quality = parse_encoding(capture.encoding, "image"), capture.score
    else:
        vector, quality = parse_encoding(encoding), 1.0
    box = EncodingBox(hall.key())
    row = FaceEncoding(
        user_id=actor.user_id,
        consent_id=consent.id,
        ciphertext=box.encrypt(vector),
        model="dlib_face_recognition_resnet_model_v1",
        quality=round(float(quality), 3),
        created_at=now,
    )
    session.add(row)
    session.flush()
    old = list(
        session.scalars(
            select(FaceEncoding.id)
            .where(FaceEncoding.user_id == actor.user_id)
            .order_by(FaceEncoding.id.desc())
            .offset(MAX_ENCODINGS_PER_CLIENT)
        )
    )
    if old:
        session.execute(delete(FaceEncoding).where(FaceEncoding.id.in_(old)))
    audit.record(
        session,
        actor,
        "branch.face_enrolled",
        "face_encoding",
        row.id,
        after={"quality": row.quality, "source": "image" if image is not None else "encoding"},
    )
    return {"encoding_id": row.id, "quality": row.quality, **consent_view(session, actor.user_id)}


# Up to this many new encodings are read by id; more (a first load) by one scan.
FRESH_IN_LIMIT = 500


def _gallery_key(session: Session) -> str:
    return str(session.get_bind().url)


def load_gallery(session: Session, hall: Hall) -> galleries.Gallery:
    """The decrypted gallery of every consenting client: cached while unchanged, and on a change
    only the new encodings are read and decrypted (the ones gone are dropped)."""
    version = tuple(
        session.execute(select(func.count(FaceEncoding.id), func.max(FaceEncoding.id))).one()
    )
    key = _gallery_key(session)
    previous = galleries.latest(key)
    if previous is not None and previous.version == version:
        return previous
    granted = (
        select(FaceEncoding.id, FaceEncoding.user_id, FaceEncoding.ciphertext)
        .join(FaceConsent, FaceConsent.id == FaceEncoding.consent_id)
        .where(FaceConsent.status == "granted")
        .order_by(FaceEncoding.id)
    )
    current = np.fromiter(
        session.scalars(granted.with_only_columns(FaceEncoding.id)), dtype=np.int64
    )
    known = previous.known_ids() if previous is not None else np.empty(0, dtype=np.int64)
    fresh = np.setdiff1d(current, known, assume_unique=True)
    if len(fresh) == 0:
        rows = []
    elif len(fresh) <= FRESH_IN_LIMIT:
        rows = session.execute(granted.where(FaceEncoding.id.in_(fresh.tolist()))).all()
    else:  # a first load or a large backfill: read them all, decrypt only the new ones
        fresh_set = set(fresh.tolist())
        rows = [r for r in session.execute(granted) if r[0] in fresh_set]
    box = EncodingBox(hall.key())
    matrix = np.full((len(rows), ENCODING_SIZE), np.nan, dtype=np.float64)
    undecryptable = []
    for i, (encoding_id, _uid, token) in enumerate(rows):
        try:
            matrix[i] = box.decrypt(token)
        except FaceCryptoError:  # left NaN: the gallery skips it, the others still match
            undecryptable.append(encoding_id)
    new_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    new_users = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    if previous is None:
        gallery = galleries.Gallery(new_users, matrix, version, encoding_ids=new_ids)
    else:
        gallery = previous.updated(current, new_ids, new_users, matrix, version)
    galleries.store(key, gallery)
    skipped = np.intersect1d(gallery.skipped_ids, new_ids)
    if len(skipped):
        log.warning(
            "face gallery: %d stored encoding(s) unusable and skipped (ids %s; %d undecryptable)",
            len(skipped),
            ", ".join(map(str, skipped.tolist()[:20])),
            len(undecryptable),
        )
    return gallery


def identify_at_door(
    session: Session,
    hall: Hall,
    branch_id: str,
    encoding: object,
    *,
    device_id: str,
    now: datetime,
) -> dict[str, Any] | None:
    """A face at the door: who it is among consenting clients, or None (and nothing kept).

    An encoding that is not one (vectors.check) is dropped with an event: the camera's
    ``face_encoding_refused`` alarm (minor; the rule broken, never a value), pushed to the
    branch and admins when it opens; the camera's next valid encoding clears it."""
    try:
        vector = vectors.check(encoding)
    except vectors.InvalidEncoding as exc:
        raise_and_push(
            session,
            hall,
            device_id,
            REFUSED_RULE,
            "minor",
            f"door camera sent something that is not a face encoding: {exc.reason}",
            {"reason": exc.reason, "at": isoformat(now)},
            now,
        )
        return None
    # the camera sends encodings again: its refused-encoding alarm, if active, clears
    raise_and_push(session, hall, device_id, REFUSED_RULE, "minor", "", {}, now, active=False)
    row = get_hall(session, branch_id)
    match = load_gallery(session, hall).best(vector, row.face_tolerance)
    if match is None:
        return None
    recent = session.scalar(
        select(FaceSighting.at)
        .where(FaceSighting.user_id == match.user_id, FaceSighting.branch_id == branch_id)
        .order_by(FaceSighting.id.desc())
        .limit(1)
    )
    session.add(
        FaceSighting(
            branch_id=branch_id,
            user_id=match.user_id,
            device_id=device_id,
            distance=round(match.distance, 4),
            at=now,
        )
    )
    session.flush()
    result = {"user_id": match.user_id, "distance": round(match.distance, 4), "notified": None}
    profile = session.scalar(select(ClientProfile).where(ClientProfile.user_id == match.user_id))
    quiet = recent is not None and now - ensure_utc(recent) < SIGHTING_QUIET
    if profile is not None and profile.segment == "vip" and profile.rm_user_id and not quiet:
        hall.emit(
            session,
            VIP_EVENT,
            {
                "branch_id": branch_id,
                "client_id": match.user_id,
                "name": profile.display_name,
                "segment": profile.segment,
                "at": isoformat(now),
                "device_id": device_id,
            },
            rooms_for(users=[profile.rm_user_id]),
        )
        audit.record(
            session,
            SYSTEM,
            "branch.vip_arrived",
            "branch_client",
            match.user_id,
            after={"branch_id": branch_id, "rm_user_id": profile.rm_user_id},
        )
        result["notified"] = profile.rm_user_id
    return result


def set_face_tolerance(
    session: Session, actor: Actor, branch_id: str, tolerance: float, now: datetime
) -> dict[str, Any]:
    ensure_branch_staff(session, actor, branch_id, "admin")
    lo, hi = TOLERANCE_RANGE
    if not lo <= tolerance <= hi:
        raise ValidationFailed(
            f"tolerance between {lo} and {hi}", details={"face_tolerance": [f"{lo}..{hi}"]}
        )
    row = get_hall(session, branch_id, lock=True)
    before = row.face_tolerance
    row.face_tolerance, row.updated_at = float(tolerance), now
    audit.record(
        session,
        actor,
        "branch.face_tolerance",
        "branch",
        branch_id,
        {"face_tolerance": before},
        {"face_tolerance": row.face_tolerance},
    )
    return {"branch_id": branch_id, "face_tolerance": row.face_tolerance}
