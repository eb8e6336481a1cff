"""Identity read side: users (filtered, cursor pages, with their lock-out state), branches."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.identity.models import Branch, LoginAddress, LoginFailure, User
from backend.identity.rules import LoginLimits
from backend.platform.clock import ensure_utc
from backend.platform.pagination import Page, paginate

KNOWN_ADDRESS_DAYS = 90  # an address of a successful login is "known" this long


def failures(
    session: Session, since: datetime, *, username: str | None = None, address: str | None = None
) -> tuple[int, datetime | None]:
    """How many failed logins (of the account, from the address, or both) since ``since``,
    and when the last was. One indexed aggregate read."""
    stmt = select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.at >= since)
    if username is not None:
        stmt = stmt.where(LoginFailure.username == username)
    if address is not None:
        stmt = stmt.where(LoginFailure.address == address)
    count, last = session.execute(stmt).one()
    return int(count or 0), last


def known_address(session: Session, username: str, address: str, now: datetime) -> bool:
    since = now - timedelta(days=KNOWN_ADDRESS_DAYS)
    return (
        session.scalar(
            select(LoginAddress.id).where(
                LoginAddress.username == username,
                LoginAddress.address == address,
                LoginAddress.last_success_at >= since,
            )
        )
        is not None
    )


def account_backoffs(
    session: Session, username: str, address: str, limits: LoginLimits, now: datetime
) -> list[tuple[datetime, str]]:
    """The account's back-offs that hold ``address`` back now: (until, scope) with scope
    ``account`` (from this address) or ``account_all_addresses``."""
    since = now - timedelta(seconds=limits.window_s)
    found = []
    count, last = failures(session, since, username=username, address=address)
    wait = limits.backoff_s(count, limits.max_failures)
    if wait is not None and last is not None:
        found.append((ensure_utc(last) + timedelta(seconds=wait), "account"))
    if not known_address(session, username, address, now):
        count, last = failures(session, since, username=username)
        wait = limits.backoff_s(count, limits.max_failures_per_account)
        if wait is not None and last is not None:
            found.append((ensure_utc(last) + timedelta(seconds=wait), "account_all_addresses"))
    return [(until, scope) for until, scope in found if until > now]


def lockouts(
    session: Session, usernames: list[str], limits: LoginLimits, now: datetime
) -> dict[str, datetime]:
    """Of ``usernames``, those some address is held back from now (from the address that
    failed, or from every address new to the account) and until when (one query)."""
    if not usernames:
        return {}
    since = now - timedelta(seconds=limits.window_s)
    rows = session.execute(
        select(
            LoginFailure.username,
            LoginFailure.address,
            func.count(),
            func.max(LoginFailure.at),
        )
        .where(LoginFailure.username.in_(usernames), LoginFailure.at >= since)
        .group_by(LoginFailure.username, LoginFailure.address)
    ).all()
    totals: dict[str, tuple[int, datetime]] = {}
    locked: dict[str, datetime] = {}

    def hold(username: str, until: datetime) -> None:
        if until > now and (username not in locked or until > locked[username]):
            locked[username] = until

    for username, _address, count, last in rows:
        last = ensure_utc(last)
        wait = limits.backoff_s(count, limits.max_failures)
        if wait is not None:
            hold(username, last + timedelta(seconds=wait))
        total, latest = totals.get(username, (0, last))
        totals[username] = (total + count, max(latest, last))
    for username, (count, last) in totals.items():
        wait = limits.backoff_s(count, limits.max_failures_per_account)
        if wait is not None:
            hold(username, last + timedelta(seconds=wait))
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
