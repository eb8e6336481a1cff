"""Vehicle alerts: raised once per ``dedup_key`` (a repeat counts an occurrence), pushed on
Socket.IO ``vehicle.alert`` to the dealer's org, the OEM's org, the supervisor's org when the
alert concerns its yard, and the bank roles, and only after the transaction commits (a rolled
back change never notifies anyone). Severity: hard > strong > medium > weak (the bank's risk
levels); a repeat with a higher severity escalates the alert and pushes it again.

Whoever sees an alert may acknowledge it; bank staff resolve it. Listing and reading alerts is
in ``backend.floorplan.queries``; pushes go through the platform's after-commit queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.floorplan import rules
from backend.floorplan.access import BANK_ROLES
from backend.floorplan.models import Alert
from backend.floorplan.queries import visible_alert
from backend.platform import audit
from backend.platform.after_commit import push_live
from backend.platform.clock import isoformat, utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, PermissionDenied
from backend.platform.live import LiveEmitter, rooms_for

EVENT = "vehicle.alert"


# --------------------------------------------------------------------------- raising


def plain(value: Any) -> Any:
    """JSON-safe copy: Decimal and other values as strings, datetimes in ISO 8601."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return isoformat(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def alert_rooms(alert: Alert) -> list[str]:
    orgs = [o for o in (alert.dealer_org_id, alert.oem_org_id, alert.supervisor_org_id) if o]
    return rooms_for(orgs=orgs, roles=BANK_ROLES)


def raise_alert(
    session: Session,
    actor: Actor,
    live: LiveEmitter | None,
    *,
    kind: str,
    severity: str,
    dedup_key: str,
    dealer_org_id: int,
    message: str,
    oem_org_id: int | None = None,
    supervisor_org_id: int | None = None,
    vehicle_id: int | None = None,
    vin: str | None = None,
    bill_id: int | None = None,
    audit_id: int | None = None,
    data: dict | None = None,
    now: datetime | None = None,
) -> tuple[Alert, bool]:
    """Returns (alert, created). A repeat bumps ``occurrences``; it is pushed again only when
    it escalates or reopens a resolved alert."""
    rules.validate_choice(severity, rules.SEVERITIES, "severity", "invalid_severity")
    now = now or utcnow()
    existing = session.scalar(select(Alert).where(Alert.dedup_key == dedup_key).with_for_update())
    if existing is None:
        alert = Alert(
            dedup_key=dedup_key,
            kind=kind,
            severity=severity,
            status="open",
            dealer_org_id=dealer_org_id,
            oem_org_id=oem_org_id,
            supervisor_org_id=supervisor_org_id,
            vehicle_id=vehicle_id,
            vin=vin,
            bill_id=bill_id,
            audit_id=audit_id,
            message=message[:300],
            data=plain(data or {}),
            occurrences=1,
            first_seen_at=now,
            last_seen_at=now,
        )
        try:
            with session.begin_nested():
                session.add(alert)
                session.flush()
        except IntegrityError:  # raised concurrently: count it as a repeat
            existing = session.scalar(select(Alert).where(Alert.dedup_key == dedup_key))
            if existing is None:
                raise
        else:
            audit.record(
                session,
                actor,
                "floorplan.alert_raised",
                "fp_alert",
                alert.id,
                after={"kind": kind, "severity": severity, "vin": vin, "key": dedup_key},
            )
            push_live(session, live, EVENT, alert, alert_rooms(alert))
            return alert, True
    before = {"severity": existing.severity, "status": existing.status}
    existing.occurrences += 1
    existing.last_seen_at = now
    escalated = rules.severity_rank(severity) > rules.severity_rank(existing.severity)
    reopened = existing.status == "resolved"
    if escalated:
        existing.severity = severity
        existing.message = message[:300]
    if reopened:
        existing.status = "open"
        existing.resolved_at = existing.resolved_by = None
    if escalated or reopened:
        audit.record(
            session,
            actor,
            "floorplan.alert_escalated" if escalated else "floorplan.alert_reopened",
            "fp_alert",
            existing.id,
            before=before,
            after={"severity": existing.severity, "status": existing.status},
        )
        push_live(session, live, EVENT, existing, alert_rooms(existing))
    return existing, False


# --------------------------------------------------------------------------- handling


def acknowledge_alert(
    session: Session, actor: Actor, alert_id: int, *, now: datetime | None = None
) -> Alert:
    """Whoever sees the alert may acknowledge it (it stays open for the bank to resolve)."""
    alert = visible_alert(actor, session.get(Alert, alert_id, with_for_update=True))
    if alert.status == "resolved":
        raise BusinessRuleViolation("alert is already resolved", code="alert_resolved")
    if alert.status == "open":
        alert.status = "acknowledged"
        alert.acknowledged_by = actor.username
        alert.acknowledged_at = now or utcnow()
        audit.record(
            session,
            actor,
            "floorplan.alert_acknowledged",
            "fp_alert",
            alert.id,
            before={"status": "open"},
            after={"status": "acknowledged"},
        )
    return alert


def resolve_alert(
    session: Session, actor: Actor, alert_id: int, *, note: str | None = None, now=None
) -> Alert:
    """Bank staff close an alert after handling it."""
    alert = visible_alert(actor, session.get(Alert, alert_id, with_for_update=True))
    if actor.role not in BANK_ROLES:
        raise PermissionDenied("only bank staff resolve alerts", code="forbidden")
    if alert.status != "resolved":
        before = {"status": alert.status}
        alert.status = "resolved"
        alert.resolved_by = actor.username
        alert.resolved_at = now or utcnow()
        if note:
            alert.data = {**(alert.data or {}), "resolution_note": note[:300]}
        audit.record(
            session,
            actor,
            "floorplan.alert_resolved",
            "fp_alert",
            alert.id,
            before=before,
            after={"status": "resolved", "note": note},
        )
    return alert


def resolve_vehicle_alerts(
    session: Session,
    actor: Actor,
    vehicle_ids: Sequence[int],
    kinds: tuple[str, ...],
    now: datetime,
) -> int:
    """Close the routine alerts of cars that were repaid (aging, curtailment)."""
    rows = session.scalars(
        select(Alert).where(
            Alert.vehicle_id.in_(vehicle_ids), Alert.kind.in_(kinds), Alert.status != "resolved"
        )
    ).all()
    for alert in rows:
        alert.status = "resolved"
        alert.resolved_by = actor.username
        alert.resolved_at = now
    return len(rows)
