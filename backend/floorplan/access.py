"""Who may see which floor-plan object.

A car is visible to its dealer, the OEM that shipped it, the supervisor company of its yard and
bank staff; a bill to its dealer and its OEM; a dealer's line and summary to the dealer and its
OEM. Anything else is "not found" (its existence does not leak). Who may *act* for a dealer
(redeem, move margin, ...) is backend/floorplan/agency.py.
"""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from backend.floorplan.models import Bill, CreditLine, Vehicle
from backend.identity.models import Org
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.permissions import can_see, ensure_visible

BANK_ROLES = ("admin", "rm", "approver")


def vehicle_orgs(v: Vehicle) -> list[int]:
    return [v.dealer_org_id, v.oem_org_id, v.supervisor_org_id]


def scope_vehicles(stmt: Select, actor: Actor) -> Select:
    if actor.is_bank_staff:
        return stmt
    if actor.org_id is None:
        return stmt.where(Vehicle.id.is_(None))
    org = actor.org_id
    return stmt.where(
        or_(
            Vehicle.dealer_org_id == org,
            Vehicle.oem_org_id == org,
            Vehicle.supervisor_org_id == org,
        )
    )


def get_vehicle(session: Session, actor: Actor, vin: str, *, lock: bool = False) -> Vehicle:
    stmt = select(Vehicle).where(Vehicle.vin == vin)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    vehicle = session.scalar(stmt)
    ensure_visible(actor, vehicle, vehicle_orgs(vehicle) if vehicle else [], "vehicle")
    return vehicle


def bill_orgs(bill: Bill) -> list[int]:
    return [bill.dealer_org_id, bill.oem_org_id]


def get_dealer(session: Session, actor: Actor, dealer_org_id: int) -> Org:
    """A dealer org the caller may see: itself, its OEM (parent), bank staff."""
    org = session.get(Org, dealer_org_id)
    if org is None or org.kind != "dealer":
        raise NotFound("dealer not found", code="dealer_not_found")
    ensure_visible(actor, org, [org.id, org.parent_id], "dealer")
    return org


def can_see_line(actor: Actor, line: CreditLine) -> bool:
    return can_see(actor, [line.dealer_org_id, line.oem_org_id])


def can_see_bill(actor: Actor, bill: Bill) -> bool:
    return can_see(actor, bill_orgs(bill))
