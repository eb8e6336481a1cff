"""The one after-commit queue: work that must happen only once a change is committed.

Live pushes, device commands, the hall displays' board and "the queue changed" notices must
never leave for a change that rolls back. Every area queues such work here, on the session
that makes the change::

    after_commit(session, lambda: sender(device_id, name, args))
    after_commit(session, send_board, key=("display.queue", branch_id))
    push_live(session, live, "vehicle.alert", alert, rooms)

Lifecycle of one queued action::

    queued ──(savepoint released)──> still queued ──(outermost COMMIT)──> run once, in order
       │                                                    │
       └──(its savepoint or the transaction rolls back)──> dropped, never run

- An action queued inside a SAVEPOINT (``session.begin_nested()``) is dropped when that
  savepoint rolls back, and kept when it is released; nothing runs before the outermost
  transaction commits.
- ``key``: of the actions queued under one key in a transaction only the last surviving one
  runs (what the transaction ends with, e.g. one display board per branch however many
  changes the transaction made).
- An action that raises is logged and skipped: it can never undo or fail a committed change.
- A transaction that ends any other way (rollback, ``close()``) forgets everything queued.

Actions run on the committing thread, after the database has committed and before
``commit()`` returns; they must not use the session (it has no transaction then).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from backend.platform.live import LiveEmitter

log = logging.getLogger(__name__)

_QUEUE = "finedge.after_commit"
_HOOKED = "finedge.after_commit.hooked"


@dataclass(eq=False)
class _Action:
    transaction: SessionTransaction | None
    func: Callable[[], Any]
    key: object | None


def after_commit(
    session: Session, action: Callable[[], Any] | None, *, key: object | None = None
) -> None:
    """Run ``action`` once the session's outermost transaction commits (see the module)."""
    if action is None:
        return
    _hook(session)
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_QUEUE, []).append(_Action(transaction, action, key))


def push_live(
    session: Session,
    live: LiveEmitter | None,
    event_name: str,
    data: Any,
    rooms: list[str],
    *,
    key: object | None = None,
) -> None:
    """Render a live event now (while its objects are still readable) and send it after the
    commit. No emitter or no audience: nothing is sent."""
    if live is None or not rooms:
        return
    payload = live.render(event_name, data)
    after_commit(session, lambda: live.send(event_name, payload, rooms=list(rooms)), key=key)


def pending(session: Session) -> int:
    """How many actions wait for the commit (tests)."""
    return len(session.info.get(_QUEUE, ()))


def _hook(session: Session) -> None:
    if session.info.get(_HOOKED):
        return
    session.info[_HOOKED] = True
    event.listen(session, "after_commit", _run)
    event.listen(session, "after_soft_rollback", _drop_rolled_back)
    event.listen(session, "after_transaction_end", _forget_ended)


def _run(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released: nothing is committed yet
    actions: list[_Action] = session.info.pop(_QUEUE, [])
    last = {a.key: a for a in actions if a.key is not None}
    for action in actions:
        if action.key is not None and last[action.key] is not action:
            continue  # superseded by a later action of the same key
        try:
            action.func()
        except Exception:  # never undo or fail a committed change
            log.exception("after-commit action failed")


def _inside(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    actions = session.info.get(_QUEUE)
    if actions:
        session.info[_QUEUE] = [a for a in actions if not _inside(a.transaction, previous)]


def _forget_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and not transaction.nested:
        # The outermost transaction ended: a commit has already run its actions; a rollback
        # or close() must not leave any for the session's next transaction.
        session.info.pop(_QUEUE, None)
