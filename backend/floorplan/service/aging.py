"""Aging: a car long in stock ties up credit and loses value. Alerts at the programme's
thresholds (default 90, 120 and 180 days: weak, medium, strong), once per car and threshold."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.floorplan import rules
from backend.floorplan.models import CreditLine, Programme, Vehicle
from backend.floorplan.service.alerts import raise_alert
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.live import LiveEmitter


def scan_aging(
    session: Session,
    actor: Actor,
    live: LiveEmitter | None,
    *,
    now=None,
    limit: int = 20000,
    dealer_ids: list[int] | None = None,
) -> dict:
    now = now or utcnow()
    raised = 0
    for programme in session.scalars(select(Programme).where(Programme.status == "active")):
        thresholds = sorted(programme.aging_days)
        cutoff = now - timedelta(days=thresholds[0])
        rows = session.scalars(
            select(Vehicle)
            .join(CreditLine, CreditLine.dealer_org_id == Vehicle.dealer_org_id)
            .where(
                CreditLine.programme_id == programme.id,
                Vehicle.status == "in_stock",
                Vehicle.pledged_at <= cutoff,
                Vehicle.aging_level < thresholds[-1],
                Vehicle.dealer_org_id.in_(dealer_ids) if dealer_ids is not None else True,
            )
            .order_by(Vehicle.id)
            .limit(limit)
        ).all()
        for v in rows:
            days = rules.days_between(v.pledged_at, now)
            level = rules.aging_level(days, thresholds)
            if level <= v.aging_level:
                continue
            severity = rules.aging_severity(level, thresholds)
            raise_alert(
                session,
                actor,
                live,
                kind="aging",
                severity=severity,
                dedup_key=f"aging:{v.vin}:{level}",
                dealer_org_id=v.dealer_org_id,
                oem_org_id=v.oem_org_id,
                vehicle_id=v.id,
                vin=v.vin,
                bill_id=v.bill_id,
                message=f"car {v.vin} has been in stock {days} days (threshold {level})",
                data={"days_in_stock": days, "threshold": level, "outstanding": v.outstanding},
                now=now,
            )
            v.aging_level = level
            raised += 1
    return {"raised": raised}
