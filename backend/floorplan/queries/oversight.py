"""Reading oversight: inventory audits with their checks, and vehicle alerts.

A supervisor sees the audits of its yards, a dealer those of its own; alerts go to the dealer,
the OEM, the supervisor of the yard concerned and bank staff. Lists are newest first. Nothing
here writes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.floorplan import rules
from backend.floorplan.models import Alert, AuditCheck, InventoryAudit
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import can_see

# --------------------------------------------------------------------------- audits


def get_audit(session: Session, actor: Actor, audit_id: int) -> InventoryAudit:
    record = session.get(InventoryAudit, audit_id)
    orgs = [record.supervisor_org_id, record.dealer_org_id] if record else []
    if record is None or not can_see(actor, orgs):
        raise NotFound("audit not found", code="audit_not_found")
    return record


def audit_checks(session: Session, record: InventoryAudit) -> list[AuditCheck]:
    return list(
        session.scalars(
            select(AuditCheck).where(AuditCheck.audit_id == record.id).order_by(AuditCheck.id)
        )
    )


def list_audits(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    warehouse_id: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    stmt = select(InventoryAudit)
    if not actor.is_bank_staff:
        stmt = stmt.where(
            (InventoryAudit.supervisor_org_id == actor.org_id)
            | (InventoryAudit.dealer_org_id == actor.org_id)
        )
    if status is not None:
        rules.validate_choice(status, ("open", "closed"), "status", "invalid_status")
        stmt = stmt.where(InventoryAudit.status == status)
    if warehouse_id is not None:
        stmt = stmt.where(InventoryAudit.warehouse_id == warehouse_id)
    return paginate(session, stmt, InventoryAudit.id, limit=limit, cursor=cursor, descending=True)


# --------------------------------------------------------------------------- alerts


def visible_alert(actor: Actor, alert: Alert | None) -> Alert:
    """The alert if the caller may see it (its dealer, OEM, yard's supervisor, bank staff);
    else, or when there is none, 404 ``alert_not_found``."""
    orgs = [alert.dealer_org_id, alert.oem_org_id, alert.supervisor_org_id] if alert else []
    if alert is None or not can_see(actor, orgs):
        raise NotFound("alert not found", code="alert_not_found")
    return alert


def list_alerts(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    severity: str | None = None,
    kind: str | None = None,
    dealer_id: int | None = None,
    vin: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Newest first. Dealers see their own, OEMs their dealers', supervisors their yards'."""
    stmt = select(Alert)
    if not actor.is_bank_staff:
        org = actor.org_id
        stmt = stmt.where(
            (Alert.dealer_org_id == org)
            | (Alert.oem_org_id == org)
            | (Alert.supervisor_org_id == org)
        )
    if status is not None:
        rules.validate_choice(status, rules.ALERT_STATUSES, "status", "invalid_status")
        stmt = stmt.where(Alert.status == status)
    if severity is not None:
        rules.validate_choice(severity, rules.SEVERITIES, "severity", "invalid_severity")
        stmt = stmt.where(Alert.severity == severity)
    if kind is not None:
        stmt = stmt.where(Alert.kind == kind)
    if dealer_id is not None:
        stmt = stmt.where(Alert.dealer_org_id == dealer_id)
    if vin is not None:
        stmt = stmt.where(Alert.vin == vin)
    return paginate(session, stmt, Alert.id, limit=limit, cursor=cursor, descending=True)


def get_alert(session: Session, actor: Actor, alert_id: int) -> Alert:
    return visible_alert(actor, session.get(Alert, alert_id))
