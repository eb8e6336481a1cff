"""Consent to face recognition at the branch door: the face kind of biometric consent (one
implementation with the loaders' vein consent: ../consent.py), whose view counts the client's
stored encodings. Both sides use it: service.py grants, withdraws and checks it before an
enrolment; queries.py reads it.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.branch.consent import BiometricConsent
from backend.branch.models import FaceConsent, FaceEncoding

CONSENT_TEXT_VERSION = "face-v1"


def _count(session: Session, user_id: int) -> int:
    return int(
        session.scalar(select(func.count(FaceEncoding.id)).where(FaceEncoding.user_id == user_id))
        or 0
    )


CONSENT = BiometricConsent(
    FaceConsent,
    role="client",
    text_version=CONSENT_TEXT_VERSION,
    granted_action="branch.face_consent_granted",
    withdrawn_action="branch.face_consent_withdrawn",
    object_type="face_consent",
    view_extras=lambda session, user_id: {"encodings": _count(session, user_id)},
)


consent_view = CONSENT.view
