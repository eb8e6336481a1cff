"""Who may see which risk data.

Risk roles are admin, approver and rm.  Approvers and admin see every enterprise; a
relationship manager sees only the enterprises assigned to them (``rm_user_id``): another
RM's enterprise, and its signals, are *not found* (404), as the permission convention says.
Every other role is *forbidden* (403) from risk data altogether."""

from __future__ import annotations

from sqlalchemy import Select
from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.permissions import ensure_role
from backend.risk.models import Enterprise, RiskSignal

READERS = ("approver", "rm")  # admin always passes ensure_role
CHECKERS = ("approver",)
MAKERS = ("rm", "approver")


def ensure_reader(actor: Actor) -> None:
    ensure_role(actor, *READERS)


def sees_all(actor: Actor) -> bool:
    return actor.is_admin or actor.role == "approver"


def can_see_enterprise(actor: Actor, enterprise: Enterprise | None) -> bool:
    if enterprise is None:
        return False
    return sees_all(actor) or (actor.role == "rm" and enterprise.rm_user_id == actor.user_id)


def visible_enterprise(session: Session, actor: Actor, enterprise_id: int) -> Enterprise:
    ensure_reader(actor)
    enterprise = session.get(Enterprise, enterprise_id)
    if not can_see_enterprise(actor, enterprise):
        raise NotFound("enterprise not found", code="risk_enterprise_not_found")
    return enterprise


def visible_signal(session: Session, actor: Actor, signal_id: int) -> tuple[RiskSignal, Enterprise]:
    ensure_reader(actor)
    signal = session.get(RiskSignal, signal_id)
    enterprise = session.get(Enterprise, signal.enterprise_id) if signal else None
    if signal is None or not can_see_enterprise(actor, enterprise):
        raise NotFound("signal not found", code="risk_signal_not_found")
    return signal, enterprise


def scope_enterprises(actor: Actor, stmt: Select) -> Select:
    """Restrict a query joined to Enterprise to what the actor may see."""
    ensure_reader(actor)
    if sees_all(actor):
        return stmt
    return stmt.where(Enterprise.rm_user_id == actor.user_id)
