"""OEM shipments and supervisor intake: cars come into being, travel, arrive and are pledged.

The OEM posts the shipping list of an issued bill (VIN, model, price, certificate number; the
prices add up to the bill). From then on each car is its own financed unit: in one ledger batch
the bill's margin hold is voided and replaced by one hold per car (``fp:m:<vin>``), the bill's
margin split over the cars in proportion to their prices. The supervisor scans VIN and
certificate at intake: the car is pledged (``in_stock``), its certificate in custody, and its
days in stock start counting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend import ledger
from backend.floorplan import accounts, rules
from backend.floorplan.access import get_vehicle
from backend.floorplan.models import Bill, CreditLine, Shipment, Vehicle, Warehouse
from backend.ledger.service import TransferSpec
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    PermissionDenied,
    ValidationFailed,
)
from backend.platform.money import parse_money
from backend.platform.permissions import ensure_role, ensure_visible

ZERO = Decimal("0.00")
MAX_SHIPMENT = 500


def _text(value: object, field: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise ValidationFailed(
            f"{field} must be 1 to {max_len} characters",
            code="invalid_value",
            details={field: [f"1 to {max_len} characters"]},
        )
    return value.strip()


def _validated_cars(cars: Sequence[dict]) -> list[dict]:
    if not cars or len(cars) > MAX_SHIPMENT:
        raise ValidationFailed(
            f"a shipment lists 1 to {MAX_SHIPMENT} cars",
            code="invalid_shipment",
            details={"vehicles": [f"1 to {MAX_SHIPMENT} cars"]},
        )
    out, vins, certs = [], set(), set()
    for i, car in enumerate(cars):
        vin = rules.validate_vin(car.get("vin"), f"vehicles.{i}.vin")
        cert = _text(car.get("certificate_no"), f"vehicles.{i}.certificate_no", 40)
        if vin in vins or cert in certs:
            raise ValidationFailed(
                "a VIN or certificate appears twice in the shipment",
                code="duplicate_in_shipment",
                details={f"vehicles.{i}": ["duplicate VIN or certificate_no"]},
            )
        vins.add(vin)
        certs.add(cert)
        out.append(
            {
                "vin": vin,
                "model": _text(car.get("model"), f"vehicles.{i}.model", 80),
                "price": parse_money(car.get("price"), field=f"vehicles.{i}.price", positive=True),
                "certificate_no": cert,
            }
        )
    return out


def create_shipment(
    session: Session,
    actor: Actor,
    *,
    bill_id: int,
    warehouse_id: int,
    vehicles: Sequence[dict],
    carrier_ref: str | None = None,
    now: datetime | None = None,
) -> Shipment:
    """The OEM ships the cars an issued bill paid for, to one of the dealer's yards."""
    now = now or utcnow()
    cars = _validated_cars(vehicles)
    bill = session.get(Bill, bill_id, with_for_update=True, populate_existing=True)
    ensure_visible(actor, bill, [bill.oem_org_id] if bill else [], "bill")
    ensure_role(actor, "oem")
    if bill.status == "shipped":
        raise Conflict("the bill's cars were already shipped", code="bill_already_shipped")
    if bill.status != "issued":
        raise BusinessRuleViolation(f"the bill is {bill.status}", code="bill_not_open")
    warehouse = session.get(Warehouse, warehouse_id)
    if warehouse is None or warehouse.dealer_org_id != bill.dealer_org_id:
        raise BusinessRuleViolation(
            "the warehouse is not one of the dealer's yards", code="warehouse_not_dealers"
        )
    total = sum((c["price"] for c in cars), ZERO)
    if total != bill.amount:
        raise BusinessRuleViolation(
            "the cars' prices must add up to the bill's amount",
            code="shipment_total_mismatch",
            details={"bill_amount": str(bill.amount), "total": str(total)},
        )
    taken = session.execute(
        select(Vehicle.vin, Vehicle.certificate_no).where(
            Vehicle.vin.in_([c["vin"] for c in cars])
            | Vehicle.certificate_no.in_([c["certificate_no"] for c in cars])
        )
    ).all()
    if taken:
        raise Conflict(
            "a VIN or certificate is already registered",
            code="vehicle_exists",
            details={"vins": sorted({t[0] for t in taken})},
        )
    margins = rules.allocate(bill.margin_amount, [c["price"] for c in cars])
    shipment = Shipment(
        bill_id=bill.id,
        oem_org_id=bill.oem_org_id,
        dealer_org_id=bill.dealer_org_id,
        supervisor_org_id=warehouse.supervisor_org_id,
        warehouse_id=warehouse.id,
        status="in_transit",
        vehicle_count=len(cars),
        total_amount=total,
        carrier_ref=carrier_ref,
        shipped_at=now,
        created_by_user_id=actor.user_id,
    )
    session.add(shipment)
    session.flush()
    rows = [
        new_vehicle(car, bill, shipment, warehouse, margin, now)
        for car, margin in zip(cars, margins, strict=True)
    ]
    session.add_all(rows)
    session.flush()
    line = session.get(CreditLine, bill.credit_line_id)
    specs = shipment_legs(bill, rows, line.margin_account_id)
    if specs:
        ledger.execute_batch(session, actor, specs, batch_id=f"fp:ship{shipment.id}", now=now)
    bill.status = "shipped"
    audit.record(
        session,
        actor,
        "floorplan.shipment_created",
        "fp_shipment",
        shipment.id,
        after={"bill_id": bill.id, "cars": len(rows), "total": total, "warehouse": warehouse.code},
    )
    for v in rows:
        audit.record(
            session,
            actor,
            "floorplan.vehicle_shipped",
            "fp_vehicle",
            v.vin,
            after={"status": "in_transit", "price": v.price, "margin": v.margin_held},
        )
    return shipment


