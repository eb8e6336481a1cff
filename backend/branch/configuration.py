"""A branch's hall configured in one go (admin): its time zone, the services it offers and its
counters (name, skills, the caller device at the window), as ``POST /api/v1/branches`` and
``finedge branches add|configure`` set them up; and the same read back.

The branch itself (code, name, org, opening hours) is the identity area's; this is what the
hall inside it runs by. Services and counters go through the queue's own use cases
(``queue.service.configure_services``, ``upsert_counter``), so they are audited and the queue
is told as when an admin changes them one at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.access import ensure_branch_staff
from backend.branch.halls import get_hall
from backend.branch.models import DEFAULT_TIMEZONE, BranchHall, HallService
from backend.branch.queue import service as queue
from backend.branch.queue.snapshot import counters_of, services_of
from backend.branch.queue.views import counter_view
from backend.branch.runtime import Hall
from backend.platform import audit, changes
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed


def check_timezone(name: str) -> str:
    try:
        if not isinstance(name, str) or not name or len(name) > 40:
            raise ValueError(name)
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValidationFailed(
            f"unknown time zone {name!r}",
            code="unknown_timezone",
            details={"timezone": ["an IANA time zone, e.g. Asia/Shanghai"]},
        ) from None
    return name


def hall_configuration(session: Session, branch_id: str) -> dict[str, Any]:
    """The hall's time zone, active services and counters (no access check: callers do)."""
    zone = session.scalar(select(BranchHall.timezone).where(BranchHall.branch_id == branch_id))
    return {
        "timezone": zone or DEFAULT_TIMEZONE,
        "services": sorted(code for code, s in services_of(session, branch_id).items() if s.active),
        "counters": [counter_view(c) for c in counters_of(session, branch_id)],
    }


def configure_hall(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    *,
    timezone: str | None = None,
    services: Iterable[str] | None = None,
    counters: Iterable[Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Set what is given (admin): the time zone (ticket days and statistics follow it), the
    services offered (the others become inactive), and each counter of ``counters``
    (``{"counter_id", "name", "skills", "device_id"}``: created, or changed where given)."""
    now = hall.now(now)
    ensure_branch_staff(session, actor, branch_id, "admin")
    if timezone is not None:
        check_timezone(timezone)
        row = get_hall(session, branch_id, lock=True)
        if row.timezone != timezone:
            before = row.timezone
            row.timezone, row.updated_at = timezone, now
            changes.touch(session, branch_id, "hall")  # the edge's counter map says it
            audit.record(
                session,
                actor,
                "branch.timezone",
                "branch",
                branch_id,
                {"timezone": before},
                {"timezone": timezone},
            )
    if services is not None:
        queue.configure_services(session, actor, branch_id, list(services), now)
    for counter in counters or ():
        queue.upsert_counter(
            session,
            actor,
            hall,
            branch_id,
            counter["counter_id"],
            name=counter.get("name"),
            skills=counter.get("skills"),
            device_id=counter.get("device_id"),
            now=now,
        )
    session.flush()
    return hall_configuration(session, branch_id)


def halls_summary(session: Session, branch_ids: list[str]) -> dict[str, dict[str, Any]]:
    """For a page of branches: each hall's time zone and active services (two queries)."""
    zones = dict(
        session.execute(
            select(BranchHall.branch_id, BranchHall.timezone).where(
                BranchHall.branch_id.in_(branch_ids)
            )
        ).all()
    )
    offered: dict[str, list[str]] = {b: [] for b in branch_ids}
    for branch_id, code in session.execute(
        select(HallService.branch_id, HallService.code)
        .where(HallService.branch_id.in_(branch_ids), HallService.active.is_(True))
        .order_by(HallService.code)
    ):
        offered[branch_id].append(code)
    return {
        b: {"timezone": zones.get(b, DEFAULT_TIMEZONE), "services": offered[b]} for b in branch_ids
    }
