"""What hall services need besides a session and an actor: where live pushes and device
commands go, the secret that keys encryption at rest, and the clock.

Pushes and commands leave only after the transaction commits (never for a rolled-back
change): ``Hall.emit`` and ``Hall.command`` queue them on the session and an ``after_commit``
listener sends them. The composition root (``create_app``, ``finedge serve``) calls
``configure`` with the real emitter and the device command sender; HTTP views may also build a
Hall per request. Tests pass their own (``RecordingEmitter``, ``RecordingCommands``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.platform.clock import utcnow
from backend.platform.live import LiveEmitter

log = logging.getLogger(__name__)

CommandSender = Callable[[str, str, dict[str, Any]], Any]
_INFO_KEY = "branch_after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction commits (dropped on rollback)."""
    pending: list[Callable[[], None]] = session.info.setdefault(_INFO_KEY, [])
    if not session.info.get(_INFO_KEY + "_hooked"):
        session.info[_INFO_KEY + "_hooked"] = True

        @event.listens_for(session, "after_commit")
        def _run(sess: Session) -> None:
            if sess.in_nested_transaction():
                return  # a SAVEPOINT was released (the ledger uses them): not committed yet
            callbacks = list(sess.info.get(_INFO_KEY, []))
            sess.info[_INFO_KEY] = []
            for func in callbacks:
                try:
                    func()
                except Exception:  # a push or command must never undo a committed change
                    log.exception("branch hall: after-commit action failed")

        @event.listens_for(session, "after_soft_rollback")
        def _drop(sess: Session, _previous) -> None:
            if not sess.in_transaction():
                sess.info[_INFO_KEY] = []

    pending.append(callback)


def pending_after_commit(session: Session) -> int:
    return len(session.info.get(_INFO_KEY, []))


def drop_after_commit(session: Session, *, keep: int) -> None:
    """Forget what was queued after the first ``keep`` actions (a rolled-back SAVEPOINT)."""
    pending = session.info.get(_INFO_KEY)
    if pending is not None:
        del pending[keep:]


class _NoLive:
    def emit(self, event: str, data: dict[str, Any], *, rooms: list[str]) -> None:
        log.debug("live %s not sent (no emitter configured)", event)


@dataclass
class RecordingCommands:
    """A command sender for tests and jobs run by hand: keeps what would have been sent."""

    sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, device_id: str, name: str, args: dict[str, Any]) -> None:
        self.sent.append((device_id, name, dict(args)))

    def named(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        return [(d, a) for d, n, a in self.sent if n == name]


@dataclass
class Hall:
    live: LiveEmitter = field(default_factory=_NoLive)
    send_command: CommandSender | None = None
    secret_key: str | None = None
    clock: Callable[[], datetime] = utcnow

    def now(self, now: datetime | None = None) -> datetime:
        return now or self.clock()

    def emit(self, session: Session, event_name: str, data: dict[str, Any], rooms: list[str]):
        if rooms:
            after_commit(session, lambda: self.live.emit(event_name, data, rooms=rooms))

    def command(self, session: Session, device_id: str, name: str, args: dict[str, Any]) -> None:
        sender = self.send_command
        if sender is None:
            log.warning("command %s to %s not sent: no device link configured", name, device_id)
            return
        after_commit(session, lambda: sender(device_id, name, dict(args)))

    def key(self) -> str:
        if self.secret_key:
            return self.secret_key
        from backend.platform.config import Config

        self.secret_key = Config.from_env().secret_key
        return self.secret_key


_current = Hall()


def configure(hall: Hall) -> Hall:
    """Install the process's Hall (the composition root calls this once)."""
    global _current
    _current = hall
    return hall


def current() -> Hall:
    return _current
