"""Agreements and their suppliers (bank staff), and money paid in at the counter."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.factoring import accounts, rules
from backend.factoring.access import ensure_bank
from backend.factoring.models import Agreement, Supplier
from backend.identity.models import Org
from backend.ledger.models import Transfer
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from backend.platform.money import parse_money
from backend.platform.permissions import ensure_role

ZERO = Decimal("0.00")


def enterprise_org(session: Session, org_id: int, what: str = "enterprise") -> Org:
    org = session.get(Org, org_id) if isinstance(org_id, int) else None
    if org is None or org.kind != "enterprise":
        raise NotFound(f"{what} not found", code=f"{what}_not_found")
    return org


def create_agreement(
    session: Session,
    actor: Actor,
    *,
    core_org_id: int,
    limit: Decimal | str,
    advance_rate: str,
    interest_rate: str,
    fee_rate: str,
    with_recourse: bool,
    valid_from: date,
    valid_to: date,
    code: str | None = None,
    now: datetime | None = None,
) -> Agreement:
    """A core enterprise's agreement; at most one is active per core enterprise."""
    ensure_bank(actor)
    now = now or utcnow()
    core = enterprise_org(session, core_org_id, "core_enterprise")
    value = parse_money(limit, field="limit", positive=True)
    advance_bp = rules.rate_bp(advance_rate, "advance_rate")
    if advance_bp == 0:
        raise ValidationFailed("advance_rate must be above 0", details={"advance_rate": ["> 0"]})
    interest_bp = rules.rate_bp(interest_rate, "interest_rate", maximum=rules.BP // 4)
    fee_bp = rules.rate_bp(fee_rate, "fee_rate", maximum=rules.BP // 10)
    if valid_to <= valid_from:
        raise ValidationFailed(
            "valid_to must be after valid_from", details={"valid_to": ["after valid_from"]}
        )
    active = session.scalar(
        select(Agreement.id).where(Agreement.core_org_id == core.id, Agreement.status == "active")
    )
    if active is not None:
        raise Conflict(
            "the core enterprise already has an active agreement",
            code="agreement_exists",
            details={"agreement_id": active},
        )
    agreement = Agreement(
        code=code or f"FA-{core.code}-{uuid.uuid4().hex[:8].upper()}",
        core_org_id=core.id,
        limit_amount=value,
        financed_outstanding=ZERO,
        advance_rate_bp=advance_bp,
        interest_rate_bp=interest_bp,
        fee_rate_bp=fee_bp,
        with_recourse=bool(with_recourse),
        valid_from=valid_from,
        valid_to=valid_to,
        status="active",
        created_by_user_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(agreement)
    session.flush()
    audit.record(
        session,
        actor,
        "factoring.agreement_created",
        "fct_agreement",
        agreement.id,
        after=agreement_view(agreement),
    )
    return agreement


def agreement_view(a: Agreement) -> dict:
    return {
        "code": a.code,
        "core_org_id": a.core_org_id,
        "limit": a.limit_amount,
        "advance_rate_bp": a.advance_rate_bp,
        "interest_rate_bp": a.interest_rate_bp,
        "fee_rate_bp": a.fee_rate_bp,
        "with_recourse": a.with_recourse,
        "valid_from": a.valid_from,
        "valid_to": a.valid_to,
        "status": a.status,
    }


def set_agreement_status(
    session: Session, actor: Actor, agreement_id: int, status: str, *, now: datetime | None = None
) -> Agreement:
    ensure_bank(actor)
    if status not in rules.AGREEMENT_STATUSES:
        raise ValidationFailed("unknown status", details={"status": list(rules.AGREEMENT_STATUSES)})
    agreement = session.get(Agreement, agreement_id, with_for_update=True)
    if agreement is None:
        raise NotFound("agreement not found", code="agreement_not_found")
    if agreement.status == "closed":
        raise Conflict("a closed agreement stays closed", code="illegal_transition")
    before = agreement.status
    agreement.status = status
    agreement.updated_at = now or utcnow()
    audit.record(
        session,
        actor,
        "factoring.agreement_status",
        "fct_agreement",
        agreement.id,
        before={"status": before},
        after={"status": status},
    )
    return agreement


def admit_supplier(
    session: Session,
    actor: Actor,
    agreement_id: int,
    *,
    org_id: int,
    counterparty_limit: Decimal | str,
    now: datetime | None = None,
) -> Supplier:
    """Admit a supplier to the chain, or set its counterparty limit (bank staff)."""
    ensure_bank(actor)
    now = now or utcnow()
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound("agreement not found", code="agreement_not_found")
    org = enterprise_org(session, org_id, "supplier")
    if org.id == agreement.core_org_id:
        raise BusinessRuleViolation(
            "the core enterprise is not its own supplier", code="supplier_is_core"
        )
    value = parse_money(counterparty_limit, field="counterparty_limit", positive=True)
    supplier = find_supplier(session, agreement.id, org.id)
    before = None
    if supplier is None:
        supplier = _new_supplier(agreement.id, org.id, 1, value, None, now)
        session.add(supplier)
    else:
        before = {"counterparty_limit": supplier.counterparty_limit}
        supplier.counterparty_limit = value
    session.flush()
    audit.record(
        session,
        actor,
        "factoring.supplier_admitted",
        "fct_supplier",
        supplier.id,
        before=before,
        after={"agreement_id": agreement.id, "org_id": org.id, "counterparty_limit": value},
    )
    return supplier


def find_supplier(session: Session, agreement_id: int, org_id: int) -> Supplier | None:
    return session.scalar(
        select(Supplier).where(Supplier.agreement_id == agreement_id, Supplier.org_id == org_id)
    )


def _new_supplier(
    agreement_id: int, org_id: int, tier: int, limit: Decimal, via: int | None, now: datetime
) -> Supplier:
    return Supplier(
        agreement_id=agreement_id,
        org_id=org_id,
        tier=tier,
        counterparty_limit=limit,
        financed_outstanding=ZERO,
        admitted_via_payable_id=via,
        admitted_at=now,
    )


def admit_tier2(
    session: Session,
    actor: Actor,
    agreement_id: int,
    org: Org,
    limit: Decimal,
    via_payable_id: int,
    now: datetime,
) -> Supplier:
    """A payable transferred to an org not yet in the chain admits it at tier 2, with the
    transferring supplier's counterparty limit (bank staff may change it)."""
    supplier = find_supplier(session, agreement_id, org.id)
    if supplier is not None:
        return supplier
    supplier = _new_supplier(agreement_id, org.id, 2, limit, via_payable_id, now)
    session.add(supplier)
    session.flush()
    audit.record(
        session,
        actor,
        "factoring.supplier_admitted",
        "fct_supplier",
        supplier.id,
        after={"agreement_id": agreement_id, "org_id": org.id, "tier": 2, "via": via_payable_id},
    )
    return supplier


def deposit(
    session: Session,
    actor: Actor,
    org_id: int,
    amount: Decimal | str,
    *,
    reference: str | None = None,
    transfer_id: str | None = None,
) -> Transfer:
    """A teller books money paid in for an enterprise onto its factoring deposit account."""
    ensure_role(actor, "teller")
    value = parse_money(amount, field="amount", positive=True)
    org = enterprise_org(session, org_id)
    mine = accounts.enterprise_accounts(session, actor, org.id, org.name)
    cash = accounts.bank_accounts(session, actor)["cash"]
    return ledger.transfer(
        session,
        actor,
        transfer_id=transfer_id or f"fct:cash:{org.id}:{uuid.uuid4().hex[:20]}",
        debit_account_id=cash.id,
        credit_account_id=mine["deposit"].id,
        amount=value,
        code="fct_cash_deposit",
        reference=reference,
    )
