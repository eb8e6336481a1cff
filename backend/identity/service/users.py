"""Users: create one (a role its org may hold, a branch of its org), change a user's role, org or
branch, disable and enable, reset a password.

Every change that takes rights away (disabled, role, org or branch changed, password reset)
bumps the user's ``token_version``, so every token issued before stops working at the next
request or Socket.IO connect (backend/identity/sessions.py), and tells the user's live sockets
``session.revoked`` after the commit, which the web role answers by disconnecting them on
every instance (backend/roles/web.py). The bank always keeps one active admin.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.identity import rules
from backend.identity.models import Branch, LoginFailure, Org, User
from backend.identity.passwords import hash_password
from backend.identity.service.orgs import UNSET, org_lineage
from backend.platform import audit
from backend.platform.after_commit import push_live
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import Conflict, NotFound, ValidationFailed
from backend.platform.live import rooms_for
from backend.platform.permissions import ensure_role
from backend.platform.wiring import live_of

REVOKED_EVENT = "session.revoked"


def actor_for(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        org_id=user.org_id,
        branch_id=user.branch_id,
    )


def get_user(session: Session, user_id: int, *, lock: bool = False) -> User:
    stmt = select(User).where(User.id == user_id)
    user = session.scalar(stmt.with_for_update() if lock else stmt)
    if user is None:
        raise NotFound("user not found", code="user_not_found")
    return user


def user_by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}", code="user_not_found")
    return user


def _branch_for(session: Session, org: Org, role: str, branch_id: str | None) -> str | None:
    """The user's branch: one of the org's own branches or of an org under it. Only bank staff
    have one; in a branch org with a single branch it is that branch when none is given."""
    if org.kind not in rules.BANK_ORG_KINDS or role not in rules.BRANCH_ROLES:
        if branch_id is not None:
            raise ValidationFailed(
                f"a {role} has no branch",
                code="branch_not_allowed",
                details={"branch_id": ["only branch staff (rm, approver, teller, loader)"]},
            )
        return None
    if branch_id is None:
        if org.kind == "branch":
            own = session.scalars(select(Branch.code).where(Branch.org_id == org.id)).all()
            if len(own) == 1:
                return own[0]
            if len(own) > 1:
                raise ValidationFailed(
                    f"org {org.code} has several branches; name one",
                    code="branch_required",
                    details={"branch_id": [f"one of {', '.join(sorted(own))}"]},
                )
        return None
    branch = session.scalar(select(Branch).where(Branch.code == branch_id))
    if branch is None:
        raise ValidationFailed(
            f"no branch {branch_id!r}",
            code="unknown_branch",
            details={"branch_id": ["an existing branch"]},
        )
    if org.id not in org_lineage(session, branch.org_id):
        raise ValidationFailed(
            f"branch {branch_id} is not part of org {org.code}",
            code="branch_outside_org",
            details={"branch_id": [f"a branch of {org.code} or of an org under it"]},
        )
    return branch.code


def _check_username(username: str) -> None:
    if (
        not isinstance(username, str)
        or not 1 <= len(username) <= 80
        or not username.isprintable()
        or any(c.isspace() for c in username)
    ):
        raise ValidationFailed(
            "username is required", details={"username": ["1 to 80 characters, no spaces"]}
        )


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
    """A user of ``org`` in ``role`` (one its kind of org may hold: ``rules.ROLE_ORG_KINDS``),
    with a branch of that org for branch staff. No password: mini-program login only."""
    rules.check_role_in_org(role, org.kind)
    _check_username(username)
    if password is not None:
        rules.check_password(password)
    branch_id = _branch_for(session, org, role, branch_id)
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
        token_version=0,
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
        after={"username": username, "role": role, "org_id": org.id, "branch_id": branch_id},
    )
    return user


def _view(user: User) -> dict[str, Any]:
    return {
        "role": user.role,
        "org_id": user.org_id,
        "branch_id": user.branch_id,
        "active": user.active,
        "token_version": user.token_version,
    }


def _revoke(session: Session, user: User, reason: str) -> None:
    """Every token issued so far stops working; the user's live sockets are told and closed."""
    user.token_version += 1
    user.revoked_at = utcnow()
    push_live(
        session,
        live_of(session),
        REVOKED_EVENT,
        {"reason": reason},
        rooms_for(users=[user.id]),
        key=(REVOKED_EVENT, user.id),
    )


def _keep_an_admin(session: Session, actor: Actor, user: User) -> None:
    """The change would take ``user``'s admin rights away: never one's own, never the last."""
    if user.id == actor.user_id:
        raise Conflict("an admin cannot disable or demote their own account", code="own_account")
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.active.is_(True), User.id != user.id)
    )
    if not others:
        raise Conflict("the bank must keep one active admin", code="last_admin")


def change_user(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    role: str | None = None,
    org_id: int | None = None,
    branch_id: str | None = UNSET,
) -> User:
    """Change a user's role, org or branch (admin). Their tokens stop working at once."""
    ensure_role(actor, "admin")
    user = get_user(session, user_id, lock=True)
    before = _view(user)
    new_role = role if role is not None else user.role
    org = session.get(Org, org_id if org_id is not None else user.org_id)
    if org is None:
        raise NotFound("org not found", code="org_not_found")
    rules.check_role_in_org(new_role, org.kind)
    if branch_id is UNSET:  # kept while the user stays branch staff of the same org
        keep = org.id == user.org_id and new_role in rules.BRANCH_ROLES
        branch_id = user.branch_id if keep else None
    new_branch = _branch_for(session, org, new_role, branch_id)
    if (new_role, org.id, new_branch) == (user.role, user.org_id, user.branch_id):
        return user  # nothing changes: tokens stay valid
    if user.role == "admin" and new_role != "admin" and user.active:
        _keep_an_admin(session, actor, user)
    user.role, user.org_id, user.branch_id = new_role, org.id, new_branch
    _revoke(session, user, "role_changed")
    session.flush()
    audit.record(session, actor, "user.changed", "user", user.id, before, _view(user))
    return user


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Disable a user (admin): every token stops working at once and login is refused; or
    enable them again (old tokens stay revoked: they log in anew)."""
    ensure_role(actor, "admin")
    user = get_user(session, user_id, lock=True)
    if user.active == active:
        return user
    before = _view(user)
    if not active:
        if user.role == "admin":
            _keep_an_admin(session, actor, user)
        _revoke(session, user, "disabled")
    user.active = active
    session.flush()
    action = "user.enabled" if active else "user.disabled"
    audit.record(session, actor, action, "user", user.id, before, _view(user))
    return user


def reset_password(session: Session, actor: Actor, user_id: int, password: str) -> User:
    """Set a new password (admin): the user's tokens stop working and a lock-out ends."""
    ensure_role(actor, "admin")
    rules.check_password(password)
    user = get_user(session, user_id, lock=True)
    user.password_hash = hash_password(password)
    session.execute(delete(LoginFailure).where(LoginFailure.username == user.username))
    _revoke(session, user, "password_reset")
    session.flush()
    audit.record(
        session,
        actor,
        "user.password_reset",
        "user",
        user.id,
        after={"token_version": user.token_version},
    )
    return user
