"""Read models: car lists and details, the dealer summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.floorplan import rules
from backend.floorplan.access import get_dealer, get_vehicle, scope_vehicles
from backend.floorplan.models import Alert, Bill, CreditLine, Curtailment, Vehicle
from backend.ledger.models import Account
from backend.ledger.queries import balance_of
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.pagination import Page, paginate

ZERO = Decimal("0.00")


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
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Dealers see their cars, OEMs the cars they shipped, supervisors the cars in their
    yards, bank staff all."""
    stmt = scope_vehicles(select(Vehicle), actor)
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


@dataclass
class DealerSummary:
    dealer_id: int
    dealer_code: str
    dealer_name: str
    credit_line: CreditLine | None
    limit: Decimal
    used: Decimal
    available: Decimal
    margin: Decimal  # margin account balance
    frozen: Decimal  # margin frozen by holds (what the cars require)
    free_margin: Decimal
    required_margin: Decimal
    deposit: Decimal
    deposit_available: Decimal
    advance_outstanding: Decimal
    rbr_limit: Decimal
    rbr_used: Decimal
    cars_by_status: dict
    bills_by_status: dict
    open_alerts: dict
    as_of: datetime


def dealer_summary(
    session: Session, actor: Actor, dealer_org_id: int, *, now: datetime | None = None
) -> DealerSummary:
    now = now or utcnow()
    dealer = get_dealer(session, actor, dealer_org_id)
    line = session.scalar(select(CreditLine).where(CreditLine.dealer_org_id == dealer.id))
    cars = {
        status: {"count": count, "financed": outstanding or ZERO}
        for status, count, outstanding in session.execute(
            select(Vehicle.status, func.count(), func.sum(Vehicle.outstanding))
            .where(Vehicle.dealer_org_id == dealer.id)
            .group_by(Vehicle.status)
        )
    }
    for status, entry in cars.items():
        entry["financed"] = Decimal(str(entry["financed"])).quantize(Decimal("0.01"))
        cars[status] = entry
    required = session.scalar(
        select(func.sum(Vehicle.margin_held)).where(
            Vehicle.dealer_org_id == dealer.id, Vehicle.status.in_(rules.UNPAID)
        )
    )
    bills = dict(
        session.execute(
            select(Bill.status, func.count())
            .where(Bill.dealer_org_id == dealer.id)
            .group_by(Bill.status)
        ).all()
    )
    unshipped_margin = session.scalar(
        select(func.sum(Bill.margin_amount)).where(
            Bill.dealer_org_id == dealer.id, Bill.status == "issued"
        )
    )
    alerts = dict(
        session.execute(
            select(Alert.severity, func.count())
            .where(Alert.dealer_org_id == dealer.id, Alert.status != "resolved")
            .group_by(Alert.severity)
        ).all()
    )
    margin = deposit = advance = None
    if line is not None:
        rows = {
            a.id: balance_of(a)
            for a in session.scalars(
                select(Account).where(
                    Account.id.in_(
                        [line.margin_account_id, line.deposit_account_id, line.advance_account_id]
                    )
                )
            )
        }
        margin = rows[line.margin_account_id]
        deposit = rows[line.deposit_account_id]
        advance = rows[line.advance_account_id]

    def money(value) -> Decimal:
        return Decimal(str(value or 0)).quantize(Decimal("0.01"))

    return DealerSummary(
        dealer_id=dealer.id,
        dealer_code=dealer.code,
        dealer_name=dealer.name,
        credit_line=line,
        limit=line.limit_amount if line else ZERO,
        used=line.used_amount if line else ZERO,
        available=(line.limit_amount - line.used_amount) if line else ZERO,
        margin=margin.posted if margin else ZERO,
        frozen=margin.pending if margin else ZERO,
        free_margin=margin.available if margin else ZERO,
        required_margin=money(required) + money(unshipped_margin),
        deposit=deposit.posted if deposit else ZERO,
        deposit_available=deposit.available if deposit else ZERO,
        advance_outstanding=advance.posted if advance else ZERO,
        rbr_limit=line.rbr_limit if line else ZERO,
        rbr_used=line.rbr_used if line else ZERO,
        cars_by_status=cars,
        bills_by_status=bills,
        open_alerts=alerts,
        as_of=now,
    )
