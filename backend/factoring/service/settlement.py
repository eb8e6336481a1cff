"""Maturity: the core enterprise pays a part into its collection account (from its deposit, on
its own or by the maturity job when the deposit covers it); PAID; settlement pays the bank its
advance (interest and fee were taken up front and are booked to income now) and the rest to the
holder; SETTLED. A part unpaid after its maturity day is OVERDUE, reported to risk as
``payable_overdue`` on the core enterprise at 1, 30 and 90 days. With recourse, bank staff may
book the bank's claim on the supplier for an overdue financed part.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.factoring import access, accounts, risk_port, rules
from backend.factoring.models import Agreement, Payable, RecourseClaim, Supplier
from backend.factoring.service.financing import approved_application
from backend.identity.models import Org
from backend.ledger.service import TransferSpec
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")
PAYABLE_FROM = ("CONFIRMED", "FINANCED", "OVERDUE")


def _org_accounts(session: Session, actor: Actor, org_id: int) -> dict:
    org = session.get(Org, org_id)
    return accounts.enterprise_accounts(session, actor, org.id, org.name)


def _transition(session, actor, payable, to, now, **after) -> None:
    before = payable.status
    payable.status = rules.move(before, to)
    payable.updated_at = now
    audit.record(
        session,
        actor,
        f"factoring.payable_{to.lower()}",
        "fct_payable",
        payable.id,
        before={"status": before},
        after={"status": to, **after},
    )


def pay_payable(
    session: Session, actor: Actor, payable_id: int, *, now: datetime | None = None
) -> Payable:
    """The core enterprise pays a part from its deposit account; it is then settled."""
    now = now or utcnow()
    payable = access.get_payable(session, actor, payable_id)
    if actor.role != "admin" or actor.user_id is not None:  # the job acts as the system
        access.ensure_org_user(actor, payable.debtor_org_id, "debtor")
    # the lock order of financing: agreement, then part (settlement updates the agreement)
    session.get(Agreement, payable.agreement_id, with_for_update=True)
    payable = access.get_payable(session, actor, payable_id, lock=True)
    if payable.status not in PAYABLE_FROM:
        rules.move(payable.status, "PAID")  # 409 illegal_transition
    core = _org_accounts(session, actor, payable.debtor_org_id)
    collection = accounts.collection_account(session, actor, payable.id)
    with ledger.named_shortfalls({core["deposit"].id: "deposit"}):
        ledger.transfer(
            session,
            actor,
            transfer_id=accounts.payment_id(payable.id),
            debit_account_id=core["deposit"].id,
            credit_account_id=collection.id,
            amount=payable.amount,
            code="fct_core_payment",
            reference=f"{payable.invoice_no}#{payable.part_no}",
            now=now,
        )
    payable.paid_at = now
    _transition(session, actor, payable, "PAID", now, amount=payable.amount)
    settle_payable(session, actor, payable, now=now)
    return payable


def settle_payable(session: Session, actor: Actor, payable: Payable, *, now: datetime) -> None:
    """Share a paid part's collection out: advance to the bank (with a recourse claim: what is
    outstanding to the supplier's recourse account, what the supplier already paid back to its
    deposit), interest and fee to income, the rest to the holder. One ledger batch; the
    transfer ids make a retry apply once."""
    application = approved_application(session, payable.id)
    collection = accounts.collection_account(session, actor, payable.id)
    holder_to = _org_accounts(session, actor, payable.holder_org_id)["deposit"]
    specs = []
    ref = f"{payable.invoice_no}#{payable.part_no}"
    rest = payable.amount
    if application is not None:
        bank = accounts.bank_accounts(session, actor)
        # open, or collected from the supplier (in part or in full): what the supplier paid
        # goes back to it, the rest of the claim is repaid (the part is locked: a collection
        # waits for this settlement, or this settlement for it)
        claim = session.scalar(
            select(RecourseClaim)
            .where(
                RecourseClaim.payable_id == payable.id,
                RecourseClaim.status.in_(("open", "collected")),
            )
            .with_for_update()
        )
        earned = application.interest + application.fee
        legs = [("bank", bank["funding"].id, application.disbursed)]
        if claim is not None:  # the bank's claim sits on the supplier's recourse account
            supplier = _org_accounts(session, actor, claim.supplier_org_id)
            legs = [
                ("bank", supplier["recourse"].id, claim.outstanding),
                ("refund", supplier["deposit"].id, claim.collected),
            ]
            claim.status = "repaid"
            claim.closed_at = claim.closed_at or now
        legs.append(("income", bank["income"].id, earned))
        for leg, account_id, amount in legs:
            if amount > 0:
                specs.append(
                    TransferSpec.single(
                        accounts.settlement_id(payable.id, leg),
                        collection.id,
                        account_id,
                        amount,
                        f"fct_settle_{leg}",
                        reference=ref,
                    )
                )
        rest -= application.advance_amount
        _release_limits(session, payable, application)
    if rest > 0:
        specs.append(
            TransferSpec.single(
                accounts.settlement_id(payable.id, "holder"),
                collection.id,
                holder_to.id,
                rest,
                "fct_settle_holder",
                reference=ref,
            )
        )
    if specs:
        ledger.execute_batch(session, actor, specs, now=now)
    payable.settled_at = now
    _transition(session, actor, payable, "SETTLED", now, to_holder=rest)


def _release_limits(session: Session, payable: Payable, application) -> None:
    agreement = session.get(Agreement, payable.agreement_id, with_for_update=True)
    agreement.financed_outstanding -= application.advance_amount
    supplier = session.scalar(
        select(Supplier)
        .where(
            Supplier.agreement_id == agreement.id,
            Supplier.org_id == application.applicant_org_id,
        )
        .with_for_update()
    )
    if supplier is not None:
        supplier.financed_outstanding -= application.advance_amount


# --------------------------------------------------------------------------- jobs


def collect_due(session: Session, actor: Actor, *, now: datetime | None = None) -> dict:
    """At maturity, debit the core enterprise's deposit for each due part it can cover."""
    now = now or utcnow()
    due = session.scalars(
        select(Payable.id)
        .where(Payable.status.in_(PAYABLE_FROM), Payable.maturity_date <= now.date())
        .order_by(Payable.maturity_date, Payable.id)
    ).all()
    paid = each_in_savepoint(
        session, due, lambda payable_id: pay_payable(session, actor, payable_id, now=now)
    )
    return {"paid": paid, "unfunded": len(due) - paid}


