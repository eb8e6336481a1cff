"""Who may see and act on which factoring object.

- A payable part is seen by its debtor (the core enterprise), its issuer (the supplier who
  invoiced), its holder and the supplier who transferred it to the holder; bank staff see all.
  Another supplier, or another core enterprise, gets "not found".
- An agreement is seen by its core enterprise and the suppliers admitted to it.
- Acting: the holder finances, splits and transfers; the debtor confirms and pays; bank staff
  (rm, approver, admin) make agreements, admit suppliers and book recourse.
"""

from __future__ import annotations

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from backend.factoring.models import Agreement, Payable, Supplier
from backend.platform.context import Actor
from backend.platform.errors import NotFound, PermissionDenied
from backend.platform.permissions import can_see, ensure_role, ensure_visible

BANK_ROLES = ("rm", "approver")  # admin always passes ensure_role


def payable_orgs(p: Payable) -> list[int | None]:
    return [p.debtor_org_id, p.creditor_org_id, p.holder_org_id, p.transferred_from_org_id]


def scope_payables(stmt: Select, actor: Actor) -> Select:
    if actor.is_bank_staff:
        return stmt
    if actor.org_id is None:
        return stmt.where(Payable.id.is_(None))
    org = actor.org_id
    return stmt.where(
        or_(
            Payable.debtor_org_id == org,
            Payable.creditor_org_id == org,
            Payable.holder_org_id == org,
            Payable.transferred_from_org_id == org,
        )
    )


def get_payable(session: Session, actor: Actor, payable_id: int, *, lock: bool = False) -> Payable:
    if lock:
        payable = session.get(Payable, payable_id, with_for_update=True, populate_existing=True)
    else:
        payable = session.get(Payable, payable_id)
    ensure_visible(actor, payable, payable_orgs(payable) if payable else [], "payable")
    return payable


def ensure_org_user(actor: Actor, org_id: int, action: str) -> None:
    """Only the enterprise's own users do this (403 for others who may see the payable)."""
    if actor.role != "enterprise" or actor.org_id != org_id:
        raise PermissionDenied(f"only the {action} may do this", code=f"not_the_{action}")


def scope_agreements(stmt: Select, actor: Actor) -> Select:
    if actor.is_bank_staff:
        return stmt
    if actor.org_id is None:
        return stmt.where(Agreement.id.is_(None))
    admitted = exists().where(
        Supplier.agreement_id == Agreement.id, Supplier.org_id == actor.org_id
    )
    return stmt.where(or_(Agreement.core_org_id == actor.org_id, admitted))


def get_agreement(session: Session, actor: Actor, agreement_id: int) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    visible = agreement is not None and (
        can_see(actor, [agreement.core_org_id])
        or session.scalar(
            select(Supplier.id).where(
                Supplier.agreement_id == agreement.id, Supplier.org_id == actor.org_id
            )
        )
        is not None
    )
    if not visible:
        raise NotFound("agreement not found", code="agreement_not_found")
    return agreement


def ensure_bank(actor: Actor) -> None:
    ensure_role(actor, *BANK_ROLES)
