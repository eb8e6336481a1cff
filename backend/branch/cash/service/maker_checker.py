"""Cash tasks as people handle them: a teller makes one, another person approves it
(maker-checker), somebody cancels it before it is opened, a checker reviews a count mismatch.

Who: makers are tellers (or admins) of the task's branch; the checker is a teller, an approver
or an admin who is neither the maker nor one of the loaders. Every change is audited and pushed
as ``cash_task.update`` to the branch (tasks.push). A review books the counted notes through
the same step as the device flow (flow.book_and_load).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.access import active_loader, can_see_branch, ensure_branch_staff
from backend.branch.cash import rules
from backend.branch.cash.service.flow import book_and_load
from backend.branch.cash.tasks import find_task, push, task_ref, task_view
from backend.branch.models import CashTask
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.clock import ensure_utc, isoformat
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from backend.platform.money import format_money

MAKER_ROLES = ("teller",)
CHECKER_ROLES = ("teller", "approver")


def _lock_for(
    session: Session, branch_id: str, device_id: str, lock_id: str | None
) -> devices_port.DeviceInfo:
    locks = devices_port.devices_of(session, branch_id, "lock")
    if lock_id is not None:
        lock = next((d for d in locks if d.device_id == lock_id), None)
    else:
        paired = [d for d in locks if d.desired.get("cash_device_id") == device_id]
        suffix = device_id.rsplit("-", 1)[-1]
        by_number = [d for d in locks if d.device_id.rsplit("-", 1)[-1] == suffix]
        candidates = paired or by_number or (locks if len(locks) == 1 else [])
        lock = candidates[0] if len(candidates) == 1 else None
    if lock is None:
        raise BusinessRuleViolation(
            "no vein lock for this device; name it with lock_id",
            code="lock_not_found",
            details={"lock_id": ["a vein lock of the branch"]},
        )
    return lock


def create_task(
    session: Session,
    actor: Actor,
    hall: Hall,
    *,
    device_id: str,
    loaders: list[int],
    window_start: datetime,
    window_end: datetime,
    amounts: dict[str, Any],
    lock_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = hall.now(now)
    device = devices_port.find_device(session, device_id)
    if device is None or not can_see_branch(actor, device.branch_id):
        raise NotFound("device not found", code="device_not_found")
    ensure_branch_staff(session, actor, device.branch_id, *MAKER_ROLES)
    if device.device_type != "cash":
        raise BusinessRuleViolation("not a cash machine", code="not_a_cash_device")
    if device.status == "retired":
        raise BusinessRuleViolation("device is retired", code="device_retired")
    if len(loaders) != 2 or loaders[0] == loaders[1]:
        raise ValidationFailed(
            "two different loaders",
            code="two_loaders_required",
            details={"loaders": ["two different loader ids"]},
        )
    first = active_loader(session, loaders[0], device.branch_id, "loaders[0]")
    second = active_loader(session, loaders[1], device.branch_id, "loaders[1]")
    rules.check_window(ensure_utc(window_start), ensure_utc(window_end), now)
    planned = rules.parse_amounts(amounts)
    lock = _lock_for(session, device.branch_id, device_id, lock_id)
    busy = session.scalar(
        select(CashTask.id).where(
            CashTask.device_id == device_id, CashTask.status.in_(rules.OPEN_STATUSES)
        )
    )
    if busy is not None:
        raise Conflict(
            f"cash task {busy} is open for this device",
            code="open_task_exists",
            details={"task_id": busy},
        )
    task = CashTask(
        branch_id=device.branch_id,
        device_id=device_id,
        lock_id=lock.device_id,
        loader1_id=first.id,
        loader2_id=second.id,
        amounts={d: format_money(a) for d, a in sorted(planned.items())},
        total=sum(planned.values(), Decimal("0")),
        window_start=ensure_utc(window_start),
        window_end=ensure_utc(window_end),
        status="planned",
        phase="awaiting_approval",
        maker_id=actor.user_id,
        verifications={},
        counts={},
        loaded={},
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    session.flush()
    audit.record(
        session,
        actor,
        "cash_task.created",
        "cash_task",
        task.id,
        after={
            "device_id": device_id,
            "lock_id": task.lock_id,
            "amounts": task.amounts,
            "loaders": [first.id, second.id],
            "window": [isoformat(task.window_start), isoformat(task.window_end)],
        },
    )
    push(session, hall, task)
    return task_view(session, task)


def _checker(actor: Actor, task: CashTask) -> None:
    if actor.role not in CHECKER_ROLES and not actor.is_admin:
        raise PermissionDenied(
            "only a teller, an approver or an admin checks cash tasks",
            details={"required_roles": list(CHECKER_ROLES)},
        )
    if actor.user_id == task.maker_id:
        raise PermissionDenied(
            "the maker of a task cannot approve it (maker-checker)", code="maker_cannot_check"
        )
    if actor.user_id in (task.loader1_id, task.loader2_id):
        raise PermissionDenied("a loader of the task cannot check it", code="loader_cannot_check")


def approve_task(
    session: Session, actor: Actor, hall: Hall, task_id: int, now: datetime | None = None
) -> dict[str, Any]:
    now = hall.now(now)
    task = find_task(session, actor, task_id, lock=True)
    _checker(actor, task)
    if task.status != "planned":
        raise BusinessRuleViolation(f"task is {task.status}", code="task_not_planned")
    if ensure_utc(task.window_end) <= now:
        raise BusinessRuleViolation("the task's window is over", code="window_over")
    task.status, task.phase = "approved", "awaiting_loaders"
    task.checker_id, task.approved_at, task.updated_at = actor.user_id, now, now
    audit.record(
        session,
        actor,
        "cash_task.approved",
        "cash_task",
        task.id,
        {"status": "planned"},
        {"status": "approved", "checker_id": actor.user_id},
    )
    push(session, hall, task)
    return task_view(session, task)


def cancel_task(
    session: Session,
    actor: Actor,
    hall: Hall,
    task_id: int,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Before the lock opened; once cash is in play the task ends by counting, not cancelling."""
    now = hall.now(now)
    task = find_task(session, actor, task_id, lock=True)
    if actor.role not in ("teller", "approver") and not actor.is_admin:
        raise PermissionDenied("tellers, approvers and admins cancel cash tasks")
    if task.status not in ("planned", "approved"):
        raise BusinessRuleViolation(f"task is {task.status}", code="task_not_cancellable")
    before = {"status": task.status, "phase": task.phase}
    if task.phase == "armed":
        hall.command(session, task.lock_id, "lock.disarm", {"task_id": task_ref(task)})
    task.status, task.phase = "cancelled", "cancelled"
    task.cancelled_at, task.updated_at, task.code_ciphertext = now, now, None
    task.review_note = (reason or "")[:200] or task.review_note
    audit.record(
        session,
        actor,
        "cash_task.cancelled",
        "cash_task",
        task.id,
        before,
        {"status": "cancelled", "reason": reason[:200]},
    )
    push(session, hall, task)
    return task_view(session, task)


def review_task(
    session: Session,
    actor: Actor,
    hall: Hall,
    task_id: int,
    *,
    note: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A checker accepts the counted notes of a mismatched task: they are booked as counted
    (the difference is the branch's to explain, with the note) and the task can close."""
    now = hall.now(now)
    task = find_task(session, actor, task_id, lock=True)
    _checker(actor, task)
    if task.phase not in ("count_mismatch", "booking_failed"):
        raise BusinessRuleViolation("nothing to review", code="nothing_to_review")
    if not note.strip():
        raise ValidationFailed("a review needs a note", details={"note": ["required"]})
    before = {"phase": task.phase, "review": task.review}
    task.review_note = note.strip()[:200]
    book_and_load(session, hall, task, now, accepted_by=actor)
    audit.record(
        session,
        actor,
        "cash_task.reviewed",
        "cash_task",
        task.id,
        before,
        {"phase": task.phase, "loaded": task.loaded, "note": task.review_note},
    )
    return task_view(session, task)
