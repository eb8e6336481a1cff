"""A cash task as the rest of cash loading names, finds and shows it: its name on the wire
(``CT<id>``), its loaders as the vein lock knows them (their usernames), the task looked up
for a caller (visible to the staff of its branch and head office; anyone else gets 404), its
view (the one-time code only for its two loaders, while the unlock is valid) and its live push
``cash_task.update`` (with the code, to the loaders only).

Both sides use it: what people do with a task (service/maker_checker.py) and what the devices
report (service/flow.py); it imports neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.access import can_see_branch
from backend.branch.cash.codes import CodeBox
from backend.branch.models import CashTask
from backend.branch.runtime import Hall
from backend.identity.models import User
from backend.platform.clock import ensure_utc, isoformat
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.live import rooms_for
from backend.platform.money import format_money


def task_ref(task: CashTask) -> str:
    """The task's name on the wire (lock.arm, cash.enter_exchange)."""
    return f"CT{task.id}"


def task_id_from_ref(ref: object) -> int | None:
    if isinstance(ref, str) and ref.startswith("CT") and ref[2:].isdigit():
        return int(ref[2:])
    return None


def loader_names(session: Session, task: CashTask) -> list[str]:
    """The loaders as the vein lock knows them (their usernames), in task order."""
    names = {
        u.id: u.username
        for u in session.scalars(
            select(User).where(User.id.in_((task.loader1_id, task.loader2_id)))
        )
    }
    return [names.get(task.loader1_id, ""), names.get(task.loader2_id, "")]


def find_task(session: Session, actor: Actor, task_id: int, *, lock: bool = False) -> CashTask:
    stmt = select(CashTask).where(CashTask.id == task_id)
    if lock:
        stmt = stmt.with_for_update()
    task = session.scalar(stmt)
    if task is None or not can_see_branch(actor, task.branch_id):
        raise NotFound("cash task not found", code="cash_task_not_found")
    return task


def task_view(
    session: Session,
    task: CashTask,
    *,
    viewer: Actor | None = None,
    hall: Hall | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": task.id,
        "ref": task_ref(task),
        "branch_id": task.branch_id,
        "device_id": task.device_id,
        "lock_id": task.lock_id,
        "loaders": [task.loader1_id, task.loader2_id],
        "loader_names": loader_names(session, task),
        "amounts": dict(task.amounts),
        "total": format_money(task.total),
        "window_start": isoformat(task.window_start),
        "window_end": isoformat(task.window_end),
        "status": task.status,
        "phase": task.phase,
        "maker_id": task.maker_id,
        "checker_id": task.checker_id,
        "approved_at": isoformat(task.approved_at),
        "verified": sorted(task.verifications or {}),
        "armed_at": isoformat(task.armed_at),
        "unlock_expires_at": isoformat(task.arm_expires_at),
        "unlocked_at": isoformat(task.unlocked_at),
        "counts": task.counts or {},
        "loaded": task.loaded or {},
        "review": task.review,
        "review_note": task.review_note,
        "loaded_at": isoformat(task.loaded_at),
        "door_closed_at": isoformat(task.door_closed_at),
        "closed_at": isoformat(task.closed_at),
        "cancelled_at": isoformat(task.cancelled_at),
        "created_at": isoformat(task.created_at),
    }
    if (
        viewer is not None
        and hall is not None
        and viewer.user_id in (task.loader1_id, task.loader2_id)
        and task.phase == "armed"
        and task.code_ciphertext
        and task.arm_expires_at is not None
        and (now or hall.now()) <= ensure_utc(task.arm_expires_at)
    ):
        view["unlock_code"] = CodeBox(hall.key()).open(task.code_ciphertext)
    return view


def push(session: Session, hall: Hall, task: CashTask, *, code: str | None = None) -> None:
    """``cash_task.update`` to the branch and admins; with the code, to the loaders only."""
    view = task_view(session, task)
    hall.emit(
        session, "cash_task.update", view, rooms_for(branches=[task.branch_id], roles=["admin"])
    )
    if code is not None:
        hall.emit(
            session,
            "cash_task.update",
            {**view, "unlock_code": code},
            rooms_for(users=[task.loader1_id, task.loader2_id]),
        )