def new_vehicle(
    car: dict, bill: Bill, shipment: Shipment, warehouse: Warehouse, margin: Decimal, now: datetime
) -> Vehicle:
    return Vehicle(
        vin=car["vin"],
        model=car["model"],
        price=car["price"],
        certificate_no=car["certificate_no"],
        dealer_org_id=bill.dealer_org_id,
        oem_org_id=bill.oem_org_id,
        supervisor_org_id=warehouse.supervisor_org_id,
        warehouse_id=warehouse.id,
        bill_id=bill.id,
        shipment_id=shipment.id,
        status="in_transit",
        certificate_status="in_transit",
        outstanding=car["price"],
        repaid=ZERO,
        margin_held=margin,
        margin_applied=ZERO,
        advanced=ZERO,
        shipped_at=now,
        rbr_amount=ZERO,
        aging_level=0,
        updated_at=now,
    )


def shipment_legs(bill: Bill, cars: Sequence, margin_account_id: int) -> list[TransferSpec]:
    """Void the bill's margin hold and hold each car's share instead (one ledger batch)."""
    if bill.margin_amount <= 0:
        return []
    specs = [TransferSpec.void(accounts.bill_margin_hold_id(bill.id))]
    for car in cars:
        if car.margin_held > 0:
            specs.append(
                TransferSpec.hold(
                    accounts.car_margin_hold_id(car.vin),
                    margin_account_id,
                    bill.ledger_account_id,
                    car.margin_held,
                    "fp_car_margin",
                    reference=bill.bill_no,
                )
            )
    return specs


def mark_arrived(
    session: Session, actor: Actor, shipment_id: int, *, now: datetime | None = None
) -> Shipment:
    """The OEM (delivery done) or the supervisor (cars at the gate) marks a shipment arrived."""
    now = now or utcnow()
    shipment = session.get(Shipment, shipment_id, with_for_update=True, populate_existing=True)
    orgs = (
        [shipment.oem_org_id, shipment.supervisor_org_id, shipment.dealer_org_id]
        if shipment
        else []
    )
    ensure_visible(actor, shipment, orgs, "shipment")
    ensure_role(actor, "oem", "supervisor")
    if actor.role != "admin" and actor.org_id not in (
        shipment.oem_org_id,
        shipment.supervisor_org_id,
    ):
        raise PermissionDenied("only the shipping OEM or the yard's supervisor marks arrival")
    if shipment.status != "in_transit":
        raise Conflict(f"the shipment is already {shipment.status}", code="shipment_not_in_transit")
    shipment.status = "arrived"
    shipment.arrived_at = now
    session.execute(
        update(Vehicle)
        .where(Vehicle.shipment_id == shipment.id, Vehicle.status == "in_transit")
        .values(status="arrived", arrived_at=now, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    audit.record(
        session,
        actor,
        "floorplan.shipment_arrived",
        "fp_shipment",
        shipment.id,
        before={"status": "in_transit"},
        after={"status": "arrived"},
    )
    return shipment


def intake_vehicle(
    session: Session,
    actor: Actor,
    vin: str,
    *,
    certificate_no: str,
    location: str | None = None,
    now: datetime | None = None,
) -> Vehicle:
    """The supervisor scans VIN and certificate: the car is pledged and the certificate held."""
    now = now or utcnow()
    vehicle = get_vehicle(session, actor, rules.validate_vin(vin), lock=True)
    ensure_role(actor, "supervisor")
    if actor.role != "admin" and actor.org_id != vehicle.supervisor_org_id:
        raise PermissionDenied("only the yard's supervisor takes a car in")
    # paid off by a maturity sweep while on its way: custody only, no pledge
    paid_on_the_way = (
        vehicle.status == "redeemed"
        and vehicle.pledged_at is None
        and vehicle.certificate_status != "in_custody"
    )
    if not paid_on_the_way and vehicle.status not in ("in_transit", "arrived"):
        raise Conflict(
            f"the car was already taken in (status {vehicle.status})",
            code="vehicle_already_taken_in",
        )
    if certificate_no != vehicle.certificate_no:
        raise BusinessRuleViolation(
            "the scanned certificate does not match the car's certificate of conformity",
            code="certificate_mismatch",
        )
    before = {"status": vehicle.status, "certificate_status": vehicle.certificate_status}
    if vehicle.status != "redeemed":
        vehicle.status = "in_stock"
        vehicle.pledged_at = now
    vehicle.certificate_status = "in_custody"
    vehicle.arrived_at = vehicle.arrived_at or now
    vehicle.location = location
    vehicle.updated_at = now
    session.flush()
    left = session.scalar(
        select(func.count())
        .select_from(Vehicle)
        .where(
            Vehicle.shipment_id == vehicle.shipment_id,
            Vehicle.status.in_(("in_transit", "arrived")),
        )
    )
    if not left:
        session.execute(
            update(Shipment)
            .where(Shipment.id == vehicle.shipment_id)
            .values(status="received", arrived_at=func.coalesce(Shipment.arrived_at, now))
            .execution_options(synchronize_session=False)
        )
    audit.record(
        session,
        actor,
        "floorplan.vehicle_pledged",
        "fp_vehicle",
        vehicle.vin,
        before=before,
        after={"status": vehicle.status, "certificate_status": "in_custody", "location": location},
    )
    return vehicle
