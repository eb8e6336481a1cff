"""Identity read side: users (filtered, cursor pages, with their lock-out state), branches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.identity.models import Branch, LoginFailure, User
from backend.platform.pagination import Page, paginate


@dataclass(frozen=True)
class LockoutPolicy:
    """The login limits of this process (Config.login_max_failures, login_window_s)."""

    max_failures: int
    window_s: int


def lockouts(
    session: Session, usernames: list[str], policy: LockoutPolicy, now: datetime
) -> dict[str, datetime]:
    """Of ``usernames``, those locked out now and when they may try again (one query)."""
    if not usernames:
        return {}
    since = now - timedelta(seconds=policy.window_s)
    counts = session.execute(
        select(LoginFailure.username, func.count())
        .where(LoginFailure.username.in_(usernames), LoginFailure.at >= since)
        .group_by(LoginFailure.username)
    ).all()
    locked: dict[str, datetime] = {}
    for username, count in counts:
        if count >= policy.max_failures:
            keeping = session.scalar(
                select(LoginFailure.at)
                .where(LoginFailure.username == username, LoginFailure.at >= since)
                .order_by(LoginFailure.at.desc())
                .offset(policy.max_failures - 1)
                .limit(1)
            )
            if keeping is not None:
                locked[username] = keeping + timedelta(seconds=policy.window_s)
    return locked


def list_users(
    session: Session,
    *,
    org_id: int | None = None,
    role: str | None = None,
    branch_id: str | None = None,
    active: bool | None = None,
    username_prefix: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Users by id, filtered; a cursor page."""
    stmt = select(User)
    if org_id is not None:
        stmt = stmt.where(User.org_id == org_id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if branch_id is not None:
        stmt = stmt.where(User.branch_id == branch_id)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    if username_prefix:
        escaped = username_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(User.username.like(f"{escaped}%", escape="\\"))
    return paginate(session, stmt, User.id, limit=limit, cursor=cursor)


def list_branches(
    session: Session, *, org_id: int | None = None, limit: int | None = None, cursor=None
) -> Page:
    stmt = select(Branch)
    if org_id is not None:
        stmt = stmt.where(Branch.org_id == org_id)
    return paginate(session, stmt, Branch.id, limit=limit, cursor=cursor)
