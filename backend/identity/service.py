"""Identity use cases: orgs, users, password login with rate limits, mini-program login."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.identity.models import ORG_KINDS, Branch, LoginFailure, Org, User
from backend.identity.passwords import hash_password, verify_password
from backend.identity.wechat import Code2Session
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import ROLES, SYSTEM, Actor
from backend.platform.errors import Conflict, NotAuthenticated, RateLimited, ValidationFailed


def actor_for(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        org_id=user.org_id,
        branch_id=user.branch_id,
    )


def get_or_create_org(
    session: Session, code: str, name: str, kind: str, parent: Org | None = None
) -> Org:
    if kind not in ORG_KINDS:
        raise ValidationFailed(
            f"unknown org kind {kind!r}", details={"kind": [f"one of {ORG_KINDS}"]}
        )
    org = session.scalar(select(Org).where(Org.code == code))
    if org is None:
        org = Org(
            code=code,
            name=name,
            kind=kind,
            parent_id=parent.id if parent else None,
            created_at=utcnow(),
        )
        session.add(org)
        session.flush()
        audit.record(
            session, SYSTEM, "org.created", "org", org.id, after={"code": code, "kind": kind}
        )
    return org


def get_or_create_branch(session: Session, code: str, name: str, org: Org) -> Branch:
    branch = session.scalar(select(Branch).where(Branch.code == code))
    if branch is None:
        branch = Branch(code=code, name=name, org_id=org.id)
        session.add(branch)
        session.flush()
    return branch


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    password: str | None,
    role: str,
    org: Org,
    branch_id: str | None = None,
    wx_openid: str | None = None,
) -> User:
    if role not in ROLES:
        raise ValidationFailed(
            f"unknown role {role!r}", details={"role": [f"one of {', '.join(ROLES)}"]}
        )
    if not username or len(username) > 80:
        raise ValidationFailed("username is required", details={"username": ["1 to 80 characters"]})
    if password is not None and len(password) < 8:
        raise ValidationFailed(
            "password too short", details={"password": ["at least 8 characters"]}
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} exists", code="user_exists")
    user = User(
        username=username,
        password_hash=hash_password(password) if password else None,
        role=role,
        org_id=org.id,
        branch_id=branch_id,
        wx_openid=wx_openid,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.created",
        "user",
        user.id,
        after={"username": username, "role": role, "org_id": org.id},
    )
    return user


def _recent_failures(session: Session, column, value: str, since: datetime) -> int:
    return session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(column == value, LoginFailure.at >= since)
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
    within the window, even a correct password is refused with 429 until the window passes.

    Failures are recorded by the caller's transaction even though login fails: the HTTP edge
    commits the failure record separately (see miniapp_api/auth.py)."""
    now = now or utcnow()
    since = now - timedelta(seconds=window_s)
    if _recent_failures(session, LoginFailure.username, username, since) >= max_failures:
        raise RateLimited(
            "too many failed logins for this account; try again later", code="login_rate_limited"
        )
    if _recent_failures(session, LoginFailure.address, address, since) >= max_failures_per_address:
        raise RateLimited(
            "too many failed logins from this address; try again later", code="login_rate_limited"
        )
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
