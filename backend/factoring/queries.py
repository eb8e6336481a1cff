"""The factoring read side: lists and objects, each scoped to what the caller may see."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.factoring import access, accounts
from backend.factoring.models import Agreement, Application, Payable, RecourseClaim, Supplier
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import can_see


def list_payables(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    role: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """``role``: ``held`` (parts the caller holds), ``owed`` (the caller is the debtor)."""
    stmt = access.scope_payables(select(Payable), actor)
    if status:
        stmt = stmt.where(Payable.status == status)
    if role == "held":
        stmt = stmt.where(Payable.holder_org_id == actor.org_id)
    elif role == "owed":
        stmt = stmt.where(Payable.debtor_org_id == actor.org_id)
    return paginate(session, stmt, Payable.id, limit=limit, cursor=cursor, descending=True)


def get_payable(session: Session, actor: Actor, payable_id: int) -> Payable:
    return access.get_payable(session, actor, payable_id)


def parts_of(session: Session, actor: Actor, payable: Payable) -> list[Payable]:
    """The invoice's parts the caller may see (all of them for the debtor and bank staff)."""
    stmt = access.scope_payables(
        select(Payable).where(Payable.invoice_key == payable.invoice_key), actor
    )
    return list(session.scalars(stmt.order_by(Payable.part_no)))


def list_agreements(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    stmt = access.scope_agreements(select(Agreement), actor)
    return paginate(session, stmt, Agreement.id, limit=limit, cursor=cursor)


def get_agreement(session: Session, actor: Actor, agreement_id: int) -> Agreement:
    return access.get_agreement(session, actor, agreement_id)


def list_suppliers(
    session: Session,
    actor: Actor,
    agreement_id: int,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """The core enterprise and bank staff see the chain; a supplier sees only its own row."""
    agreement = access.get_agreement(session, actor, agreement_id)
    stmt = select(Supplier).where(Supplier.agreement_id == agreement.id)
    if not can_see(actor, [agreement.core_org_id]):
        stmt = stmt.where(Supplier.org_id == actor.org_id)
    return paginate(session, stmt, Supplier.id, limit=limit, cursor=cursor)


def list_applications(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    payable_id: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Bank staff: all; an enterprise: its own applications and those against it as debtor."""
    stmt = select(Application)
    if not actor.is_bank_staff:
        org = actor.org_id if actor.org_id is not None else -1
        stmt = stmt.where(
            (Application.applicant_org_id == org) | (Application.debtor_org_id == org)
        )
    if status:
        stmt = stmt.where(Application.status == status)
    if payable_id is not None:
        stmt = stmt.where(Application.payable_id == payable_id)
    return paginate(session, stmt, Application.id, limit=limit, cursor=cursor, descending=True)


def get_application(session: Session, actor: Actor, application_id: int) -> Application:
    application = session.get(Application, application_id)
    if application is None or not can_see(
        actor, [application.applicant_org_id, application.debtor_org_id]
    ):
        raise NotFound("application not found", code="application_not_found")
    return application


def deposit_balance(session: Session, actor: Actor, org_id: int):
    """The enterprise's factoring deposit balance (the caller's own org, or bank staff)."""
    if not can_see(actor, [org_id]):
        raise NotFound("enterprise not found", code="enterprise_not_found")
    account = session.scalar(
        select(ledger.Account).where(ledger.Account.code == accounts_code(org_id))
    )
    return ledger.balance_of(account) if account is not None else None


def accounts_code(org_id: int) -> str:
    return ledger.account_code(accounts.AREA, f"org{org_id}", "deposit")


def list_recourse_claims(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Bank staff: all recourse claims; an enterprise: the claims on itself (as the supplier)."""
    stmt = select(RecourseClaim)
    if not actor.is_bank_staff:
        org = actor.org_id if actor.org_id is not None else -1
        stmt = stmt.where(RecourseClaim.supplier_org_id == org)
    if status:
        stmt = stmt.where(RecourseClaim.status == status)
    return paginate(session, stmt, RecourseClaim.id, limit=limit, cursor=cursor, descending=True)


def get_recourse_claim(session: Session, actor: Actor, claim_id: int) -> RecourseClaim:
    claim = session.get(RecourseClaim, claim_id)
    if claim is None or not can_see(actor, [claim.supplier_org_id]):
        raise NotFound("recourse claim not found", code="recourse_claim_not_found")
    return claim
