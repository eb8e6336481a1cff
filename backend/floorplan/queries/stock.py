"""Reading what is financed: bills, the shipments they pay for, and the cars.

Dealers see their own, OEMs what they shipped or are paid, supervisors the shipments and cars
of their yards, bank staff all (``backend.floorplan.access``); an invisible object is "not
found". Nothing here writes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.floorplan import rules
from backend.floorplan.access import bill_orgs, get_vehicle, scope_vehicles
from backend.floorplan.models import Bill, Curtailment, Shipment, Vehicle
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import PermissionDenied
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_visible

# --------------------------------------------------------------------------- cars


def days_in_stock(v: Vehicle, now: datetime) -> int:
    if v.pledged_at is None:
        return 0
    end = v.released_at or v.redeemed_at or now
    return rules.days_between(v.pledged_at, end)


def list_vehicles(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    dealer_id: int | None = None,
    bill_id: int | None = None,
    warehouse_id: int | None = None,
    vin: str | None = None,
    min_days: int | None = None,
    now: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Dealers see their cars, OEMs the cars they shipped, supervisors the cars in their
    yards, bank staff all. ``vin``: cars whose VIN contains it (any case: "a1b2" finds
    "...A1B2..."); ``min_days``: cars pledged at least that many days before ``now`` (for a
    car still in stock, its days in stock; cars never pledged are left out)."""
    stmt = scope_vehicles(select(Vehicle), actor)
    if vin:
        stmt = stmt.where(Vehicle.vin.contains(vin.upper(), autoescape=True))
    if min_days is not None:
        now = now or utcnow()
        stmt = stmt.where(
            Vehicle.pledged_at.is_not(None), Vehicle.pledged_at <= now - timedelta(days=min_days)
        )
    if status is not None:
        rules.validate_choice(status, rules.VEHICLE_STATUSES, "status", "invalid_status")
        stmt = stmt.where(Vehicle.status == status)
    if dealer_id is not None:
        stmt = stmt.where(Vehicle.dealer_org_id == dealer_id)
    if bill_id is not None:
        stmt = stmt.where(Vehicle.bill_id == bill_id)
    if warehouse_id is not None:
        stmt = stmt.where(Vehicle.warehouse_id == warehouse_id)
    return paginate(session, stmt, Vehicle.id, limit=limit, cursor=cursor)


def vehicle_detail(session: Session, actor: Actor, vin: str) -> Vehicle:
    return get_vehicle(session, actor, vin)


def curtailment_of(session: Session, vehicle: Vehicle) -> Curtailment | None:
    if vehicle.curtailment_status is None:
        return None
    return session.scalar(select(Curtailment).where(Curtailment.vehicle_id == vehicle.id))


# --------------------------------------------------------------------------- shipments


def get_shipment(session: Session, actor: Actor, shipment_id: int) -> Shipment:
    shipment = session.get(Shipment, shipment_id)
    orgs = (
        [shipment.oem_org_id, shipment.supervisor_org_id, shipment.dealer_org_id]
        if shipment
        else []
    )
    ensure_visible(actor, shipment, orgs, "shipment")
    return shipment


def list_shipments(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    stmt = select(Shipment)
    if not actor.is_bank_staff:
        org = actor.org_id
        stmt = stmt.where(
            (Shipment.oem_org_id == org)
            | (Shipment.dealer_org_id == org)
            | (Shipment.supervisor_org_id == org)
        )
    if status is not None:
        rules.validate_choice(
            status, ("in_transit", "arrived", "received"), "status", "invalid_status"
        )
        stmt = stmt.where(Shipment.status == status)
    return paginate(session, stmt, Shipment.id, limit=limit, cursor=cursor)


def shipment_vehicles(session: Session, shipment: Shipment) -> list[Vehicle]:
    return list(
        session.scalars(
            select(Vehicle).where(Vehicle.shipment_id == shipment.id).order_by(Vehicle.id)
        )
    )


# --------------------------------------------------------------------------- bills


def get_bill(session: Session, actor: Actor, bill_id: int) -> Bill:
    bill = session.get(Bill, bill_id)
    ensure_visible(actor, bill, bill_orgs(bill) if bill else [], "bill")
    return bill


def list_bills(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    dealer_id: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Dealers see their bills, OEMs the bills payable to them, bank staff all."""
    stmt = select(Bill)
    if not actor.is_bank_staff:
        if actor.role == "supervisor":
            raise PermissionDenied("bills are not shown to supervisors")
        stmt = stmt.where((Bill.dealer_org_id == actor.org_id) | (Bill.oem_org_id == actor.org_id))
    if status is not None:
        rules.validate_choice(status, rules.BILL_STATUSES, "status", "invalid_status")
        stmt = stmt.where(Bill.status == status)
    if dealer_id is not None:
        stmt = stmt.where(Bill.dealer_org_id == dealer_id)
    return paginate(session, stmt, Bill.id, limit=limit, cursor=cursor)
