"""Reading the dealers' side: programmes, yards, credit lines and their requests, the dealer
summary (line, margin, deposit and frozen margin from the ledger, cars and bills by status).

A dealer sees its own line and summary, its OEM those of its dealers, bank staff all; credit
line requests are for bank staff. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.floorplan import agency, rules
from backend.floorplan.access import get_dealer
from backend.floorplan.models import (
    Alert,
    Bill,
    CreditLine,
    CreditLineRequest,
    Programme,
    Vehicle,
    Warehouse,
)
from backend.identity.models import Org
from backend.ledger.models import Account
from backend.ledger.queries import balance_of
from backend.platform import audit
from backend.platform.clock import isoformat, utcnow
from backend.platform.context import Actor
from backend.platform.errors import PermissionDenied
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_visible

ZERO = Decimal("0.00")


# --------------------------------------------------------------------------- dealer summary


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


@dataclass
class DealerOverview:
    """One row of the bank's dealer overview: the dealer summary, plus its aged stock (cars in
    stock past each of its programme's aging thresholds) and how much of its line is used."""

    summary: DealerSummary
    aging: dict  # threshold in days (as text) -> cars in stock at least that long
    utilisation: str | None  # used / limit, "0.4523"; None without a limit

    def __getattr__(self, name):
        return getattr(self.summary, name)


def list_dealer_overview(
    session: Session,
    actor: Actor,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    now: datetime | None = None,
) -> Page:
    """Every dealer the caller oversees, each with its summary and aged stock: bank staff all
    dealers, an OEM its own dealers; anyone else (a dealer, a supervisor) is refused."""
    now = now or utcnow()
    stmt = select(Org).where(Org.kind == "dealer")
    if not actor.is_bank_staff:
        org = session.get(Org, actor.org_id) if actor.org_id else None
        if org is None or org.kind != "oem":
            raise PermissionDenied("the dealer overview is for bank staff and OEMs")
        stmt = stmt.where(Org.parent_id == org.id)
    page = paginate(session, stmt, Org.id, limit=limit, cursor=cursor)
    rows = []
    for dealer in page.items:
        summary = dealer_summary(session, actor, dealer.id, now=now)
        rows.append(
            DealerOverview(
                summary=summary,
                aging=_aged_stock(session, summary, now),
                utilisation=(
                    str((summary.used / summary.limit).quantize(Decimal("0.0001")))
                    if summary.limit > 0
                    else None
                ),
            )
        )
    return Page(items=rows, next_cursor=page.next_cursor)


def _aged_stock(session: Session, summary: DealerSummary, now: datetime) -> dict:
    line = summary.credit_line
    programme = session.get(Programme, line.programme_id) if line is not None else None
    thresholds = sorted(programme.aging_days) if programme and programme.aging_days else [90]
    pledged = list(
        session.scalars(
            select(Vehicle.pledged_at).where(
                Vehicle.dealer_org_id == summary.dealer_id, Vehicle.status == "in_stock"
            )
        )
    )
    days = [rules.days_between(at, now) for at in pledged]
    return {str(t): sum(1 for d in days if d >= t) for t in thresholds}


# --------------------------------------------------------------------------- set-up, credit


def list_programmes(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    stmt = select(Programme)
    if not actor.is_bank_staff:
        org = session.get(Org, actor.org_id) if actor.org_id else None
        oem_id = org.parent_id if org is not None and org.kind == "dealer" else actor.org_id
        stmt = stmt.where(Programme.oem_org_id == oem_id)
    return paginate(session, stmt, Programme.id, limit=limit, cursor=cursor)


def list_warehouses(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    stmt = select(Warehouse)
    if not actor.is_bank_staff:
        dealer_oem = select(Org.id).where(Org.parent_id == actor.org_id)
        stmt = stmt.where(
            (Warehouse.dealer_org_id == actor.org_id)
            | (Warehouse.supervisor_org_id == actor.org_id)
            | Warehouse.dealer_org_id.in_(dealer_oem)
        )
    return paginate(session, stmt, Warehouse.id, limit=limit, cursor=cursor)


def get_warehouse(session: Session, actor: Actor, warehouse_id: int) -> Warehouse:
    warehouse = session.get(Warehouse, warehouse_id)
    orgs = [warehouse.dealer_org_id, warehouse.supervisor_org_id] if warehouse else []
    if warehouse is not None:
        orgs.append(session.scalar(select(Org.parent_id).where(Org.id == warehouse.dealer_org_id)))
    ensure_visible(actor, warehouse, orgs, "warehouse")
    return warehouse


def list_requests(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    if not actor.is_bank_staff:
        raise PermissionDenied("credit line requests are for bank staff")
    stmt = select(CreditLineRequest)
    if status is not None:
        rules.validate_choice(
            status, ("pending", "approved", "rejected"), "status", "invalid_status"
        )
        stmt = stmt.where(CreditLineRequest.status == status)
    return paginate(session, stmt, CreditLineRequest.id, limit=limit, cursor=cursor)


def list_lines(
    session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    stmt = select(CreditLine)
    if not actor.is_bank_staff:
        stmt = stmt.where(
            (CreditLine.dealer_org_id == actor.org_id) | (CreditLine.oem_org_id == actor.org_id)
        )
    return paginate(session, stmt, CreditLine.id, limit=limit, cursor=cursor)


def line_of_dealer(session: Session, actor: Actor, dealer_org_id: int) -> CreditLine | None:
    get_dealer(session, actor, dealer_org_id)
    return session.scalar(select(CreditLine).where(CreditLine.dealer_org_id == dealer_org_id))


def get_line(session: Session, actor: Actor, line_id: int) -> CreditLine:
    line = session.get(CreditLine, line_id)
    ensure_visible(
        actor, line, [line.dealer_org_id, line.oem_org_id] if line else [], "credit line"
    )
    return line


def list_acts_on_behalf(
    session: Session,
    actor: Actor,
    dealer_org_id: int,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict:
    """What the bank did in the dealer's name, newest first: the dealer, its OEM and bank
    staff read it (backend/floorplan/agency.py writes it)."""
    get_dealer(session, actor, dealer_org_id)
    page = audit.query_audit(
        session,
        object_type="fp_dealer",
        object_id=str(dealer_org_id),
        action=agency.ACTED_ON_BEHALF,
        limit=limit,
        cursor=cursor,
    )
    items = [
        {
            "id": r.id,
            "at": isoformat(r.at),
            **{k: r.after.get(k) for k in agency.ACT_FIELDS},
            "agent_username": r.actor_username,
            "agent_role": r.actor_role,
        }
        for r in page.items
    ]
    return {"items": items, "next_cursor": page.next_cursor}
