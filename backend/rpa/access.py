"""Who may see and run which robots: department isolation.

An operator (role ``operator``) belongs to one department (``rpa_department_members``) and
sees that department's robots, runs, work items, artefacts, reviews and alarms, and may start
its robots' runs and review its items; admins run the factory (deploy, roll back, enable,
disable) and see every department. Anyone else has no business here (403). Another
department's object is "not found" (404): its existence does not leak.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.errors import NotFound, PermissionDenied
from backend.rpa.models import DepartmentMember


def department_of(session: Session, actor: Actor) -> str | None:
    if actor.user_id is None:
        return None
    return session.scalar(
        select(DepartmentMember.department).where(DepartmentMember.user_id == actor.user_id)
    )


def ensure_factory_user(session: Session, actor: Actor) -> str | None:
    """The caller's department (None for an admin, who sees all); 403 for anyone else."""
    if actor.is_admin:
        return None
    if actor.role == "operator":
        department = department_of(session, actor)
        if department is not None:
            return department
    raise PermissionDenied("the robot factory is for bank operators and admins")


def ensure_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only an admin deploys, rolls back, enables or disables robots")


def scope(stmt: Select, column, department: str | None) -> Select:
    """Rows of the caller's department only (``department`` None: every one)."""
    return stmt if department is None else stmt.where(column == department)


def ensure_sees(department: str | None, row_department: str, what: str) -> None:
    if department is not None and department != row_department:
        raise NotFound(f"{what} not found")
