"""Release from the yard, release-before-repay, and out-of-trust.

The supervisor releases a car (the certificate leaves custody, the car leaves the yard) only when
it is redeemed, or when the bank granted release-before-repay: a trusted dealer takes the car
out first and repays within ``rbr_days``, within a separate limit on its line. A car gone
without repayment, found missing at an audit or past its repayment deadline, is out of trust:
a hard vehicle alert and a risk event for the dealer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.floorplan import risk_port, rules
from backend.floorplan.access import get_vehicle
from backend.floorplan.agency import OnBehalf, authorise_dealer_act, record_act
from backend.floorplan.models import Vehicle
from backend.floorplan.service import credit
from backend.floorplan.service.alerts import raise_alert
from backend.platform import audit
from backend.platform.clock import isoformat, utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, PermissionDenied
from backend.platform.live import LiveEmitter
from backend.platform.permissions import ensure_role

ZERO = Decimal("0.00")


def release_vehicle(
    session: Session, actor: Actor, vin: str, *, now: datetime | None = None
) -> Vehicle:
    now = now or utcnow()
    vehicle = get_vehicle(session, actor, rules.validate_vin(vin), lock=True)
    ensure_role(actor, "supervisor")
    if actor.role != "admin" and actor.org_id != vehicle.supervisor_org_id:
        raise PermissionDenied("only the yard's supervisor releases a car")
    before = {"status": vehicle.status, "certificate_status": vehicle.certificate_status}
    if vehicle.status == "redeemed":
        vehicle.status = "released"
    elif vehicle.status == "in_stock" and vehicle.rbr_due_at is not None:
        vehicle.status = "released_unpaid"
    elif vehicle.released_at is not None:
        raise BusinessRuleViolation(
            "the car has already left the yard", code="vehicle_already_released"
        )
    else:
        raise BusinessRuleViolation(
            "only a redeemed car (or one granted release-before-repay) is released",
            code="vehicle_not_redeemed",
            details={"status": vehicle.status},
        )
    vehicle.certificate_status = "released"
    vehicle.released_at = now
    vehicle.updated_at = now
    audit.record(
        session,
        actor,
        "floorplan.vehicle_released",
        "fp_vehicle",
        vehicle.vin,
        before=before,
        after={
            "status": vehicle.status,
            "certificate_status": "released",
            "repay_by": vehicle.rbr_due_at,
        },
    )
    return vehicle


def grant_release_before_repay(
    session: Session,
    actor: Actor,
    vin: str,
    *,
    on_behalf: dict | OnBehalf | None = None,
    now: datetime | None = None,
) -> Vehicle:
    """A trusted dealer may take a car out before repaying it, within its separate limit
    (asked by the dealer, or by a teller on its instruction)."""
    now = now or utcnow()
    vehicle = get_vehicle(session, actor, rules.validate_vin(vin))
    mandate = authorise_dealer_act(actor, vehicle.dealer_org_id, on_behalf)
    risk_port.ensure_no_blocking_signal(session, actor, vehicle.dealer_org_id)
    line = credit.lock_line(session, vehicle.dealer_org_id)
    vehicle = get_vehicle(session, actor, vin, lock=True)
    if vehicle.status != "in_stock":
        raise BusinessRuleViolation(
            "release-before-repay is for cars in stock",
            code="vehicle_not_in_stock",
            details={"status": vehicle.status},
        )
    if vehicle.rbr_due_at is not None:
        raise Conflict("release-before-repay is already granted", code="rbr_already_granted")
    if not line.trusted:
        raise BusinessRuleViolation(
            "release-before-repay is for trusted dealers", code="dealer_not_trusted"
        )
    if line.status != "active":
        raise BusinessRuleViolation("the credit line is suspended", code="credit_line_suspended")
    amount = vehicle.outstanding
    if line.rbr_used + amount > line.rbr_limit:
        raise BusinessRuleViolation(
            "the release-before-repay limit is exhausted",
            code="rbr_limit_exceeded",
            details={"available": str(line.rbr_limit - line.rbr_used), "needed": str(amount)},
        )
    line.rbr_used += amount
    line.version += 1
    vehicle.rbr_amount = amount
    vehicle.rbr_due_at = now + timedelta(days=line.rbr_days)
    vehicle.updated_at = now
    audit.record(
        session,
        actor,
        "floorplan.release_before_repay_granted",
        "fp_vehicle",
        vehicle.vin,
        after={
            "amount": amount,
            "repay_by": vehicle.rbr_due_at,
            "rbr_used": line.rbr_used,
            **mandate.audit_fields(),
        },
    )
    record_act(session, actor, mandate, "release_before_repay", "fp_vehicle", [vehicle.vin])
    return vehicle


def declare_out_of_trust(
    session: Session,
    actor: Actor,
    live: LiveEmitter | None,
    vehicle: Vehicle,
    *,
    reason: str,
    now: datetime,
    audit_id: int | None = None,
) -> None:
    """The worst floor-plan risk: the car is gone and its money is not repaid."""
    before = vehicle.status
    vehicle.status = "out_of_trust"
    vehicle.updated_at = now
    audit.record(
        session,
        actor,
        "floorplan.vehicle_out_of_trust",
        "fp_vehicle",
        vehicle.vin,
        before={"status": before},
        after={"status": "out_of_trust", "reason": reason},
    )
    data = {"vin": vehicle.vin, "reason": reason, "outstanding": str(vehicle.outstanding)}
    raise_alert(
        session,
        actor,
        live,
        kind="out_of_trust",
        severity="hard",
        dedup_key=f"oot:{vehicle.vin}",
        dealer_org_id=vehicle.dealer_org_id,
        oem_org_id=vehicle.oem_org_id,
        supervisor_org_id=vehicle.supervisor_org_id,
        vehicle_id=vehicle.id,
        vin=vehicle.vin,
        bill_id=vehicle.bill_id,
        audit_id=audit_id,
        message=f"car {vehicle.vin} is out of trust: {reason}",
        data=data,
        now=now,
    )
    risk_port.record_internal_event(
        session,
        actor,
        org_id=vehicle.dealer_org_id,
        kind="vehicle_out_of_trust",
        severity="hard",
        data={**data, "detected_at": isoformat(now)},
        source_time=now,
        external_id=f"fp:oot:{vehicle.vin}:{now:%Y%m%dT%H%M%S}",
        live=live,
    )


def check_release_deadlines(
    session: Session, actor: Actor, live: LiveEmitter | None, *, now: datetime | None = None
) -> dict:
    """Job: cars released on trust and not repaid by their deadline are out of trust; grants
    never used (the car still in the yard) lapse and give their limit back. Dealer by dealer,
    line first, like every other money step."""
    now = now or utcnow()
    due = (Vehicle.status.in_(("released_unpaid", "in_stock"))) & (Vehicle.rbr_due_at < now)
    dealers = session.scalars(select(Vehicle.dealer_org_id).where(due).distinct()).all()
    out_of_trust = lapsed = 0
    for dealer_id in sorted(dealers):
        line = credit.lock_line(session, dealer_id)
        cars = session.scalars(
            select(Vehicle)
            .where(due, Vehicle.dealer_org_id == dealer_id)
            .order_by(Vehicle.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        for vehicle in cars:
            if vehicle.status == "released_unpaid":
                declare_out_of_trust(
                    session,
                    actor,
                    live,
                    vehicle,
                    reason="not repaid by the deadline of its release-before-repay",
                    now=now,
                )
                out_of_trust += 1
                continue
            line.rbr_used -= vehicle.rbr_amount
            line.version += 1
            audit.record(
                session,
                actor,
                "floorplan.release_before_repay_lapsed",
                "fp_vehicle",
                vehicle.vin,
                before={"repay_by": vehicle.rbr_due_at, "amount": vehicle.rbr_amount},
                after={"repay_by": None},
            )
            vehicle.rbr_amount = ZERO
            vehicle.rbr_due_at = None
            vehicle.updated_at = now
            lapsed += 1
    return {"out_of_trust": out_of_trust, "lapsed": lapsed}


def report_missing(
    session: Session,
    actor: Actor,
    live: LiveEmitter | None,
    vin: str,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> Vehicle:
    """The supervisor finds a pledged car gone from the yard (at the gate, on a round): out of
    trust at once, without waiting for the next audit."""
    now = now or utcnow()
    vehicle = get_vehicle(session, actor, rules.validate_vin(vin), lock=True)
    ensure_role(actor, "supervisor")
    if actor.role != "admin" and actor.org_id != vehicle.supervisor_org_id:
        raise PermissionDenied("only the yard's supervisor reports its cars")
    if vehicle.status != "in_stock":
        raise BusinessRuleViolation(
            "only a car in stock can be reported gone",
            code="vehicle_not_in_stock",
            details={"status": vehicle.status},
        )
    reason = "reported gone from the yard by the supervisor"
    declare_out_of_trust(
        session, actor, live, vehicle, reason=f"{reason}: {note}" if note else reason, now=now
    )
    return vehicle
