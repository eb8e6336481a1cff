"""Curtailment: after ``curtailment_days`` in stock a share of the car's financed amount is due.

The job creates the curtailment (amount = price x ``curtailment_ratio``, due after
``curtailment_grace_days``) with a weak reminder alert; the dealer may pay it any time before;
when due the job collects it from the dealer's deposit (``fp:curt:<vin>``). If the deposit is
short the curtailment is overdue: a strong alert and an ``overdue_loan`` risk event, and the job
tries again on its next runs. A paid curtailment lowers the car's outstanding amount, its bill's
and the line's used amount.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.floorplan import accounts, risk_port, rules
from backend.floorplan.access import get_vehicle
from backend.floorplan.agency import OnBehalf, authorise_dealer_act, record_act
from backend.floorplan.models import Bill, CreditLine, Curtailment, Programme, Vehicle
from backend.floorplan.service import credit
from backend.floorplan.service.alerts import raise_alert, resolve_vehicle_alerts
from backend.floorplan.service.redemption import mark_repaid, redemption_target
from backend.platform import audit
from backend.platform.clock import isoformat, utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, DomainError
from backend.platform.live import LiveEmitter

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")


def schedule_curtailments(
    session: Session, actor: Actor, live: LiveEmitter | None, *, now=None, limit: int = 5000
) -> dict:
    """Job: cars past their programme's curtailment day get a curtailment due."""
    now = now or utcnow()
    created = 0
    for programme in session.scalars(select(Programme).where(Programme.status == "active")):
        if programme.curtailment_ratio_bp <= 0:
            continue
        cutoff = now - timedelta(days=programme.curtailment_days)
        rows = session.scalars(
            select(Vehicle)
            .join(CreditLine, CreditLine.dealer_org_id == Vehicle.dealer_org_id)
            .where(
                CreditLine.programme_id == programme.id,
                Vehicle.status == "in_stock",
                Vehicle.pledged_at <= cutoff,
                Vehicle.curtailment_status.is_(None),
                Vehicle.outstanding > 0,
            )
            .order_by(Vehicle.id)
            .limit(limit)
        ).all()
        due_at = now + timedelta(days=programme.curtailment_grace_days)
        for v in rows:
            amount = min(rules.share(v.price, programme.curtailment_ratio_bp), v.outstanding)
            if amount <= 0:
                continue
            session.add(
                Curtailment(
                    vehicle_id=v.id,
                    dealer_org_id=v.dealer_org_id,
                    amount=amount,
                    status="due",
                    due_at=due_at,
                    created_at=now,
                )
            )
            v.curtailment_status = "due"
            v.updated_at = now
            audit.record(
                session,
                actor,
                "floorplan.curtailment_due",
                "fp_vehicle",
                v.vin,
                after={"amount": amount, "due_at": due_at},
            )
            raise_alert(
                session,
                actor,
                live,
                kind="curtailment_due",
                severity="weak",
                dedup_key=f"curt:{v.vin}",
                dealer_org_id=v.dealer_org_id,
                oem_org_id=v.oem_org_id,
                vehicle_id=v.id,
                vin=v.vin,
                bill_id=v.bill_id,
                message=f"curtailment of {amount} for {v.vin} due by {isoformat(due_at)}",
                data={"amount": str(amount), "due_at": isoformat(due_at)},
                now=now,
            )
            created += 1
    return {"created": created}


