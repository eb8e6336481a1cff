"""Logins: password login with per-account and per-address limits (a 429 says when to retry),
an admin's unlock after a lock-out, and mini-program (wx.login) login."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.identity.models import LoginFailure, Org, User
from backend.identity.passwords import verify_password
from backend.identity.service.users import create_user, get_user
from backend.identity.wechat import Code2Session
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import NotAuthenticated, RateLimited
from backend.platform.permissions import ensure_role


def locked_until(
    session: Session, column, value: str, *, limit: int, window_s: int, now: datetime
) -> datetime | None:
    """When ``value`` (a username or an address) may try again, if ``limit`` failures within
    the window lock it now: the moment the oldest failure that keeps the count at ``limit``
    leaves the window. One indexed read."""
    since = now - timedelta(seconds=window_s)
    keeping = session.scalar(
        select(LoginFailure.at)
        .where(column == value, LoginFailure.at >= since)
        .order_by(LoginFailure.at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    return None if keeping is None else keeping + timedelta(seconds=window_s)


def _refuse(until: datetime, now: datetime, whom: str) -> RateLimited:
    retry_after = max(1, math.ceil((until - now).total_seconds()))
    return RateLimited(
        f"too many failed logins for this {whom}; try again in {retry_after} s",
        code="login_rate_limited",
        details={"retry_after_s": retry_after, "scope": whom},
    )


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    address: str,
    max_failures: int,
    max_failures_per_address: int,
    window_s: int,
    now: datetime | None = None,
) -> User:
    """Password login. After ``max_failures`` failures for one account (or more for one address)
    within the window, even a correct password is refused with 429 (``details.retry_after_s``:
    when the window lets it try again) until the window passes or an admin unlocks the account.

    Failures are recorded by the caller's transaction even though login fails: the HTTP edge
    commits the failure record separately (see miniapp_api/auth.py)."""
    now = now or utcnow()
    until = locked_until(
        session, LoginFailure.username, username, limit=max_failures, window_s=window_s, now=now
    )
    if until is not None:
        raise _refuse(until, now, "account")
    until = locked_until(
        session,
        LoginFailure.address,
        address,
        limit=max_failures_per_address,
        window_s=window_s,
        now=now,
    )
    if until is not None:
        raise _refuse(until, now, "address")
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        raise NotAuthenticated("username or password is wrong", code="invalid_credentials")
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return user


def record_login_failure(
    session: Session, username: str, address: str, now: datetime | None = None
) -> None:
    session.add(LoginFailure(username=username[:80], address=address[:64], at=now or utcnow()))


def unlock(session: Session, actor: Actor, user_id: int) -> User:
    """Forget the account's failed logins (admin), so a locked-out user may log in at once.
    Failures of other accounts from the same address stay counted for that address."""
    ensure_role(actor, "admin")
    user = get_user(session, user_id)
    cleared = session.execute(
        delete(LoginFailure).where(LoginFailure.username == user.username)
    ).rowcount
    audit.record(
        session, actor, "user.unlocked", "user", user.id, after={"failures_cleared": cleared}
    )
    return user


def wx_login(
    session: Session, provider: Code2Session, code: str, *, client_org: Org | None
) -> User:
    """Exchange a mini-program code for the openid; the first login creates a client user."""
    wx = provider.exchange(code)
    user = session.scalar(select(User).where(User.wx_openid == wx.openid))
    if user is None:
        if client_org is None:
            raise NotAuthenticated("no account is linked to this WeChat user", code="wx_not_linked")
        user = create_user(
            session,
            SYSTEM,
            username=f"wx_{wx.openid}"[:80],
            password=None,
            role="client",
            org=client_org,
            wx_openid=wx.openid,
        )
    if not user.active:
        raise NotAuthenticated("account is disabled", code="account_disabled")
    return user
