"""Financing a confirmed part, decided in seconds by rules (E秒融资).

The holder applies; the rules look at the agreement (active, within its dates), the limits
(the agreement's and the holder's counterparty limit against their outstanding advances), the
part (CONFIRMED, not matured, never financed: the bank-wide claim) and risk (no open hard or
strong signal on the holder or the core enterprise). Every application is kept, with every
reason it was refused. Approved: the claim is inserted (unique: two transactions can never both
finance one part of one invoice), the advance less interest and fee is paid from the bank's
funding account to the holder's deposit account, and the part is FINANCED.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import ledger
from backend.factoring import access, accounts, risk_port, rules
from backend.factoring.models import Agreement, Application, FinancingClaim, Payable, Supplier
from backend.identity.models import Org
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor

ZERO = Decimal("0.00")
ALREADY = "invoice_already_financed"


def _reason(code: str, message: str, **details) -> dict:
    return {"code": code, "message": message, **details}


def _claimed(session: Session, payable: Payable) -> bool:
    key = rules.claim_key(payable.invoice_key, payable.part_no)
    return (
        session.scalar(select(FinancingClaim.id).where(FinancingClaim.claim_key == key)) is not None
    )


def _state_reasons(session: Session, payable: Payable, today) -> list[dict]:
    if payable.status != "CONFIRMED" or _claimed(session, payable):
        if payable.status == "REGISTERED":
            return [_reason("payable_not_confirmed", "the core enterprise has not confirmed it")]
        if payable.status in ("FINANCED",) or _claimed(session, payable):
            return [_reason(ALREADY, "this part of the invoice is already financed")]
        return [_reason("payable_not_financeable", f"a {payable.status} payable")]
    if payable.maturity_date <= today:
        return [_reason("payable_matured", "the payable has matured")]
    return []


def _agreement_reasons(agreement: Agreement, today) -> list[dict]:
    if agreement.status != "active":
        return [_reason("agreement_inactive", f"the agreement is {agreement.status}")]
    if not agreement.valid_from <= today <= agreement.valid_to:
        return [_reason("agreement_expired", "the agreement is not valid today")]
    return []


def _limit_reasons(agreement: Agreement, supplier: Supplier | None, advance: Decimal) -> list:
    out = []
    headroom = agreement.limit_amount - agreement.financed_outstanding
    if advance > headroom:
        out.append(
            _reason(
                "agreement_limit_exceeded",
                "the core enterprise's factoring limit is used up",
                headroom=str(max(ZERO, headroom)),
            )
        )
    if supplier is None:
        out.append(_reason("supplier_not_admitted", "the holder is not admitted to the chain"))
    elif advance > supplier.counterparty_limit - supplier.financed_outstanding:
        out.append(
            _reason(
                "counterparty_limit_exceeded",
                "the holder's counterparty limit is used up",
                headroom=str(
                    max(ZERO, supplier.counterparty_limit - supplier.financed_outstanding)
                ),
            )
        )
    return out


def apply_for_financing(
    session: Session, actor: Actor, payable_id: int, *, now: datetime | None = None
) -> Application:
    """The holder applies to finance a part; the decision is made now and kept."""
    now = now or utcnow()
    today = now.date()
    payable = access.get_payable(session, actor, payable_id)
    access.ensure_org_user(actor, payable.holder_org_id, "holder")
    # one lock order for every path that changes a financed part: agreement, part, supplier
    agreement = session.get(
        Agreement, payable.agreement_id, with_for_update=True, populate_existing=True
    )
    payable = access.get_payable(session, actor, payable_id, lock=True)
    supplier = session.scalar(
        select(Supplier)
        .where(Supplier.agreement_id == agreement.id, Supplier.org_id == payable.holder_org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    pricing = rules.price(
        payable.amount,
        advance_rate_bp=agreement.advance_rate_bp,
        interest_rate_bp=agreement.interest_rate_bp,
        fee_rate_bp=agreement.fee_rate_bp,
        today=today,
        maturity=payable.maturity_date,
    )
    reasons = _state_reasons(session, payable, today)
    reasons += _agreement_reasons(agreement, today)
    reasons += _limit_reasons(agreement, supplier, pricing.advance)
    for org_id, party in ((payable.holder_org_id, "holder"), (payable.debtor_org_id, "core")):
        blocked = risk_port.blocking_reason(session, org_id, party)
        if blocked:
            reasons.append(blocked)
    if not reasons and pricing.disbursed <= 0:
        reasons.append(_reason("advance_too_small", "interest and fee exceed the advance"))
    application = Application(
        payable_id=payable.id,
        agreement_id=agreement.id,
        applicant_org_id=payable.holder_org_id,
        debtor_org_id=payable.debtor_org_id,
        applicant_user_id=actor.user_id,
        amount=payable.amount,
        advance_amount=pricing.advance,
        interest=pricing.interest,
        fee=pricing.fee,
        disbursed=pricing.disbursed,
        days=pricing.days,
        status="refused" if reasons else "approved",
        reasons=reasons,
        created_at=now,
    )
    session.add(application)
    session.flush()
    if not reasons:
        _claim_and_disburse(session, actor, application, payable, agreement, supplier, now)
    audit.record(
        session,
        actor,
        "factoring.application_decided",
        "fct_application",
        application.id,
        after={
            "payable_id": payable.id,
            "status": application.status,
            "reasons": [r["code"] for r in application.reasons],
            "disbursed": application.disbursed,
        },
    )
    return application


def _claim_and_disburse(session, actor, application, payable, agreement, supplier, now) -> None:
    claim = FinancingClaim(
        claim_key=rules.claim_key(payable.invoice_key, payable.part_no),
        invoice_key=payable.invoice_key,
        payable_id=payable.id,
        application_id=application.id,
        amount=payable.amount,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(claim)
            session.flush()
    except IntegrityError:  # another transaction won the claim first
        application.status = "refused"
        application.reasons = [_reason(ALREADY, "this part of the invoice is already financed")]
        return
    holder = session.get(Org, payable.holder_org_id)
    deposit = accounts.enterprise_accounts(session, actor, holder.id, holder.name)["deposit"]
    funding = accounts.bank_accounts(session, actor)["funding"]
    moved = ledger.transfer(
        session,
        actor,
        transfer_id=accounts.advance_id(payable.id),
        debit_account_id=funding.id,
        credit_account_id=deposit.id,
        amount=application.disbursed,
        code="fct_advance",
        reference=f"{payable.invoice_no}#{payable.part_no}",
        now=now,
    )
    application.transfer_id = moved.transfer_id
    agreement.financed_outstanding += application.advance_amount
    supplier.financed_outstanding += application.advance_amount
    payable.status = rules.move(payable.status, "FINANCED")
    payable.financed_at = payable.updated_at = now
    audit.record(
        session,
        actor,
        "factoring.payable_financed",
        "fct_payable",
        payable.id,
        before={"status": "CONFIRMED"},
        after={
            "status": "FINANCED",
            "application_id": application.id,
            "disbursed": application.disbursed,
        },
    )


def approved_application(session: Session, payable_id: int) -> Application | None:
    return session.scalar(
        select(Application)
        .join(FinancingClaim, FinancingClaim.application_id == Application.id)
        .where(FinancingClaim.payable_id == payable_id)
    )
