"""The hall's configuration and its counters' status: which services the branch offers (admin),
a counter's name, skills and the caller device at its window (admin), and a counter opened or
closed (teller). A counter serving somebody cannot close.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import rules
from backend.branch.access import QUEUE_STAFF_ROLES, ensure_branch_staff
from backend.branch.halls import lock_hall
from backend.branch.models import HallCounter, HallService
from backend.branch.queue.pushes import queue_changed
from backend.branch.queue.serving import close_shift, get_counter, open_shift
from backend.branch.queue.snapshot import services_of
from backend.branch.queue.views import counter_view
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, ValidationFailed

COUNTER_STATUSES = ("open", "closed", "offline")


def configure_services(
    session: Session, actor: Actor, branch_id: str, codes: list[str], now: datetime
) -> list[HallService]:
    """Offer ``codes`` at the branch (admin); others become inactive. Idempotent."""
    ensure_branch_staff(session, actor, branch_id, "admin")
    unknown = [c for c in codes if c not in rules.SERVICES]
    if unknown or not codes:
        raise ValidationFailed(
            "unknown services", details={"services": [f"from {', '.join(rules.SERVICES)}"]}
        )
    existing = services_of(session, branch_id)
    for code, (name, letter, default_s) in rules.SERVICES.items():
        svc = existing.get(code)
        if svc is None and code in codes:
            svc = HallService(
                branch_id=branch_id,
                code=code,
                name=name,
                prefix=letter,
                default_service_s=default_s,
                active=True,
            )
            session.add(svc)
        elif svc is not None:
            svc.active = code in codes
    session.flush()
    audit.record(session, actor, "branch.services", "branch", branch_id, after={"services": codes})
    return list(services_of(session, branch_id).values())


def upsert_counter(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    counter_id: str,
    *,
    name: str | None = None,
    skills: list[str] | None = None,
    device_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Create or change a counter (admin): its name, skills and the caller device at it."""
    now = hall.now(now)
    ensure_branch_staff(session, actor, branch_id, "admin")
    if skills is not None and (not skills or any(s not in rules.SERVICES for s in skills)):
        raise ValidationFailed("unknown skills", details={"skills": list(rules.SERVICES)})
    lock_hall(session, branch_id)
    counter = session.scalar(
        select(HallCounter).where(
            HallCounter.branch_id == branch_id, HallCounter.counter_id == counter_id
        )
    )
    before = counter_view(counter) if counter is not None else None
    if counter is None:
        if skills is None:
            raise ValidationFailed("skills are required", details={"skills": ["required"]})
        counter = HallCounter(
            branch_id=branch_id,
            counter_id=counter_id,
            name=name or f"Counter {counter_id}",
            skills=list(dict.fromkeys(skills)),
            borrowed_skills=[],
            status="closed",
            device_id=device_id,
            updated_at=now,
        )
        session.add(counter)
    else:
        if name is not None:
            counter.name = name
        if skills is not None:
            counter.skills = list(dict.fromkeys(skills))
        if device_id is not None:
            counter.device_id = device_id or None
        counter.updated_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "branch.counter",
        "branch_counter",
        f"{branch_id}/{counter_id}",
        before,
        counter_view(counter),
    )
    queue_changed(session, hall, branch_id, now)
    return counter_view(counter)


def set_counter_status(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    counter_id: str,
    status: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open or close a counter (teller). A counter serving somebody cannot close."""
    now = hall.now(now)
    ensure_branch_staff(session, actor, branch_id, *QUEUE_STAFF_ROLES)
    if status not in ("open", "closed"):
        raise ValidationFailed("status is open or closed", details={"status": ["open|closed"]})
    lock_hall(session, branch_id)
    counter = get_counter(session, branch_id, counter_id)
    if counter.status == status:
        return counter_view(counter)
    if status == "closed" and counter.current_ticket_id is not None:
        raise BusinessRuleViolation("finish the client first", code="counter_busy")
    before = counter.status
    if status == "open":
        open_shift(session, counter, now)
    else:
        close_shift(session, counter, now)
    counter.status, counter.updated_at = status, now
    audit.record(
        session,
        actor,
        "branch.counter_status",
        "branch_counter",
        f"{branch_id}/{counter_id}",
        {"status": before},
        {"status": status},
    )
    queue_changed(session, hall, branch_id, now)
    return counter_view(counter)
