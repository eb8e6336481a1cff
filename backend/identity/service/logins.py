"""Logins: password login with per-account exponential back-off and per-address limits (a 429
says when to retry; rules.LoginLimits), an admin's unlock, and mini-program (wx.login) login
with limits on the accounts it creates."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.identity import queries
from backend.identity.models import LoginAddress, LoginFailure, Org, User, WxSignup
from backend.identity.passwords import verify_password
from backend.identity.rules import LoginLimits
from backend.identity.service.users import create_user, get_user
from backend.identity.wechat import Code2Session
from backend.platform import audit
from backend.platform.clock import ensure_utc, utcnow
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import NotAuthenticated, RateLimited
from backend.platform.permissions import ensure_role


def _refuse(until: datetime, now: datetime, scope: str) -> RateLimited:
    retry_after = max(1, math.ceil((until - now).total_seconds()))
    whom = "address" if scope == "address" else "account"
    return RateLimited(
        f"too many failed logins for this {whom}; try again in {retry_after} s",
        code="login_rate_limited",
        details={"retry_after_s": retry_after, "scope": scope},
    )


def _held_back(
    session: Session, username: str, address: str, limits: LoginLimits, now: datetime
) -> tuple[datetime, str] | None:
    """The latest back-off that holds this attempt back now, if any: (until, scope)."""
    held = queries.account_backoffs(session, username, address, limits, now)
    since = now - timedelta(seconds=limits.window_s)
    count, last = queries.failures(session, since, address=address)
    wait = limits.backoff_s(count, limits.max_failures_per_address)
    if wait is not None and last is not None and ensure_utc(last) + timedelta(seconds=wait) > now:
        held.append((ensure_utc(last) + timedelta(seconds=wait), "address"))
    return max(held) if held else None


def _remember_address(session: Session, username: str, address: str, now: datetime) -> None:
    row = session.scalar(
        select(LoginAddress).where(
            LoginAddress.username == username, LoginAddress.address == address
        )
    )
    if row is not None:
        row.last_success_at = now
        return
    try:
        with session.begin_nested():  # a concurrent login from the same address may win
            session.add(LoginAddress(username=username, address=address, last_success_at=now))
    except IntegrityError:
        pass


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    address: str,
    limits: LoginLimits,
    now: datetime | None = None,
) -> User:
    """Password login under ``limits`` (rules.LoginLimits): while a back-off holds the
    account (from this address, or from every address new to the account) or the address, the
    attempt is refused with 429 (``details.retry_after_s``, ``details.scope``) before the
    password is looked at, and is not counted. The right password after the back-off logs in;
    an admin's unlock ends it at once.

    Failures are recorded by the caller's transaction even though login fails: the HTTP edge
    commits the failure record separately (``record_login_failure``, miniapp_api/auth.py)."""
    now = now or utcnow()
    address = address[:64]
    held = _held_back(session, username, address, limits, now)
    if held is not None:
        raise _refuse(held[0], now, held[1])
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        raise NotAuthenticated("username or password is wrong", code="invalid_credentials")
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    _remember_address(session, username, address, now)
    return user


def record_login_failure(
    session: Session,
    username: str,
    address: str,
    limits: LoginLimits | None = None,
    now: datetime | None = None,
) -> None:
    """One failed login; audited (``login.backoff``, ``login.address_limited``) when it puts
    the account or the address in a back-off (a bounded number of records: attempts during a
    back-off are refused before they can fail)."""
    now = now or utcnow()
    username, address = username[:80], address[:64]
    session.add(LoginFailure(username=username, address=address, at=now))
    if limits is None:
        return
    session.flush()
    since = now - timedelta(seconds=limits.window_s)
    from_here, _ = queries.failures(session, since, username=username, address=address)
    everywhere, _ = queries.failures(session, since, username=username)
    wait = limits.backoff_s(from_here, limits.max_failures)
    wide = limits.backoff_s(everywhere, limits.max_failures_per_account)
    if wait is not None or wide is not None:
        audit.record(
            session,
            SYSTEM,
            "login.backoff",
            "login",
            username,
            after={
                "address": address,
                "failures_from_address": from_here,
                "failures": everywhere,
                "retry_after_s": max(w for w in (wait, wide) if w is not None),
            },
        )
    by_address, _ = queries.failures(session, since, address=address)
    if by_address >= limits.max_failures_per_address:
        audit.record(
            session,
            SYSTEM,
            "login.address_limited",
            "login_address",
            address,
            after={"failures": by_address, "window_s": limits.window_s},
        )


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


SIGNUP_WINDOW = timedelta(hours=1)
FAKE_SIGNUP_WINDOW = timedelta(days=1)


def _check_signup_limits(
    session: Session, address: str, now: datetime, per_address: int, per_day: int | None
) -> None:
    """Refuse (429) a new account past ``per_address`` from the address within the hour, or
    past ``per_day`` overall within the day (the demo's fake provider)."""
    checks = [(per_address, SIGNUP_WINDOW, WxSignup.address == address, "address")]
    if per_day is not None:
        checks.append((per_day, FAKE_SIGNUP_WINDOW, None, "overall"))
    for limit, window, where, scope in checks:
        stmt = select(WxSignup.at).where(WxSignup.at >= now - window)
        if where is not None:
            stmt = stmt.where(where)
        keeping = session.scalar(stmt.order_by(WxSignup.at.desc()).offset(limit - 1).limit(1))
        if keeping is not None:
            until = ensure_utc(keeping) + window
            retry_after = max(1, math.ceil((until - now).total_seconds()))
            raise RateLimited(
                f"too many new mini-program accounts ({scope}); try again in {retry_after} s",
                code="wx_signup_rate_limited",
                details={"retry_after_s": retry_after, "scope": scope},
            )


def wx_login(
    session: Session,
    provider: Code2Session,
    code: str,
    *,
    client_org: Org | None,
    address: str = "unknown",
    signups_per_address: int = 5,
    signups_per_day: int | None = None,
    now: datetime | None = None,
) -> User:
    """Exchange a mini-program code for the openid; the first login creates a client user,
    at most ``signups_per_address`` an hour from one address and, when given,
    ``signups_per_day`` a day overall (the demo's fake provider); past them 429
    ``wx_signup_rate_limited``. Logins of existing accounts are not limited here."""
    now = now or utcnow()
    wx = provider.exchange(code)
    user = session.scalar(select(User).where(User.wx_openid == wx.openid))
    if user is None:
        if client_org is None:
            raise NotAuthenticated("no account is linked to this WeChat user", code="wx_not_linked")
        address = address[:64]
        _check_signup_limits(session, address, now, signups_per_address, signups_per_day)
        user = create_user(
            session,
            SYSTEM,
            username=f"wx_{wx.openid}"[:80],
            password=None,
            role="client",
            org=client_org,
            wx_openid=wx.openid,
        )
        session.add(WxSignup(user_id=user.id, address=address, at=now))
    if not user.active:
        raise NotAuthenticated("account is disabled", code="account_disabled")
    return user
