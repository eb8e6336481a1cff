"""JWT access tokens (HS256) signed with FINEDGE_SECRET_KEY, with expiry and the user's token
version (``ver``) at issue: a token whose version is behind the user's is revoked
(backend/identity/sessions.py checks it on every request and Socket.IO connect).

Every token names FinEdge as its issuer (``iss``) and its audience (``aud``), and both are
required and checked with the signature, the algorithm (HS256 only: never ``none``) and the
expiry: a token signed with the right key for another audience or by another issuer (another
service sharing the key) is refused like a forged one (``invalid_token``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt

from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import NotAuthenticated

ALGORITHM = "HS256"
AUDIENCE = "finedge"
ISSUER = "finedge"


def issue_token(
    actor: Actor, secret: str, ttl_s: int, now: datetime | None = None, *, version: int = 0
) -> str:
    now = now or utcnow()
    claims = {
        "sub": str(actor.user_id),
        "username": actor.username,
        "role": actor.role,
        "org_id": actor.org_id,
        "branch_id": actor.branch_id,
        "ver": version,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_claims(token: str, secret: str) -> dict[str, Any]:
    """The token's claims, signature, audience and expiry checked (401 otherwise)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("token has expired", code="token_expired") from None
    except jwt.PyJWTError:
        raise NotAuthenticated("token is not valid", code="invalid_token") from None
    sub, version = claims["sub"], claims.get("ver", 0)
    if not (isinstance(sub, str) and sub.isascii() and sub.isdigit()) or type(version) is not int:
        raise NotAuthenticated("token is not valid", code="invalid_token")
    return claims


def decode_token(token: str, secret: str) -> Actor:
    """The actor as the token says (no database: ``sessions.verify_token`` is what checks a
    caller)."""
    claims = decode_claims(token, secret)
    return Actor(
        user_id=int(claims["sub"]),
        username=claims.get("username", ""),
        role=claims.get("role", ""),
        org_id=claims.get("org_id"),
        branch_id=claims.get("branch_id"),
    )
