"""Who may see and change a branch's hall.

The rule is the device area's: admins see every branch; staff with a branch (tellers, loaders,
the branch's RM) only their own; bank staff without a branch (head office) every branch.
Clients see a branch's public queue summary and their own tickets, consent and encodings,
never anyone else's. Whatever the caller may not see is NotFound, so nothing leaks. A cash
task's loaders (and a vein lock's enrolled) are active loaders of the branch.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import Branch, User
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, NotFound, PermissionDenied

STAFF_ROLES = ("admin", "teller", "rm", "approver", "loader")
QUEUE_STAFF_ROLES = ("teller", "rm")


def can_see_branch(actor: Actor, branch_id: str) -> bool:
    if actor.is_admin:
        return True
    if actor.role not in STAFF_ROLES:
        return False
    if actor.branch_id is not None:
        return actor.branch_id == branch_id
    return actor.is_bank_staff


def branch_exists(session: Session, branch_id: str) -> bool:
    return session.scalar(select(Branch.id).where(Branch.code == branch_id)) is not None


def ensure_branch(session: Session, actor: Actor, branch_id: str, *, public: bool = False) -> None:
    """The branch exists and the caller may see it (``public``: clients too)."""
    visible = can_see_branch(actor, branch_id) or (public and actor.role == "client")
    if not visible or not branch_exists(session, branch_id):
        raise NotFound("branch not found", code="branch_not_found")


def ensure_branch_staff(session: Session, actor: Actor, branch_id: str, *roles: str) -> None:
    """Visible branch (else 404) and one of ``roles`` (else 403; admins always pass)."""
    ensure_branch(session, actor, branch_id)
    if roles and actor.role not in roles and not actor.is_admin:
        raise PermissionDenied(
            f"role {actor.role!r} may not do this; needs one of: {', '.join(roles)}",
            details={"required_roles": list(roles)},
        )


def ensure_role(actor: Actor, *roles: str) -> None:
    if actor.role not in roles and not actor.is_admin:
        raise PermissionDenied(
            f"role {actor.role!r} may not do this; needs one of: {', '.join(roles)}",
            details={"required_roles": list(roles)},
        )


def active_loader(session: Session, user_id: object, branch_id: str, field: str) -> User:
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.role != "loader" or not user.active or user.branch_id != branch_id:
        raise BusinessRuleViolation(
            f"{field} must be an active loader of {branch_id}",
            code="invalid_loader",
            details={field: ["an active loader of the branch"]},
        )
    return user
