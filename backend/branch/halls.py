"""A branch's hall row (``BranchHall``): its settings (time zone, face tolerance, remote
ticket lifetime), the queue version, and the lock every queue change of the branch takes first
(``lock_hall``: changes of one branch are serialised, so two counters calling at once never
take the same ticket and ticket numbers never repeat). Also the branch's local day and hour, by
which tickets are numbered and statistics are cut.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.models import BranchHall
from backend.platform.clock import ensure_utc, utcnow


def get_hall(session: Session, branch_id: str, *, lock: bool = False) -> BranchHall:
    """The branch's hall row (created with defaults on first use)."""
    stmt = select(BranchHall).where(BranchHall.branch_id == branch_id)
    if lock:
        stmt = stmt.with_for_update()
    hall = session.scalar(stmt)
    if hall is None:
        hall = BranchHall(branch_id=branch_id, updated_at=utcnow())
        session.add(hall)
        session.flush()
    return hall


def lock_hall(session: Session, branch_id: str) -> BranchHall:
    return get_hall(session, branch_id, lock=True)


def local_day(hall: BranchHall, when: datetime) -> str:
    return ensure_utc(when).astimezone(ZoneInfo(hall.timezone)).date().isoformat()


def local_hour(hall: BranchHall, when: datetime) -> int:
    return ensure_utc(when).astimezone(ZoneInfo(hall.timezone)).hour


WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def is_open(hours: dict | None, timezone: str, when: datetime) -> bool | None:
    """Whether the branch is open at ``when`` by its published opening hours (local times of
    the hall's time zone, ``{"mon": [["09:00", "17:00"]], ...}``); None: not published."""
    if hours is None:
        return None
    local = ensure_utc(when).astimezone(ZoneInfo(timezone))
    clock = local.strftime("%H:%M")
    periods = hours.get(WEEKDAY_KEYS[local.weekday()]) or []
    return any(start <= clock < end for start, end in periods)