def pay_curtailment(
    session: Session,
    actor: Actor,
    vin: str,
    *,
    on_behalf: dict | OnBehalf | None = None,
    now: datetime | None = None,
) -> Curtailment:
    """The dealer pays a car's curtailment from its deposit (also what the job does when due,
    under the credit agreement; a teller only on the dealer's instruction)."""
    now = now or utcnow()
    vehicle = get_vehicle(session, actor, rules.validate_vin(vin))
    mandate = authorise_dealer_act(actor, vehicle.dealer_org_id, on_behalf)
    line = credit.lock_line(session, vehicle.dealer_org_id)
    vehicle = get_vehicle(session, actor, vin, lock=True)
    curtailment = session.scalar(
        select(Curtailment).where(Curtailment.vehicle_id == vehicle.id).with_for_update()
    )
    if curtailment is None or curtailment.status not in ("due", "overdue"):
        raise BusinessRuleViolation("the car has no curtailment to pay", code="no_curtailment_due")
    bill = session.get(Bill, vehicle.bill_id, with_for_update=True, populate_existing=True)
    amount = min(curtailment.amount, vehicle.outstanding)
    tid = accounts.curtailment_transfer_id(vehicle.vin)
    with ledger.named_shortfalls(accounts.shortfall_names(line)):
        ledger.transfer(
            session,
            actor,
            transfer_id=tid,
            debit_account_id=line.deposit_account_id,
            credit_account_id=redemption_target(line, bill),
            amount=amount,
            code="fp_curtailment",
            reference=vehicle.vin,
            now=now,
        )
    mark_repaid(
        session, actor, line, bill, vehicle, "curtailment", None, now, paid=amount, mandate=mandate
    )
    before = curtailment.status
    curtailment.status = "paid"
    curtailment.paid_at = now
    curtailment.transfer_id = tid
    vehicle.curtailment_status = "paid"
    audit.record(
        session,
        actor,
        "floorplan.curtailment_paid",
        "fp_vehicle",
        vehicle.vin,
        before={"status": before},
        after={
            "status": "paid",
            "amount": amount,
            "outstanding": vehicle.outstanding,
            **mandate.audit_fields(),
        },
    )
    record_act(
        session, actor, mandate, "curtailment_payment", "fp_vehicle", [vin], transfer_ids=[tid]
    )
    resolve_vehicle_alerts(
        session, actor, [vehicle.id], ("curtailment_due", "curtailment_overdue"), now
    )
    return curtailment


def collect_due_curtailments(
    session: Session, actor: Actor, live: LiveEmitter | None, *, now=None, limit: int = 2000
) -> dict:
    """Job: collect curtailments at their due date; a short deposit makes them overdue."""
    now = now or utcnow()
    due = session.execute(
        select(Curtailment.id, Vehicle.vin)
        .join(Vehicle, Vehicle.id == Curtailment.vehicle_id)
        .where(Curtailment.status.in_(("due", "overdue")), Curtailment.due_at <= now)
        .order_by(Curtailment.dealer_org_id, Curtailment.id)
        .limit(limit)
    ).all()
    paid = overdue = 0
    for curtailment_id, vin in due:
        try:
            with session.begin_nested():
                pay_curtailment(session, actor, vin, now=now)
            paid += 1
        except DomainError as exc:
            if not exc.code.startswith("insufficient"):
                log.warning("curtailment %s of %s not collected: %s", curtailment_id, vin, exc)
                continue
            overdue += _overdue(session, actor, live, curtailment_id, now)
    return {"paid": paid, "overdue": overdue}


def _overdue(session, actor, live, curtailment_id: int, now: datetime) -> int:
    c = session.get(Curtailment, curtailment_id, with_for_update=True, populate_existing=True)
    v = session.get(Vehicle, c.vehicle_id)
    first = c.status == "due"
    if first:
        c.status = "overdue"
        v.curtailment_status = "overdue"
        audit.record(
            session,
            actor,
            "floorplan.curtailment_overdue",
            "fp_vehicle",
            v.vin,
            before={"status": "due"},
            after={"status": "overdue", "amount": c.amount},
        )
    data = {"vin": v.vin, "amount": str(c.amount), "due_at": isoformat(c.due_at)}
    raise_alert(
        session,
        actor,
        live,
        kind="curtailment_overdue",
        severity="strong",
        dedup_key=f"curt-overdue:{v.vin}",
        dealer_org_id=v.dealer_org_id,
        oem_org_id=v.oem_org_id,
        vehicle_id=v.id,
        vin=v.vin,
        bill_id=v.bill_id,
        message=f"curtailment of {c.amount} for {v.vin} is overdue: the deposit is short",
        data=data,
        now=now,
    )
    if first:
        risk_port.record_internal_event(
            session,
            actor,
            org_id=v.dealer_org_id,
            kind="overdue_loan",
            severity="strong",
            data={
                **data,
                "what": "curtailment",
                "days_overdue": max(0, (now - c.due_at).days),
            },
            source_time=now,
            external_id=f"fp:curt-overdue:{v.vin}",
            live=live,
        )
    return int(first)
