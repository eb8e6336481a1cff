"""Bank acceptance bills: a dealer asks for one to pay its OEM for a batch of cars; the bank
checks the risk signals, the line and the margin, freezes the margin and issues the bill.

Issuing is one ledger batch (``fp:bill<id>:issue``): the margin missing from the dealer's free
margin is moved in from its deposit (``fp:bill<id>:topup``), then the bill's margin is frozen by
a hold from the margin account to the bill's account (``fp:bill<id>:margin``). The line is drawn
by the bill's amount in the same transaction, on the locked line.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.floorplan import accounts, risk_port, rules
from backend.floorplan.models import Bill, CreditLine
from backend.floorplan.service import credit
from backend.ledger.service import TransferSpec
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
)
from backend.platform.money import parse_money
from backend.platform.permissions import ensure_role

ZERO = Decimal("0.00")


def _dealer_of(actor: Actor, dealer_org_id: int | None) -> int:
    if actor.role == "dealer":
        if dealer_org_id not in (None, actor.org_id):
            raise NotFound("dealer not found", code="dealer_not_found")
        return actor.org_id
    ensure_role(actor, "rm")
    if dealer_org_id is None:
        raise BusinessRuleViolation("dealer_id is required", code="dealer_required")
    return dealer_org_id


def request_bill(
    session: Session,
    actor: Actor,
    *,
    amount: Decimal | str,
    term_months: int,
    dealer_org_id: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Bill:
    """The dealer (or its RM for it) asks for a bill payable to the dealer's OEM."""
    now = now or utcnow()
    dealer_id = _dealer_of(actor, dealer_org_id)
    value = parse_money(amount, field="amount", positive=True)
    rules.validate_choice(term_months, rules.BILL_TERMS, "term_months", "invalid_term")
    line = session.scalar(select(CreditLine).where(CreditLine.dealer_org_id == dealer_id))
    if line is None:
        raise BusinessRuleViolation("the dealer has no credit line", code="no_credit_line")
    if line.status != "active":
        raise BusinessRuleViolation("the credit line is suspended", code="credit_line_suspended")
    if value > credit.available(line):  # checked again, on the locked line, at issuance
        raise BusinessRuleViolation(
            "the amount exceeds the available credit line",
            code="credit_line_exceeded",
            details={"available": str(credit.available(line)), "requested": str(value)},
        )
    bill = Bill(
        bill_no=f"REQ-{uuid.uuid4().hex}",  # replaced once the id is known
        dealer_org_id=dealer_id,
        oem_org_id=line.oem_org_id,
        credit_line_id=line.id,
        amount=value,
        margin_ratio_bp=line.margin_ratio_bp,
        margin_amount=rules.share(value, line.margin_ratio_bp),
        term_months=term_months,
        status="requested",
        note=note,
        requested_at=now,
        requested_by_user_id=actor.user_id,
        outstanding=ZERO,
        advance_outstanding=ZERO,
        shortfall=ZERO,
    )
    session.add(bill)
    session.flush()
    bill.bill_no = f"BA{now:%Y%m%d}{bill.id:08d}"
    audit.record(
        session,
        actor,
        "floorplan.bill_requested",
        "fp_bill",
        bill.id,
        after={"bill_no": bill.bill_no, "amount": value, "term_months": term_months},
    )
    return bill


def _locked_bill(session: Session, bill_id: int) -> Bill:
    bill = session.get(Bill, bill_id, with_for_update=True, populate_existing=True)
    if bill is None:
        raise NotFound("bill not found", code="bill_not_found")
    return bill


def issue_bill(
    session: Session, actor: Actor, bill_id: int, *, now: datetime | None = None
) -> Bill:
    """Bank staff issue a requested bill: risk check, line draw, margin frozen, bill issued."""
    ensure_role(actor, "rm", "approver")
    now = now or utcnow()
    bill = session.get(Bill, bill_id)
    if bill is None:
        raise NotFound("bill not found", code="bill_not_found")
    risk_port.ensure_no_blocking_signal(session, actor, bill.dealer_org_id)
    line = credit.lock_line(session, bill.dealer_org_id)
    bill = _locked_bill(session, bill_id)
    if bill.status != "requested":
        raise Conflict(f"the bill is already {bill.status}", code="bill_not_requested")
    credit.draw(line, bill.amount)
    margin = rules.share(bill.amount, line.margin_ratio_bp)
    account = accounts.open_bill_account(session, actor, bill.id, bill.bill_no, now)
    balances = ledger.locked_balances(session, line.deposit_account_id, line.margin_account_id)
    topup = max(ZERO, margin - balances[line.margin_account_id].available)
    specs = []
    if topup > 0:
        specs.append(
            TransferSpec.single(
                f"fp:bill{bill.id}:topup",
                line.deposit_account_id,
                line.margin_account_id,
                topup,
                "fp_margin_topup",
                reference=bill.bill_no,
            )
        )
    if margin > 0:
        specs.append(
            TransferSpec.hold(
                accounts.bill_margin_hold_id(bill.id),
                line.margin_account_id,
                account.id,
                margin,
                "fp_bill_margin",
                reference=bill.bill_no,
            )
        )
    if specs:
        with ledger.named_shortfalls(accounts.shortfall_names(line)):
            ledger.execute_batch(session, actor, specs, batch_id=f"fp:bill{bill.id}:issue", now=now)
    before = {"status": bill.status}
    bill.status = "issued"
    bill.margin_ratio_bp = line.margin_ratio_bp
    bill.margin_amount = margin
    bill.issued_at = now
    bill.issued_by_user_id = actor.user_id
    bill.issue_date = now.date()
    bill.maturity_date = rules.add_months(bill.issue_date, bill.term_months)
    bill.outstanding = bill.amount
    bill.ledger_account_id = account.id
    audit.record(
        session,
        actor,
        "floorplan.bill_issued",
        "fp_bill",
        bill.id,
        before=before,
        after={
            "status": "issued",
            "amount": bill.amount,
            "margin": margin,
            "margin_topup": topup,
            "maturity_date": bill.maturity_date,
            "line_used": line.used_amount,
        },
    )
    return bill


def reject_bill(session: Session, actor: Actor, bill_id: int, *, note: str | None = None) -> Bill:
    ensure_role(actor, "rm", "approver")
    bill = _locked_bill(session, bill_id)
    if bill.status != "requested":
        raise Conflict(f"the bill is already {bill.status}", code="bill_not_requested")
    bill.status = "rejected"
    bill.decision_note = note
    audit.record(
        session,
        actor,
        "floorplan.bill_rejected",
        "fp_bill",
        bill.id,
        before={"status": "requested"},
        after={"status": "rejected", "note": note},
    )
    return bill
