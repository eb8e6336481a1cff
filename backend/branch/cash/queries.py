"""Cash tasks' read side: one task (its loaders also see the one-time code while the unlock is
valid), the tasks of the branches the caller may see, a task's view, and the device area's
probe (is a cash task open for this machine?, the safe-door rule). Reads only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.access import ensure_branch_staff
from backend.branch.cash import rules
from backend.branch.cash.tasks import find_task, task_view
from backend.branch.models import CashTask
from backend.branch.runtime import Hall
from backend.platform.clock import ensure_utc
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.pagination import Page, paginate

__all__ = ["get_task", "list_tasks", "open_task_for_device", "task_view"]


def get_task(
    session: Session, actor: Actor, hall: Hall, task_id: int, now: datetime | None = None
) -> dict[str, Any]:
    task = find_task(session, actor, task_id)
    return task_view(session, task, viewer=actor, hall=hall, now=now)


def list_tasks(
    session: Session,
    actor: Actor,
    *,
    branch_id: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    stmt = select(CashTask)
    if branch_id is not None:
        ensure_branch_staff(session, actor, branch_id)
        stmt = stmt.where(CashTask.branch_id == branch_id)
    elif actor.branch_id is not None and not actor.is_admin:
        stmt = stmt.where(CashTask.branch_id == actor.branch_id)
    elif not (actor.is_admin or actor.is_bank_staff):
        return Page(items=[], next_cursor=None)
    if status is not None:
        if status not in rules.STATUSES:
            raise ValidationFailed("unknown status", details={"status": list(rules.STATUSES)})
        stmt = stmt.where(CashTask.status == status)
    return paginate(session, stmt, CashTask.id, limit=limit, cursor=cursor, descending=True)


def open_task_for_device(session: Session, device_id: str, now: datetime) -> bool:
    """The device area's probe (safe door opened): a task whose lock was opened and that is
    not closed yet, or an approved task inside its window whose unlock was just sent (the
    lock's ``unlocked`` and the machine's ``door opened`` travel separately and may cross)."""
    tasks = session.scalars(
        select(CashTask).where(
            CashTask.device_id == device_id, CashTask.status.in_(("approved", "unlocked", "loaded"))
        )
    )
    for task in tasks:
        if task.status in ("unlocked", "loaded"):
            return True
        if task.phase != "armed":
            continue
        start = ensure_utc(task.window_start) - timedelta(minutes=5)
        if rules.in_window(start, ensure_utc(task.window_end), now):
            return True
    return False
