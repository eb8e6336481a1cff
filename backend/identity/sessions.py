"""Who is calling, checked against the database on every request and Socket.IO connect.

A token is valid while its signature, audience and expiry hold *and* its user still exists,
is active and has the token version the token was issued at. Disabling a user, changing
their role, org or branch, or resetting their password bumps the version
(backend/identity/service/users.py), so every earlier token stops working at once, on every
instance. The check is one primary-key read; the actor comes from the row, not the claims.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import User
from backend.identity.tokens import decode_claims
from backend.platform.context import Actor
from backend.platform.errors import NotAuthenticated


def verify_token(session: Session, token: str, secret: str) -> Actor:
    """The caller of ``token``, or NotAuthenticated: ``token_expired``, ``invalid_token``
    (forged, or the user is gone), ``account_disabled``, ``token_revoked``."""
    return verify_session(session, token, secret)[0]


def current_versions(session: Session, user_ids: Iterable[int]) -> dict[int, int]:
    """The token version now in force of each of these users who still exists and is active
    (a user missing from the answer has no valid token at all). One query per 500 users."""
    ids = sorted(set(user_ids))
    found: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(User.id, User.token_version).where(
                User.id.in_(ids[start : start + 500]), User.active.is_(True)
            )
        )
        found.update({user_id: version for user_id, version in rows})
    return found


def revoked_since(session: Session, since: datetime) -> dict[int, int | None]:
    """The users whose tokens were revoked since ``since``: their version now in force, or
    None for those disabled (one indexed range read; its answer grows with revocations, not
    with users)."""
    rows = session.execute(
        select(User.id, User.token_version, User.active).where(User.revoked_at >= since)
    )
    return {user_id: (version if active else None) for user_id, version, active in rows}


def verify_session(session: Session, token: str, secret: str) -> tuple[Actor, int]:
    """``verify_token``, and the token version the token was issued at (a live socket keeps
    it, to be closed when the user's version moves on)."""
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
    actor = Actor(
        user_id=user_id,
        username=row.username,
        role=row.role,
        org_id=row.org_id,
        branch_id=row.branch_id,
    )
    return actor, row.token_version