def each_in_savepoint(session: Session, ids, step) -> int:
    """A job's loop: ``step(id)`` for each id in its own savepoint, so one that fails (a
    deposit short, logged if for another reason) leaves the others done; how many succeeded."""
    done = 0
    for object_id in ids:
        try:
            with session.begin_nested():
                step(object_id)
            done += 1
        except BusinessRuleViolation as exc:
            if exc.code != "insufficient_deposit":
                log.warning("factoring job: %s not done: %s", object_id, exc.code)
    return done


def mark_overdue(session: Session, actor: Actor, *, now: datetime | None = None) -> dict:
    """Parts unpaid after their maturity day become OVERDUE; each overdue part is reported to
    risk once per report day reached (1, 30, 90 days)."""
    now = now or utcnow()
    today = now.date()
    newly = 0
    for payable in session.scalars(
        select(Payable)
        .where(Payable.status.in_(("CONFIRMED", "FINANCED")), Payable.maturity_date < today)
        .with_for_update()
    ):
        payable.overdue_since = now
        _transition(session, actor, payable, "OVERDUE", now, maturity_date=payable.maturity_date)
        newly += 1
    reported = 0
    for payable in session.scalars(select(Payable).where(Payable.status == "OVERDUE")):
        days = (today - payable.maturity_date).days
        bucket = rules.overdue_bucket(days)
        if bucket is None or bucket <= payable.overdue_reported_days:
            continue
        risk_port.report_overdue(
            session,
            actor,
            core_org_id=payable.debtor_org_id,
            payable_id=payable.id,
            days_overdue=days,
            bucket=bucket,
            amount=payable.amount,
            now=now,
        )
        payable.overdue_reported_days = bucket
        reported += 1
    return {"overdue": newly, "reported": reported}


def book_recourse(
    session: Session, actor: Actor, payable_id: int, *, now: datetime | None = None
) -> RecourseClaim:
    """With recourse, for an OVERDUE financed part: the bank's claim (what it disbursed) moves
    from its funding account onto the supplier's recourse account, a receivable the bank
    collects from the supplier (``collect_recourse``). Settled if the core enterprise pays later."""
    access.ensure_bank(actor)
    now = now or utcnow()
    payable = access.get_payable(session, actor, payable_id, lock=True)
    agreement = session.get(Agreement, payable.agreement_id)
    application = approved_application(session, payable.id)
    if not agreement.with_recourse:
        raise BusinessRuleViolation("the agreement is without recourse", code="no_recourse")
    if payable.status != "OVERDUE" or application is None:
        raise Conflict(
            "recourse is for an overdue financed payable",
            code="illegal_transition",
            details={"status": payable.status, "to": "RECOURSE"},
        )
    existing = session.scalar(select(RecourseClaim).where(RecourseClaim.payable_id == payable.id))
    if existing is not None:
        raise Conflict("recourse is already booked", code="recourse_exists")
    supplier_accounts = _org_accounts(session, actor, application.applicant_org_id)
    funding = accounts.bank_accounts(session, actor)["funding"]
    moved = ledger.transfer(
        session,
        actor,
        transfer_id=accounts.recourse_id(payable.id),
        debit_account_id=supplier_accounts["recourse"].id,
        credit_account_id=funding.id,
        amount=application.disbursed,
        code="fct_recourse",
        reference=f"{payable.invoice_no}#{payable.part_no}",
        now=now,
    )
    claim = RecourseClaim(
        payable_id=payable.id,
        supplier_org_id=application.applicant_org_id,
        amount=application.disbursed,
        status="open",
        transfer_id=moved.transfer_id,
        collected=ZERO,
        collections=0,
        created_by_user_id=actor.user_id,
        created_at=now,
    )
    session.add(claim)
    session.flush()
    audit.record(
        session,
        actor,
        "factoring.recourse_booked",
        "fct_payable",
        payable.id,
        after={"supplier_org_id": claim.supplier_org_id, "amount": claim.amount},
    )
    return claim
