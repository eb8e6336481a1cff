"""Face recognition's read side: a client's consent and how many encodings of their face are
stored. Reads only."""

from __future__ import annotations

from backend.branch.face.consent import CONSENT, CONSENT_TEXT_VERSION, consent_view

__all__ = ["CONSENT_TEXT_VERSION", "consent_view", "get_consent"]

get_consent = CONSENT.get
