"""Margin automation at a bill's maturity: the bank pays the OEM, the dealer's money pays the bank.

At maturity every car of the bill still unpaid is swept, in one ledger batch
(``fp:bill<id>:settle``): its margin hold is posted to the bill (``fp:m:<vin>~post``), then the
dealer's free margin (``fp:bill<id>:sweep-margin``) and its deposit (``fp:bill<id>:sweep-deposit``)
pay the rest; whatever is still missing the bank advances (``fp:bill<id>:advance``, debiting the
dealer's advance account: an overdue advance). The bill's account, now holding exactly the
bill's amount, pays the OEM (``fp:bill<id>:pay``) and is closed. A shortfall is a strong alert
and a ``margin_shortfall`` risk event; the cars it concerns stay pledged until the dealer
redeems them by repaying the advance. A reminder alert goes out a week before maturity.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.floorplan import accounts, risk_port, rules
from backend.floorplan.agency import OnBehalf, authorise_dealer_act, record_act
from backend.floorplan.models import Bill, Programme, Redemption, Vehicle
from backend.floorplan.queries import get_bill
from backend.floorplan.service import credit
from backend.floorplan.service.alerts import raise_alert
from backend.floorplan.service.redemption import void_open_curtailments
from backend.ledger.service import TransferSpec
from backend.platform import audit
from backend.platform.clock import isoformat, utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, DomainError, NotFound
from backend.platform.live import LiveEmitter
from backend.platform.money import parse_money
from backend.platform.permissions import ensure_role

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")
REMIND_DAYS = 7


def settle_bill(
    session: Session,
    actor: Actor,
    live: LiveEmitter | None,
    bill_id: int,
    *,
    now: datetime | None = None,
) -> Bill:
    """Sweep a bill that reached maturity (bank staff by hand, or the maturity job)."""
    ensure_role(actor, "rm", "approver")
    now = now or utcnow()
    bill = session.get(Bill, bill_id)
    if bill is None:
        raise NotFound("bill not found", code="bill_not_found")
    line = credit.lock_line(session, bill.dealer_org_id)
    cars = session.scalars(
        select(Vehicle)
        .where(Vehicle.bill_id == bill.id, Vehicle.status.in_(rules.UNPAID))
        .order_by(Vehicle.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    bill = session.get(Bill, bill_id, with_for_update=True, populate_existing=True)
    if bill.status not in rules.OPEN_BILL:
        raise BusinessRuleViolation(f"the bill is {bill.status}", code="bill_not_open")
    if bill.maturity_date is None or bill.maturity_date > now.date():
        raise BusinessRuleViolation(
            "the bill has not reached maturity",
            code="bill_not_due",
            details={"maturity_date": str(bill.maturity_date)},
        )
    shipped = bill.status == "shipped"
    if shipped:
        units = [rules.SweepUnit(v.vin, v.outstanding, v.margin_held) for v in cars]
    else:  # never shipped: the bill is paid all the same, from its own margin first
        units = [rules.SweepUnit("bill", bill.outstanding, bill.margin_amount)]
    bal = ledger.locked_balances(
        session, line.deposit_account_id, line.margin_account_id, bill.ledger_account_id
    )
    plan = rules.plan_sweep(
        units, bal[line.margin_account_id].available, bal[line.deposit_account_id].available
    )
    specs = []
    for unit, part in zip(units, plan.lines, strict=True):
        hold_id = (
            accounts.car_margin_hold_id(unit.key)
            if shipped
            else accounts.bill_margin_hold_id(bill.id)
        )
        if unit.margin_held > 0:
            specs.append(
                TransferSpec.post(hold_id, part.margin_posted)
                if part.margin_posted > 0
                else TransferSpec.void(hold_id)
            )
    acct = bill.ledger_account_id
    for tid, source, amount in (
        ("sweep-margin", line.margin_account_id, plan.from_margin),
        ("sweep-deposit", line.deposit_account_id, plan.from_deposit),
        ("advance", line.advance_account_id, plan.shortfall),
    ):
        if amount > 0:
            specs.append(
                TransferSpec.single(
                    f"fp:bill{bill.id}:{tid}", source, acct, amount, f"fp_maturity_{tid}"
                )
            )
    programme = session.get(Programme, line.programme_id)
    specs.append(
        TransferSpec.single(
            f"fp:bill{bill.id}:pay",
            acct,
            programme.oem_account_id,
            bill.amount,
            "fp_bill_payment",
            reference=bill.bill_no,
        )
    )
    try:
        ledger.execute_batch(session, actor, specs, batch_id=f"fp:bill{bill.id}:settle", now=now)
    except DomainError as exc:
        log.error("sweep of bill %s refused by the ledger: %s", bill.bill_no, exc)
        raise
    ledger.close_account(session, actor, acct, now=now)
    _book_sweep(session, actor, line, bill, cars if shipped else [], plan, now)
    if plan.shortfall > 0:
        _shortfall(session, actor, live, bill, plan.shortfall, now)
    return bill


def _book_sweep(session, actor, line, bill, cars, plan: rules.SweepPlan, now: datetime) -> None:
    before = {"status": bill.status, "outstanding": bill.outstanding}
    by_vin = {v.vin: v for v in cars}
    covered_cars = []
    reduced = ZERO
    for part in plan.lines:
        reduced += part.margin_posted + part.covered
        v = by_vin.get(part.key)
        if v is None:
            continue
        v.margin_applied += part.margin_posted
        v.margin_held = ZERO
        v.repaid += part.covered
        v.outstanding = part.advanced
        v.advanced = part.advanced
        v.updated_at = now
        if part.advanced == 0:
            covered_cars.append(v)
    credit.repay(line, reduced)
    redemption = None
    if covered_cars:
        redemption = Redemption(
            dealer_org_id=bill.dealer_org_id,
            mode="maturity",
            vehicle_count=len(covered_cars),
            amount=sum((p.margin_posted + p.covered for p in plan.lines), ZERO),
            margin_released=ZERO,
            batch_id=f"fp:bill{bill.id}:settle",
            created_at=now,
            created_by_user_id=actor.user_id,
            created_by=actor.username,
        )
        session.add(redemption)
        session.flush()
    for v in covered_cars:
        status_before = v.status
        v.status = "released" if v.released_at is not None else "redeemed"
        v.redeemed_at = now
        v.redeem_mode = "maturity"
        v.redemption_id = redemption.id
        if v.rbr_amount > 0:
            line.rbr_used -= v.rbr_amount
            v.rbr_amount = ZERO
        v.rbr_due_at = None
        audit.record(
            session,
            actor,
            "floorplan.vehicle_redeemed",
            "fp_vehicle",
            v.vin,
            before={"status": status_before},
            after={"status": v.status, "mode": "maturity", "bill": bill.bill_no},
        )
    void_open_curtailments(session, covered_cars, now)
    bill.outstanding = plan.shortfall
    bill.advance_outstanding = plan.shortfall
    bill.shortfall = plan.shortfall
    bill.status = "overdue" if plan.shortfall > 0 else "settled"
    bill.settled_at = now
    audit.record(
        session,
        actor,
        "floorplan.bill_settled",
        "fp_bill",
        bill.id,
        before=before,
        after={
            "status": bill.status,
            "paid_to_oem": bill.amount,
            "margin_posted": plan.margin_posted,
            "from_margin": plan.from_margin,
            "from_deposit": plan.from_deposit,
            "advance": plan.shortfall,
        },
    )


def _shortfall(session, actor, live, bill: Bill, shortfall: Decimal, now: datetime) -> None:
    data = {
        "bill_no": bill.bill_no,
        "amount": str(bill.amount),
        "shortfall": str(shortfall),
        "maturity_date": str(bill.maturity_date),
    }
    raise_alert(
        session,
        actor,
        live,
        kind="margin_shortfall",
        severity="strong",
        dedup_key=f"shortfall:bill{bill.id}",
        dealer_org_id=bill.dealer_org_id,
        oem_org_id=bill.oem_org_id,
        bill_id=bill.id,
        message=(
            f"bill {bill.bill_no} matured {shortfall} short: the bank advanced it; "
            "the cars stay pledged until repaid"
        ),
        data=data,
        now=now,
    )
    risk_port.record_internal_event(
        session,
        actor,
        org_id=bill.dealer_org_id,
        kind="margin_shortfall",
        severity="strong",
        data={**data, "amount": str(shortfall), "at": isoformat(now)},
        source_time=now,
        external_id=f"fp:shortfall:bill{bill.id}",
        live=live,
    )


def settle_due_bills(
    session: Session, actor: Actor, live: LiveEmitter | None, *, now=None, limit: int = 200
) -> dict:
    """Job: sweep every open bill at or past maturity, each in its own savepoint."""
    now = now or utcnow()
    due = session.scalars(
        select(Bill.id)
        .where(Bill.status.in_(rules.OPEN_BILL), Bill.maturity_date <= now.date())
        .order_by(Bill.maturity_date, Bill.id)
        .limit(limit)
    ).all()
    settled = short = failed = 0
    for bill_id in due:
        try:
            with session.begin_nested():
                bill = settle_bill(session, actor, live, bill_id, now=now)
        except DomainError as exc:
            failed += 1
            log.warning("bill %s not settled: %s", bill_id, exc)
            continue
        settled += 1
        short += bill.status == "overdue"
    return {"settled": settled, "short": short, "failed": failed}


def remind_maturing_bills(
    session: Session, actor: Actor, live: LiveEmitter | None, *, now=None
) -> dict:
    """Job: a weak alert to the dealer a week before a bill matures."""
    now = now or utcnow()
    horizon = (now + timedelta(days=REMIND_DAYS)).date()
    bills = session.scalars(
        select(Bill).where(
            Bill.status.in_(rules.OPEN_BILL),
            Bill.maturity_date <= horizon,
            Bill.maturity_date > now.date(),
        )
    ).all()
    created = 0
    for bill in bills:
        _, new = raise_alert(
            session,
            actor,
            live,
            kind="bill_maturing",
            severity="weak",
            dedup_key=f"maturing:bill{bill.id}",
            dealer_org_id=bill.dealer_org_id,
            oem_org_id=bill.oem_org_id,
            bill_id=bill.id,
            message=(
                f"bill {bill.bill_no} matures on {bill.maturity_date}: "
                f"{bill.outstanding} still financed"
            ),
            data={"maturity_date": str(bill.maturity_date), "outstanding": str(bill.outstanding)},
            now=now,
        )
        created += new
    return {"reminded": created}


def repay_bill_advance(
    session: Session,
    actor: Actor,
    bill_id: int,
    amount: Decimal | str | None = None,
    *,
    on_behalf: dict | OnBehalf | None = None,
    now: datetime | None = None,
) -> Bill:
    """The dealer repays the advance of a bill that matured before any car was shipped (cars'
    advances are repaid by redeeming the cars). From the deposit; all of it by default."""
    now = now or utcnow()
    bill = get_bill(session, actor, bill_id)
    mandate = authorise_dealer_act(actor, bill.dealer_org_id, on_behalf)
    line = credit.lock_line(session, bill.dealer_org_id)
    bill = session.get(Bill, bill_id, with_for_update=True, populate_existing=True)
    has_cars = session.scalar(select(Vehicle.id).where(Vehicle.bill_id == bill.id).limit(1))
    if bill.status != "overdue" or bill.advance_outstanding <= 0:
        raise BusinessRuleViolation("the bill has no advance to repay", code="no_advance_due")
    if has_cars is not None:
        raise BusinessRuleViolation(
            "this bill's advance is repaid by redeeming its cars", code="repay_by_redeeming_cars"
        )
    value = (
        bill.advance_outstanding
        if amount is None
        else parse_money(amount, field="amount", positive=True)
    )
    if value > bill.advance_outstanding:
        raise BusinessRuleViolation(
            "the amount exceeds the advance",
            code="amount_exceeds_advance",
            details={"advance_outstanding": str(bill.advance_outstanding)},
        )
    paid_before = bill.shortfall - bill.advance_outstanding
    tid = f"fp:bill{bill.id}:repay:{paid_before}"
    with ledger.named_shortfalls(accounts.shortfall_names(line)):
        ledger.transfer(
            session,
            actor,
            transfer_id=tid,
            debit_account_id=line.deposit_account_id,
            credit_account_id=line.advance_account_id,
            amount=value,
            code="fp_advance_repayment",
            reference=bill.bill_no,
            now=now,
        )
    before = {"status": bill.status, "advance_outstanding": bill.advance_outstanding}
    credit.repay(line, value)
    bill.advance_outstanding -= value
    bill.outstanding -= value
    if bill.advance_outstanding == 0:
        bill.status = "settled"
    audit.record(
        session,
        actor,
        "floorplan.bill_advance_repaid",
        "fp_bill",
        bill.id,
        before=before,
        after={
            "status": bill.status,
            "paid": value,
            "advance_outstanding": bill.advance_outstanding,
            **mandate.audit_fields(),
        },
    )
    record_act(
        session, actor, mandate, "advance_repayment", "fp_bill", [bill.id], transfer_ids=[tid]
    )
    return bill
