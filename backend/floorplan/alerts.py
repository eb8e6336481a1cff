"""Live pushes of the floor-plan area, sent only after the transaction commits.

``push_after_commit`` queues a Socket.IO push on the session; it goes out when the outermost
transaction commits and is dropped when the transaction, or the savepoint it was queued in,
rolls back (a rolled back change never notifies anyone). The use cases that raise and handle
vehicle alerts are in ``backend.floorplan.service.alerts``; reading them in ``queries``.
"""

from __future__ import annotations

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from backend.platform.live import LiveEmitter

# --------------------------------------------------------------------------- push after commit


def push_after_commit(
    session: Session, live: LiveEmitter | None, event: str, data: dict, rooms: list[str]
) -> None:
    """Queue a live push; it goes out when the outermost transaction commits and is dropped
    if the transaction (or the savepoint it was queued in) rolls back."""
    if live is None:
        return
    queue: list = session.info.setdefault("fp_push_queue", [])
    if not session.info.get("fp_push_hooked"):
        sa_event.listen(session, "after_commit", _flush)
        sa_event.listen(session, "after_soft_rollback", _drop)
        session.info["fp_push_hooked"] = True
    queue.append(
        (session.get_nested_transaction() or session.get_transaction(), live, event, data, rooms)
    )


def _flush(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: wait for the real commit
    queue = session.info.get("fp_push_queue") or []
    items, queue[:] = list(queue), []
    for _txn, live, event, data, rooms in items:
        live.emit(event, data, rooms=rooms)


def _within(txn: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while txn is not None:
        if txn is ended:
            return True
        txn = txn.parent
    return False


def _drop(session: Session, previous: SessionTransaction) -> None:
    queue = session.info.get("fp_push_queue")
    if queue:
        queue[:] = [item for item in queue if not _within(item[0], previous)]


# --------------------------------------------------------------------------- reading, handling
