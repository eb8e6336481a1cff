"""Consent to biometrics, one implementation for every kind the hall keeps (face at the door,
finger veins on the cash locks).

The bank keeps biometric data only with recorded consent. A person grants consent to the
current text version; withdrawing it changes the latest consent to ``withdrawn`` and, in the
same transaction, erases what was kept under it. What erasing means belongs to each service
(face: delete the encodings and sightings; veins: tell the locks to revoke), so ``withdraw``
takes it as a callback, whose answer goes into the audit record. Each kind has its own consent
table with the same columns (``user_id``, ``status`` granted | withdrawn, ``text_version``,
``channel``, ``granted_at``, ``withdrawn_at``) and its own audit action names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.access import ensure_role
from backend.platform import audit
from backend.platform.clock import isoformat
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed

# (session, user_id) -> the kind's own fields of the consent view (what is kept under it)
ViewExtras = Callable[[Session, int], dict[str, Any]]
# () -> what was erased, for the withdrawal's audit record
Erase = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class BiometricConsent:
    model: type  # a consent table with the columns above (FaceConsent, VeinConsent)
    role: str  # who consents (and alone may read or change their consent)
    text_version: str  # the current consent text
    granted_action: str
    withdrawn_action: str
    object_type: str
    view_extras: ViewExtras

    def latest(self, session: Session, user_id: int | None) -> Any | None:
        if user_id is None:
            return None
        model = self.model
        return session.scalar(
            select(model).where(model.user_id == user_id).order_by(model.id.desc())
        )

    def active(self, session: Session, user_id: int | None) -> Any | None:
        """The person's consent if it is granted now, else None."""
        consent = self.latest(session, user_id)
        return consent if consent is not None and consent.status == "granted" else None

    def view(self, session: Session, user_id: int) -> dict[str, Any]:
        consent = self.latest(session, user_id)
        return {
            "status": consent.status if consent else "none",
            "text_version": consent.text_version if consent else None,
            "granted_at": isoformat(consent.granted_at) if consent else None,
            "withdrawn_at": isoformat(consent.withdrawn_at) if consent else None,
            **self.view_extras(session, user_id),
        }

    def get(self, session: Session, actor: Actor) -> dict[str, Any]:
        ensure_role(actor, self.role)
        return self.view(session, actor.user_id)

    def grant(
        self,
        session: Session,
        actor: Actor,
        *,
        text_version: str | None = None,
        channel: str = "miniprogram",
        now: datetime,
    ) -> dict[str, Any]:
        """Consent to the current text (the default); granting again changes nothing."""
        ensure_role(actor, self.role)
        text_version = self.text_version if text_version is None else text_version
        if text_version != self.text_version:
            raise ValidationFailed(
                "consent must be to the current text",
                code="consent_text_outdated",
                details={"text_version": [self.text_version]},
            )
        if self.active(session, actor.user_id) is None:
            consent = self.model(
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
                self.granted_action,
                self.object_type,
                consent.id,
                after={"text_version": text_version, "channel": channel},
            )
        return self.view(session, actor.user_id)

    def withdraw(
        self, session: Session, actor: Actor, *, now: datetime, erase: Erase
    ) -> dict[str, Any]:
        """``erase`` runs first, whether or not a consent is granted (nothing may stay behind);
        a granted consent then becomes withdrawn, audited with what ``erase`` answered."""
        ensure_role(actor, self.role)
        current = self.active(session, actor.user_id)
        erased = erase()
        if current is not None:
            current.status, current.withdrawn_at = "withdrawn", now
            audit.record(
                session,
                actor,
                self.withdrawn_action,
                self.object_type,
                current.id,
                before={"status": "granted"},
                after={"status": "withdrawn", **erased},
            )
        session.flush()
        return self.view(session, actor.user_id)
