"""Recourse collection: bank staff (or the maturity job) collect a recourse claim from the
supplier's deposit account onto its recourse account, all of what is outstanding, what the
deposit holds when it is short, or an amount given; the claim closes (``collected``) when
nothing is outstanding. The part stays OVERDUE: the core enterprise still owes it, and a late
payment repays the rest of the claim and gives the supplier back what it paid."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.factoring import access, accounts
from backend.factoring.models import Payable, RecourseClaim
from backend.factoring.service.settlement import _org_accounts, each_in_savepoint
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound
from backend.platform.money import parse_money

ZERO = Decimal("0.00")


def collect_recourse(
    session: Session,
    actor: Actor,
    claim_id: int,
    *,
    amount: Decimal | str | None = None,
    now: datetime | None = None,
) -> RecourseClaim:
    """Collect from the supplier's deposit: ``amount`` (at most what is outstanding and what
    the deposit has available), or without one as much of the outstanding as it has. Transfer
    id ``fct:rcol:<claim>:<collection number>``: a retry of the same collection applies once."""
    access.ensure_bank(actor)
    now = now or utcnow()
    requested = None if amount is None else parse_money(amount, field="amount", positive=True)
    claim = session.get(RecourseClaim, claim_id)
    if claim is None:
        raise NotFound("recourse claim not found", code="recourse_claim_not_found")
    # the lock order of settlement: the part, then the claim
    session.get(Payable, claim.payable_id, with_for_update=True, populate_existing=True)
    claim = session.get(RecourseClaim, claim_id, with_for_update=True, populate_existing=True)
    if claim.status != "open":
        raise Conflict(
            f"the recourse claim is {claim.status}",
            code="recourse_closed",
            details={"status": claim.status},
        )
    outstanding = claim.outstanding
    if requested is not None and requested > outstanding:
        raise BusinessRuleViolation(
            "more than is outstanding on the claim",
            code="exceeds_outstanding",
            details={"outstanding": str(outstanding), "requested": str(requested)},
        )
    supplier = _org_accounts(session, actor, claim.supplier_org_id)
    available = ledger.balance_of(supplier["deposit"]).available
    value = requested if requested is not None else min(outstanding, available)
    if value <= 0 or value > available:
        raise BusinessRuleViolation(
            "the supplier's deposit does not cover the collection",
            code="insufficient_deposit",
            details={"available": str(max(available, ZERO)), "requested": str(value)},
        )
    number = claim.collections + 1
    moved = ledger.transfer(
        session,
        actor,
        transfer_id=accounts.recourse_collection_id(claim.id, number),
        debit_account_id=supplier["deposit"].id,
        credit_account_id=supplier["recourse"].id,
        amount=value,
        code="fct_recourse_collect",
        reference=f"recourse claim {claim.id} #{number}",
        now=now,
    )
    before = {"collected": claim.collected, "status": claim.status}
    claim.collected += value
    claim.collections = number
    if claim.outstanding == 0:
        claim.status = "collected"
        claim.closed_at = now
    audit.record(
        session,
        actor,
        "factoring.recourse_collected",
        "fct_recourse_claim",
        claim.id,
        before=before,
        after={
            "amount": value,
            "collected": claim.collected,
            "outstanding": claim.outstanding,
            "status": claim.status,
            "transfer_id": moved.transfer_id,
        },
    )
    return claim


def collect_recourse_due(session: Session, actor: Actor, *, now: datetime | None = None) -> dict:
    """The maturity job: collect each open claim from a supplier deposit that has money."""
    now = now or utcnow()
    open_ids = session.scalars(
        select(RecourseClaim.id).where(RecourseClaim.status == "open").order_by(RecourseClaim.id)
    ).all()
    collected = each_in_savepoint(
        session, open_ids, lambda claim_id: collect_recourse(session, actor, claim_id, now=now)
    )
    return {"recourse_collected": collected}
