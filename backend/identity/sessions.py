"""Who is calling, checked against the database on every request and Socket.IO connect.

A token is valid while its signature, audience and expiry hold *and* its user still exists,
is active and has the token version the token was issued at. Disabling a user, changing
their role, org or branch, or resetting their password bumps the version
(backend/identity/service/users.py), so every earlier token stops working at once, on every
instance. The check is one primary-key read; the actor comes from the row, not the claims.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import User
from backend.identity.tokens import decode_claims
from backend.platform.context import Actor
from backend.platform.errors import NotAuthenticated


def verify_token(session: Session, token: str, secret: str) -> Actor:
    """The caller of ``token``, or NotAuthenticated: ``token_expired``, ``invalid_token``
    (forged, or the user is gone), ``account_disabled``, ``token_revoked``."""
    claims = decode_claims(token, secret)
    user_id = int(claims["sub"])
    row = session.execute(
        select(
            User.username, User.role, User.org_id, User.branch_id, User.active, User.token_version
        ).where(User.id == user_id)
    ).one_or_none()
    if row is None:
        raise NotAuthenticated("account no longer exists", code="invalid_token")
    if not row.active:
        raise NotAuthenticated("account is disabled", code="account_disabled")
    if row.token_version != int(claims.get("ver", 0)):
        raise NotAuthenticated("token was revoked; log in again", code="token_revoked")
    return Actor(
        user_id=user_id,
        username=row.username,
        role=row.role,
        org_id=row.org_id,
        branch_id=row.branch_id,
    )
