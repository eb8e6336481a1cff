"""Cash tasks as people handle them: a teller makes one, another person approves it
(maker-checker), somebody cancels it before it is opened, a checker reviews a count mismatch.

Who: makers are tellers (or admins) of the task's branch; the checker is a teller, an approver
or an admin who is neither the maker nor one of the loaders. Tasks are visible to the staff of
their branch (and head office); anyone else gets 404. Every change is audited and pushed as
``cash_task.update`` to the branch (the one-time code only ever to the two loaders).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.access import can_see_branch, ensure_branch_staff
from backend.branch.cash import rules
from backend.branch.cash.codes import CodeBox
from backend.branch.models import CashTask
from backend.branch.runtime import Hall
from backend.identity.models import User
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
from backend.platform.live import rooms_for
from backend.platform.money import format_money
from backend.platform.pagination import Page, paginate

MAKER_ROLES = ("teller",)
CHECKER_ROLES = ("teller", "approver")


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


def active_loader(session: Session, user_id: object, branch_id: str, field: str) -> User:
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.role != "loader" or not user.active or user.branch_id != branch_id:
        raise BusinessRuleViolation(
            f"{field} must be an active loader of {branch_id}",
            code="invalid_loader",
            details={field: ["an active loader of the branch"]},
        )
    return user


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


def _get(session: Session, actor: Actor, task_id: int, *, lock: bool = False) -> CashTask:
    stmt = select(CashTask).where(CashTask.id == task_id)
    if lock:
        stmt = stmt.with_for_update()
    task = session.scalar(stmt)
    if task is None or not can_see_branch(actor, task.branch_id):
        raise NotFound("cash task not found", code="cash_task_not_found")
    return task


def get_task(
    session: Session, actor: Actor, hall: Hall, task_id: int, now: datetime | None = None
) -> dict[str, Any]:
    task = _get(session, actor, task_id)
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
    task = _get(session, actor, task_id, lock=True)
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
    task = _get(session, actor, task_id, lock=True)
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
    task = _get(session, actor, task_id, lock=True)
    _checker(actor, task)
    if task.phase not in ("count_mismatch", "booking_failed"):
        raise BusinessRuleViolation("nothing to review", code="nothing_to_review")
    if not note.strip():
        raise ValidationFailed("a review needs a note", details={"note": ["required"]})
    from backend.branch.cash.flow import book_and_load

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
