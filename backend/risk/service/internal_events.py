"""The bank's own risk events (vehicle out of trust, margin shortfall, overdue loan, ...),
recorded by other areas in their own transaction.

``record_internal_event(session, actor, org_id=... | credit_code=..., source="floorplan",
kind=..., severity=..., data=..., source_time=...)`` validates the event like a feed record,
stores it (idempotent by ``external_id``, else by content) and re-evaluates the enterprise at
once, so that a hard signal raised by it blocks the very next disbursement.  An org without an
enterprise gets a placeholder enterprise (named after the org, credit code unknown until a
registry record with that name arrives) so that nothing is lost."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.identity.models import Org
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import NotFound, ValidationFailed
from backend.platform.live import LiveEmitter
from backend.risk import catalog
from backend.risk.creditcode import is_valid_credit_code, normalize_credit_code, normalize_name
from backend.risk.intake.ingest import check_source
from backend.risk.intake.records import Rejection, parse_record
from backend.risk.models import Enterprise, RiskEvent
from backend.risk.monitoring.live import evaluate_enterprises


def enterprise_for_org(session: Session, org_id: int, *, create: bool, now: datetime) -> Enterprise:
    ent = session.scalar(select(Enterprise).where(Enterprise.org_id == org_id))
    if ent is not None or not create:
        if ent is None:
            raise NotFound("no enterprise for this org", code="risk_enterprise_not_found")
        return ent
    org = session.get(Org, org_id)
    if org is None:
        raise NotFound("org not found", code="org_not_found")
    ent = Enterprise(
        credit_code=None,
        name=org.name,
        normalized_name=normalize_name(org.name)[:200],
        org_id=org.id,
        status="in_business",
        attributes={"placeholder": True},
        created_at=now,
        updated_at=now,
    )
    session.add(ent)
    session.flush()
    return ent


def record_internal_event(
    session: Session,
    actor: Actor,
    *,
    org_id: int | None = None,
    credit_code: str | None = None,
    source: str = "floorplan",
    kind: str,
    severity: str | None = None,
    data: dict[str, Any] | None = None,
    source_time: datetime | None = None,
    external_id: str | None = None,
    live: LiveEmitter | None = None,
    now: datetime | None = None,
) -> RiskEvent:
    """Record one of the bank's own risk events and re-evaluate the enterprise now.

    ``external_id`` makes the call idempotent (the same id again returns the first event);
    without it one is derived from the content.  Returns the stored event."""
    now = now or utcnow()
    check_source(source)
    if kind not in catalog.INTERNAL_KINDS:
        raise ValidationFailed(
            f"kind must be one of {', '.join(catalog.INTERNAL_KINDS)}",
            details={"kind": [f"one of {catalog.INTERNAL_KINDS}"]},
        )
    if (org_id is None) == (credit_code is None):
        raise ValidationFailed(
            "give exactly one of org_id or credit_code", code="invalid_enterprise"
        )
    when = source_time or now
    raw: dict[str, Any] = {
        "record_id": external_id or "",
        "kind": kind,
        "time": when.isoformat(),
        "data": data or {},
        "name": "placeholder",
    }
    if severity is not None:
        raw["severity"] = severity
    if not external_id:
        digest = hashlib.sha256(
            json.dumps(
                [org_id, credit_code, kind, raw["time"], data], sort_keys=True, default=str
            ).encode()
        ).hexdigest()[:32]
        raw["record_id"] = f"{kind}-{digest}"
    parsed = parse_record(raw, 0, now=now)
    if isinstance(parsed, Rejection):
        raise ValidationFailed(parsed.message, code=parsed.reason)
    if org_id is not None:
        ent = enterprise_for_org(session, org_id, create=True, now=now)
    else:
        code = normalize_credit_code(credit_code)
        if not is_valid_credit_code(code):
            raise ValidationFailed("credit_code fails its check", code="invalid_credit_code")
        ent = session.scalar(select(Enterprise).where(Enterprise.credit_code == code))
        if ent is None:
            raise NotFound("no enterprise with this credit code", code="risk_enterprise_not_found")
    existing = session.scalar(
        select(RiskEvent).where(
            RiskEvent.source == source, RiskEvent.external_id == parsed.record_id
        )
    )
    if existing is not None:
        return existing
    event = RiskEvent(
        enterprise_id=ent.id,
        source=source,
        external_id=parsed.record_id,
        category=parsed.category,
        kind=parsed.kind,
        severity=parsed.severity,
        title=catalog.KINDS[kind].label,
        data=parsed.data,
        source_time=parsed.time,
        ingested_at=now,
        known_at=now,
        content_hash=parsed.content_hash,
    )
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:  # the same event recorded concurrently
        return session.scalar(
            select(RiskEvent).where(
                RiskEvent.source == source, RiskEvent.external_id == parsed.record_id
            )
        )
    audit.record(
        session,
        actor,
        "risk.internal_event_recorded",
        "risk_event",
        event.id,
        after={"enterprise_id": ent.id, "kind": kind, "source": source, "data": parsed.data},
    )
    evaluate_enterprises(session, [ent.id], now=now, live=live)
    return event
