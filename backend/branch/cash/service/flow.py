"""What the vein lock and the cash machine report, and the centre's answers.

    loaders verify at the lock      lock.verification {loader_id, matched}
      centre: the task (approved, in its window), both loaders (matched, on the task, within
      VERIFY_FRESH_S, enrolled on this lock with consent: backend/branch/veins), the devices
      (online, active, lock locked and untampered, machine in service with its safe door
      closed) -> signed ``lock.arm`` (the one-time unlock: task, loaders, the one-time code
      sealed for that lock (``code_mac``: an HMAC keyed by the lock's own secret, computed
      only in the signed payload; the command's row, view and audit say "[sealed for the
      device]"), valid 120 s; the command itself expires in 120 s and carries a nonce the
      lock never accepts twice) and the code to the two loaders
    loaders verify again and enter the code; the lock opens   lock.unlocked {task_id, loaders}
      centre: the unlock it armed, still valid, for exactly the task's loaders -> unlocked,
      ``cash.enter_exchange``. Anything else is a critical alarm: the lock opened without a
      valid unlock, or twice for one task.
    the machine counts          cash.exchange_started, cash.replenished {unit, before, after}
    exchange ends               cash.exchange_ended
      centre: counted notes per denomination against the task -> equal: booked through the
      ledger, loaded; different: major alarm, the task stays open for review
    door closes                 cash.safe_door_closed -> closed (``lock.lock`` to the lock)

One loader alone, a loader not on the task, a time outside the window, a wrong device state:
no ``lock.arm`` is ever sent. A replayed or expired command is refused by the lock itself
(edge/protocol.verify_command); a replayed code finds the lock disarmed after its one opening.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.alarms import raise_and_push
from backend.branch.cash import booking, rules
from backend.branch.cash.codes import CodeBox, new_code
from backend.branch.cash.tasks import loader_names, push, task_id_from_ref, task_ref
from backend.branch.models import CashTask
from backend.branch.runtime import Hall
from backend.branch.veins.queries import missing_enrolments
from backend.platform import audit
from backend.platform.clock import ensure_utc, isoformat
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import DomainError
from backend.platform.live import rooms_for
from edge.protocol import SealedCode

log = logging.getLogger(__name__)

LOCK_EVENTS = ("lock.verification", "lock.unlocked", "lock.locked", "lock.tamper")
CASH_EVENTS = (
    "cash.exchange_started",
    "cash.replenished",
    "cash.exchange_ended",
    "cash.safe_door_opened",
    "cash.safe_door_closed",
)


def _refuse(
    session: Session,
    hall: Hall,
    task: CashTask | None,
    lock_id: str,
    reason: str,
    details: dict[str, Any],
) -> str:
    audit.record(
        session,
        SYSTEM,
        "cash_task.unlock_refused",
        "cash_task",
        task.id if task else f"lock:{lock_id}",
        after={"reason": reason, **details},
    )
    if task is not None:
        hall.emit(
            session,
            "cash_task.update",
            {
                "id": task.id,
                "ref": task_ref(task),
                "status": task.status,
                "phase": task.phase,
                "refused": reason,
                "details": details,
            },
            rooms_for(branches=[task.branch_id], roles=["admin"]),
        )
    return reason


def _task_for_lock(session: Session, lock_id: str, statuses: tuple[str, ...]) -> list[CashTask]:
    return list(
        session.scalars(
            select(CashTask)
            .where(CashTask.lock_id == lock_id, CashTask.status.in_(statuses))
            .order_by(CashTask.id)
            .with_for_update()
        )
    )


def expire_unlock(session: Session, hall: Hall, task: CashTask, now: datetime) -> bool:
    """An unlock not used within its 120 s is void: the code is erased, loaders start over."""
    if task.phase != "armed" or task.arm_expires_at is None:
        return False
    if now <= ensure_utc(task.arm_expires_at):
        return False
    task.phase, task.code_ciphertext, task.verifications = "awaiting_loaders", None, {}
    task.updated_at = now
    hall.command(session, task.lock_id, "lock.disarm", {"task_id": task_ref(task)})
    audit.record(session, SYSTEM, "cash_task.unlock_expired", "cash_task", task.id)
    push(session, hall, task)
    return True


def on_verification(
    session: Session, hall: Hall, lock_id: str, data: dict[str, Any], now: datetime
) -> str:
    loader, matched = data.get("loader_id"), data.get("matched") is True
    tasks = _task_for_lock(session, lock_id, ("approved",))
    for task in tasks:
        expire_unlock(session, hall, task, now)
    current = [
        t
        for t in tasks
        if rules.in_window(ensure_utc(t.window_start), ensure_utc(t.window_end), now)
    ]
    task = current[0] if current else (tasks[0] if tasks else None)
    details = {"loader": str(loader)[:64], "lock_id": lock_id}
    if task is None:
        return _refuse(session, hall, None, lock_id, "no_task", details)
    if not rules.in_window(ensure_utc(task.window_start), ensure_utc(task.window_end), now):
        return _refuse(session, hall, task, lock_id, "outside_window", details)
    if not matched:
        return _refuse(session, hall, task, lock_id, "vein_not_matched", details)
    names = loader_names(session, task)
    if loader not in names:
        return _refuse(session, hall, task, lock_id, "loader_not_on_task", details)
    if task.phase == "armed":
        return "armed"  # the lock's own opening step after the unlock: nothing to decide
    verified = dict(task.verifications or {})
    verified[str(loader)] = isoformat(now)
    fresh = {
        name: at
        for name, at in verified.items()
        if name in names and now - _parse(at) <= timedelta(seconds=rules.VERIFY_FRESH_S)
    }
    task.verifications, task.phase, task.updated_at = fresh, "verifying", now
    audit.record(
        session,
        SYSTEM,
        "cash_task.loader_verified",
        "cash_task",
        task.id,
        after={"loader": loader, "lock_id": lock_id},
    )
    if len(fresh) < 2:
        push(session, hall, task)
        return "verified"
    return arm(session, hall, task, names, now)


def _parse(value: str) -> datetime:
    return ensure_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def arm(session: Session, hall: Hall, task: CashTask, names: list[str], now: datetime) -> str:
    """Both loaders verified: check their enrolment and the devices, then send the one-time
    unlock."""
    missing = missing_enrolments(session, task.lock_id, names)
    if missing:
        task.verifications, task.phase = {}, "awaiting_loaders"
        push(session, hall, task)
        details = {"lock_id": task.lock_id, "loaders": missing}
        return _refuse(session, hall, task, task.lock_id, "loader_not_enrolled", details)
    lock = devices_port.find_device(session, task.lock_id)
    cash = devices_port.find_device(session, task.device_id)
    refusal = rules.device_refusal(lock, cash)
    if refusal is None and task.arms >= rules.MAX_ARMS:
        refusal = "too_many_unlocks"
    if refusal is not None:
        task.verifications, task.phase = {}, "awaiting_loaders"
        push(session, hall, task)
        return _refuse(session, hall, task, task.lock_id, refusal, {"lock_id": task.lock_id})
    code = new_code()
    ref = task_ref(task)
    task.phase, task.armed_at = "armed", now
    task.arm_expires_at = now + timedelta(seconds=rules.UNLOCK_TTL_S)
    task.arms += 1
    task.code_ciphertext = CodeBox(hall.key()).seal(code)
    task.updated_at = now
    hall.command(
        session,
        task.lock_id,
        "lock.arm",
        {
            "task_id": ref,
            "loaders": names,
            "code_mac": SealedCode(ref, code),
            "valid_for_s": rules.UNLOCK_TTL_S,
        },
    )
    audit.record(
        session,
        SYSTEM,
        "cash_task.unlock_sent",
        "cash_task",
        task.id,
        after={
            "lock_id": task.lock_id,
            "expires_at": isoformat(task.arm_expires_at),
            "unlock": task.arms,
        },
    )
    push(session, hall, task, code=code)
    return "armed"


def _task_by_ref(session: Session, ref: object) -> CashTask | None:
    task_id = task_id_from_ref(ref)
    if task_id is None:
        return None
    return session.scalar(select(CashTask).where(CashTask.id == task_id).with_for_update())


def on_unlocked(
    session: Session, hall: Hall, lock_id: str, data: dict[str, Any], now: datetime
) -> str:
    task = _task_by_ref(session, data.get("task_id"))
    loaders = data.get("loaders")
    details = {"task_ref": str(data.get("task_id"))[:40], "loaders": loaders}
    problem = None
    if task is None or task.lock_id != lock_id:
        problem = "unknown_task"
    elif task.status in ("unlocked", "loaded", "closed"):
        problem = "second_opening"
    elif task.status != "approved" or task.phase != "armed":
        problem = "not_armed"
    elif task.arm_expires_at is None or now > ensure_utc(task.arm_expires_at) + timedelta(
        seconds=5
    ):
        problem = "unlock_expired"
    elif not isinstance(loaders, list) or sorted(map(str, loaders)) != sorted(
        loader_names(session, task)
    ):
        problem = "wrong_loaders"
    if problem is not None:
        raise_and_push(
            session,
            hall,
            lock_id,
            "lock_opened_without_valid_unlock",
            "critical",
            f"lock opened without a valid unlock: {problem}",
            details,
            now,
        )
        audit.record(
            session,
            SYSTEM,
            "cash_task.invalid_opening",
            "cash_task",
            task.id if task else f"lock:{lock_id}",
            after={"problem": problem, **details},
        )
        return problem
    task.status, task.phase = "unlocked", "unlocked"
    task.unlocked_at, task.code_ciphertext, task.updated_at = now, None, now
    hall.command(session, task.device_id, "cash.enter_exchange", {"task_id": task_ref(task)})
    audit.record(
        session,
        SYSTEM,
        "cash_task.unlocked",
        "cash_task",
        task.id,
        {"status": "approved"},
        {"status": "unlocked", "loaders": loaders},
    )
    push(session, hall, task)
    return "unlocked"


def _working_task(session: Session, device_id: str, ref: object) -> CashTask | None:
    task = _task_by_ref(session, ref)
    if task is not None and task.device_id == device_id:
        return task
    return session.scalar(
        select(CashTask)
        .where(CashTask.device_id == device_id, CashTask.status.in_(("unlocked", "loaded")))
        .order_by(CashTask.id.desc())
        .with_for_update()
    )


def on_cash_event(
    session: Session,
    hall: Hall,
    device_id: str,
    type_: str,
    data: dict[str, Any],
    now: datetime,
) -> str:
    task = _working_task(session, device_id, data.get("task_id"))
    if task is None or task.status not in ("unlocked", "loaded"):
        return "no_task"
    if type_ == "cash.exchange_started":
        if task.phase == "unlocked":
            task.phase, task.exchange_at, task.updated_at = "exchange", now, now
            push(session, hall, task)
        return "exchange"
    if type_ == "cash.replenished":
        if task.status != "unlocked":
            return "ignored"
        unit = str(data.get("unit"))[:20]
        counts = dict(task.counts or {})
        entry = dict(counts.get(unit) or {})
        try:
            entry.setdefault("before", int(data.get("before")))
            entry["after"] = int(data.get("after"))
        except (TypeError, ValueError):
            return "ignored"
        entry["denomination"] = str(data.get("denomination"))
        counts[unit] = entry
        task.counts, task.updated_at = counts, now
        return "counted"
    if type_ == "cash.exchange_ended":
        if task.status != "unlocked" or task.phase not in ("exchange", "unlocked"):
            return "ignored"
        return reconcile_and_book(session, hall, task, now)
    if type_ == "cash.safe_door_closed":
        return door_closed(session, hall, task, now)
    return "ignored"


def reconcile_and_book(session: Session, hall: Hall, task: CashTask, now: datetime) -> str:
    loaded = rules.loaded_by_denomination(task.counts or {})
    planned = {d: Decimal(a) for d, a in task.amounts.items()}
    task.loaded = {d: str(a) for d, a in sorted(loaded.items())}
    diffs = rules.reconcile(planned, loaded)
    if diffs:
        task.phase, task.review, task.updated_at = "count_mismatch", "count_mismatch", now
        raise_and_push(
            session,
            hall,
            task.device_id,
            "cash_count_mismatch",
            "major",
            f"cash task {task_ref(task)}: counts differ from the task",
            {"task_id": task.id, "differences": diffs},
            now,
        )
        audit.record(
            session,
            SYSTEM,
            "cash_task.count_mismatch",
            "cash_task",
            task.id,
            after={"differences": diffs},
        )
        push(session, hall, task)
        return "count_mismatch"
    book_and_load(session, hall, task, now)
    return task.phase


def book_and_load(
    session: Session, hall: Hall, task: CashTask, now: datetime, accepted_by: Actor | None = None
) -> None:
    loaded = {d: Decimal(a) for d, a in (task.loaded or {}).items()}
    try:
        with session.begin_nested():
            transfers = booking.book_loading(
                session, task.id, task.branch_id, task.device_id, loaded, now
            )
    except DomainError as exc:
        task.phase, task.review, task.updated_at = "booking_failed", exc.code, now
        raise_and_push(
            session,
            hall,
            task.device_id,
            "cash_booking_failed",
            "major",
            f"cash task {task_ref(task)} could not be booked: {exc.code}",
            {"task_id": task.id},
            now,
        )
        push(session, hall, task)
        return
    task.status, task.phase, task.loaded_at, task.updated_at = "loaded", "loaded", now, now
    if accepted_by is None:
        task.review = None
    audit.record(
        session,
        accepted_by or SYSTEM,
        "cash_task.loaded",
        "cash_task",
        task.id,
        {"status": "unlocked"},
        {"status": "loaded", "loaded": task.loaded, "transfers": transfers},
    )
    if task.door_closed_at is not None:
        _close(session, hall, task, now)
    else:
        push(session, hall, task)


def door_closed(session: Session, hall: Hall, task: CashTask, now: datetime) -> str:
    task.door_closed_at, task.updated_at = now, now
    if task.status == "loaded":
        _close(session, hall, task, now)
        return "closed"
    push(session, hall, task)
    return "door_closed"


def _close(session: Session, hall: Hall, task: CashTask, now: datetime) -> None:
    task.status, task.phase, task.closed_at, task.updated_at = "closed", "closed", now, now
    hall.command(session, task.lock_id, "lock.lock", {"task_id": task_ref(task)})
    audit.record(
        session,
        SYSTEM,
        "cash_task.closed",
        "cash_task",
        task.id,
        {"status": "loaded"},
        {"status": "closed"},
    )
    push(session, hall, task)


def expire_unlocks(session: Session, hall: Hall, now: datetime) -> int:
    """Job: void unlocks that were not used in time."""
    tasks = session.scalars(
        select(CashTask)
        .where(CashTask.phase == "armed", CashTask.arm_expires_at < now)
        .with_for_update()
    )
    return sum(1 for task in tasks if expire_unlock(session, hall, task, now))
