"""Inventory audits (盘库): the supervisor checks, VIN by VIN, that each financed car is where it
should be.

Opening an audit samples the yard's cars in stock: all of them for a high-risk dealer, half for
a medium one, a fifth (at least ten) for a low one; the scheduling job audits high-risk yards
weekly, medium every two weeks, low monthly. Each check records time, photo reference, location
and the certificate seen. Results: ``present``; ``mismatch`` (wrong certificate, or a financed
car that should not be in this yard), a strong alert; ``extra`` (a car the bank does not finance
here), a medium alert; and, at closing, every sampled car not checked is ``missing``: the car is
out of trust (hard alert, risk event).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend.floorplan import rules
from backend.floorplan.models import (
    Alert,
    AuditCheck,
    Bill,
    CreditLine,
    Curtailment,
    InventoryAudit,
    Programme,
    Vehicle,
    Warehouse,
)
from backend.floorplan.queries import get_audit
from backend.floorplan.service.alerts import raise_alert
from backend.floorplan.service.release import declare_out_of_trust
from backend.platform import audit as audit_log
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from backend.platform.live import LiveEmitter
from backend.platform.permissions import can_see, ensure_role

ZERO = Decimal("0.00")


def dealer_facts(session: Session, dealer_org_id: int, now: datetime) -> rules.DealerRiskFacts:
    counts = dict(
        session.execute(
            select(Vehicle.status, func.count())
            .where(Vehicle.dealer_org_id == dealer_org_id)
            .group_by(Vehicle.status)
        ).all()
    )
    programme = session.scalar(
        select(Programme)
        .join(CreditLine, CreditLine.programme_id == Programme.id)
        .where(CreditLine.dealer_org_id == dealer_org_id)
    )
    first = min(programme.aging_days) if programme else 90
    aged = session.scalar(
        select(func.count())
        .select_from(Vehicle)
        .where(
            Vehicle.dealer_org_id == dealer_org_id,
            Vehicle.status == "in_stock",
            Vehicle.pledged_at <= now - timedelta(days=first),
        )
    )
    hard = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(
            Alert.dealer_org_id == dealer_org_id,
            Alert.status != "resolved",
            Alert.severity == "hard",
        )
    )
    advance = session.scalars(
        select(Bill.advance_outstanding).where(
            Bill.dealer_org_id == dealer_org_id, Bill.status == "overdue"
        )
    ).all()
    overdue_curtailments = session.scalar(
        select(func.count())
        .select_from(Curtailment)
        .where(Curtailment.dealer_org_id == dealer_org_id, Curtailment.status == "overdue")
    )
    return rules.DealerRiskFacts(
        in_stock=counts.get("in_stock", 0),
        aged=aged or 0,
        out_of_trust=counts.get("out_of_trust", 0),
        open_hard_alerts=hard or 0,
        overdue_advance=sum(advance, ZERO),
        overdue_curtailments=overdue_curtailments or 0,
    )


def _warehouse_for(session: Session, actor: Actor, warehouse_id: int) -> Warehouse:
    warehouse = session.get(Warehouse, warehouse_id)
    if warehouse is None or not can_see(actor, [warehouse.supervisor_org_id]):
        raise NotFound("warehouse not found", code="warehouse_not_found")
    return warehouse


def open_audit(
    session: Session,
    actor: Actor,
    warehouse_id: int,
    *,
    sample_ratio: str | None = None,
    trigger: str = "manual",
    now: datetime | None = None,
) -> InventoryAudit:
    now = now or utcnow()
    warehouse = _warehouse_for(session, actor, warehouse_id)
    ensure_role(actor, "supervisor", "rm", "approver")
    open_id = session.scalar(
        select(InventoryAudit.id).where(
            InventoryAudit.warehouse_id == warehouse.id, InventoryAudit.status == "open"
        )
    )
    if open_id is not None:
        raise Conflict(
            "an audit of this yard is already open",
            code="audit_already_open",
            details={"audit_id": open_id},
        )
    tier = rules.dealer_risk_tier(dealer_facts(session, warehouse.dealer_org_id, now))
    sample_bp = (
        rules.ratio_to_bp(sample_ratio, "sample_ratio")
        if sample_ratio is not None
        else rules.AUDIT_SAMPLE_BP[tier]
    )
    if sample_bp <= 0:
        raise ValidationFailed("sample_ratio must be above 0", code="invalid_ratio")
    stock = dict(
        session.execute(
            select(Vehicle.vin, Vehicle.id).where(
                Vehicle.warehouse_id == warehouse.id, Vehicle.status == "in_stock"
            )
        ).all()
    )
    record = InventoryAudit(
        warehouse_id=warehouse.id,
        dealer_org_id=warehouse.dealer_org_id,
        supervisor_org_id=warehouse.supervisor_org_id,
        status="open",
        trigger=trigger,
        risk_tier=tier,
        sample_ratio_bp=sample_bp,
        opened_at=now,
        opened_by=actor.username,
        expected_count=0,
        present_count=0,
        missing_count=0,
        mismatch_count=0,
        extra_count=0,
    )
    session.add(record)
    session.flush()
    sample = rules.sample_vins(list(stock), sample_bp, seed=f"audit{record.id}")
    record.expected_count = len(sample)
    if sample:
        session.execute(
            insert(AuditCheck),
            [
                {
                    "audit_id": record.id,
                    "vehicle_id": stock[vin],
                    "vin": vin,
                    "expected": True,
                    "result": "pending",
                }
                for vin in sample
            ],
        )
    audit_log.record(
        session,
        actor,
        "floorplan.audit_opened",
        "fp_inventory_audit",
        record.id,
        after={"warehouse": warehouse.code, "tier": tier, "expected": len(sample)},
    )
    return record


def _open_audit_for(session: Session, actor: Actor, audit_id: int) -> InventoryAudit:
    record = get_audit(session, actor, audit_id)
    ensure_role(actor, "supervisor")
    if actor.role != "admin" and actor.org_id != record.supervisor_org_id:
        raise PermissionDenied("only the yard's supervisor checks cars")
    record = session.get(InventoryAudit, audit_id, with_for_update=True, populate_existing=True)
    if record.status != "open":
        raise Conflict("the audit is closed", code="audit_closed")
    return record


def record_check(
    session: Session,
    actor: Actor,
    live: LiveEmitter | None,
    audit_id: int,
    *,
    vin: str,
    certificate_no: str | None = None,
    location: str | None = None,
    photo_ref: str | None = None,
    checked_at: datetime | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> AuditCheck:
    now = now or utcnow()
    vin = rules.validate_vin(vin)
    if checked_at is not None and checked_at.tzinfo is None:
        raise ValidationFailed("checked_at must carry a time zone", code="invalid_time")
    record = _open_audit_for(session, actor, audit_id)
    check = session.scalar(
        select(AuditCheck).where(AuditCheck.audit_id == record.id, AuditCheck.vin == vin)
    )
    if check is not None and check.result != "pending":
        raise Conflict("this VIN was already checked in this audit", code="vin_already_checked")
    vehicle = session.scalar(
        select(Vehicle)
        .where(Vehicle.vin == vin)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    here = vehicle is not None and vehicle.warehouse_id == record.warehouse_id
    if vehicle is None:
        result, why = "extra", "a car the bank does not finance is in the yard"
    elif certificate_no is not None and certificate_no != vehicle.certificate_no:
        result, why = "mismatch", "the certificate does not match the car"
    elif here:  # (a released car still on the dealer's premises is no risk either)
        result, why = "present", None
    else:
        result, why = "mismatch", "a financed car found in another yard"
    if check is None:
        check = AuditCheck(
            audit_id=record.id, vehicle_id=vehicle.id if vehicle else None, vin=vin, expected=False
        )
        session.add(check)
    check.result = result
    check.checked_at = checked_at or now
    check.checked_by = actor.username
    check.photo_ref = photo_ref
    check.location = location
    check.certificate_no_seen = certificate_no
    check.note = note
    session.flush()
    if result == "present" and vehicle is not None:
        if location:
            vehicle.location = location
        if vehicle.status == "out_of_trust" and vehicle.released_at is None:
            vehicle.status = "in_stock"  # found again; the out-of-trust alert stays for the bank
            audit_log.record(
                session,
                actor,
                "floorplan.vehicle_found",
                "fp_vehicle",
                vin,
                before={"status": "out_of_trust"},
                after={"status": "in_stock", "audit_id": record.id},
            )
    if why is not None:
        raise_alert(
            session,
            actor,
            live,
            kind=f"audit_{result}",
            severity="strong" if result == "mismatch" else "medium",
            dedup_key=f"audit{record.id}:{vin}",
            # a financed car found in the wrong yard is its own dealer's problem
            dealer_org_id=vehicle.dealer_org_id if vehicle else record.dealer_org_id,
            oem_org_id=vehicle.oem_org_id if vehicle else None,
            supervisor_org_id=record.supervisor_org_id,
            vehicle_id=vehicle.id if vehicle else None,
            vin=vin,
            bill_id=vehicle.bill_id if vehicle else None,
            audit_id=record.id,
            message=f"audit {record.id}: {why} ({vin})",
            data={"certificate_seen": certificate_no, "location": location, "photo": photo_ref},
            now=now,
        )
    audit_log.record(
        session,
        actor,
        "floorplan.audit_check",
        "fp_inventory_audit",
        record.id,
        after={"vin": vin, "result": result, "photo_ref": photo_ref, "location": location},
    )
    return check


def close_audit(
    session: Session,
    actor: Actor,
    live: LiveEmitter | None,
    audit_id: int,
    *,
    now: datetime | None = None,
) -> InventoryAudit:
    """Every sampled car not checked is missing: out of trust unless it left legitimately."""
    now = now or utcnow()
    record = _open_audit_for(session, actor, audit_id)
    pending = session.scalars(
        select(AuditCheck).where(AuditCheck.audit_id == record.id, AuditCheck.result == "pending")
    ).all()
    vehicles = {
        v.id: v
        for v in session.scalars(
            select(Vehicle)
            .where(Vehicle.id.in_([c.vehicle_id for c in pending]))
            .order_by(Vehicle.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    for check in pending:
        check.result = "missing"
        vehicle = vehicles.get(check.vehicle_id)
        if vehicle is not None and vehicle.status == "in_stock":
            declare_out_of_trust(
                session,
                actor,
                live,
                vehicle,
                reason=f"missing at inventory audit {record.id}",
                now=now,
                audit_id=record.id,
            )
        elif vehicle is not None:
            check.note = f"left the yard as {vehicle.status} during the audit"
            check.result = "present"
    session.flush()
    counts = dict(
        session.execute(
            select(AuditCheck.result, func.count())
            .where(AuditCheck.audit_id == record.id)
            .group_by(AuditCheck.result)
        ).all()
    )
    record.present_count = counts.get("present", 0)
    record.missing_count = counts.get("missing", 0)
    record.mismatch_count = counts.get("mismatch", 0)
    record.extra_count = counts.get("extra", 0)
    record.status = "closed"
    record.closed_at = now
    record.closed_by = actor.username
    audit_log.record(
        session,
        actor,
        "floorplan.audit_closed",
        "fp_inventory_audit",
        record.id,
        before={"status": "open"},
        after={"status": "closed", **{k: v for k, v in counts.items()}},
    )
    return record


def schedule_audits(session: Session, actor: Actor, *, now: datetime | None = None) -> dict:
    """Job: open an audit of each yard whose dealer's risk tier says it is due."""
    now = now or utcnow()
    yards = session.scalars(
        select(Warehouse)
        .where(
            select(Vehicle.id)
            .where(Vehicle.warehouse_id == Warehouse.id, Vehicle.status == "in_stock")
            .exists()
        )
        .order_by(Warehouse.id)
    ).all()
    opened = []
    for warehouse in yards:
        last = session.scalar(
            select(func.max(InventoryAudit.opened_at)).where(
                InventoryAudit.warehouse_id == warehouse.id
            )
        )
        is_open = session.scalar(
            select(InventoryAudit.id).where(
                InventoryAudit.warehouse_id == warehouse.id, InventoryAudit.status == "open"
            )
        )
        if is_open is not None:
            continue
        tier = rules.dealer_risk_tier(dealer_facts(session, warehouse.dealer_org_id, now))
        if last is not None and now - last < timedelta(days=rules.AUDIT_INTERVAL_DAYS[tier]):
            continue
        record = open_audit(session, actor, warehouse.id, trigger="scheduled", now=now)
        opened.append(record.id)
    return {"opened": len(opened), "audit_ids": opened[:50]}
