"""What hall services need besides a session and an actor: where live pushes and device
commands go, the secret that keys encryption at rest, and the clock.

Pushes and commands leave only after the transaction commits (never for a rolled-back
change): ``Hall.emit`` and ``Hall.command`` queue them on the platform's after-commit queue.
The composition root builds one Hall per process (``ports.make_hall``: the process's emitter,
its device link, the secret key) and hands it in through the wiring; tests pass their own
(``RecordingEmitter``, ``RecordingCommands``).

The hall displays' queue board (``display.queue``) also leaves after the commit, through a
``BoardCoalescer``: at most one board per branch (so per display) per second, always the newest,
and the last change always reaches the displays. Halls built per request share one coalescer
(the app keeps it), so requests and the device ingest coalesce together.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.after_commit import after_commit, push_live
from backend.platform.clock import utcnow
from backend.platform.live import LiveEmitter, NullEmitter

log = logging.getLogger(__name__)

CommandSender = Callable[[str, str, dict[str, Any]], Any]


@dataclass
class RecordingCommands:
    """A command sender for tests and jobs run by hand: keeps what would have been sent."""

    sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, device_id: str, name: str, args: dict[str, Any]) -> None:
        self.sent.append((device_id, name, dict(args)))

    def named(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        return [(d, a) for d, n, a in self.sent if n == name]


BOARD_COMMAND = "display.queue"
BOARD_INTERVAL_S = 1.0
Scheduler = Callable[[float, Callable[[], None]], None]


def _thread_timer(delay_s: float, func: Callable[[], None]) -> None:
    timer = threading.Timer(delay_s, func)
    timer.daemon = True
    timer.name = "branch-board"
    timer.start()


@dataclass
class _BranchBoard:
    version: int = -1
    board: dict[str, Any] | None = None
    sender: CommandSender | None = None
    targets: set[str] = field(default_factory=set)  # displays still owed the newest board
    last_sent: float | None = None
    timer_armed: bool = False


class BoardCoalescer:
    """The newest queue board of each branch to its displays, at most once per ``interval_s``.

    ``submit`` runs after a commit (any thread). The first board after a quiet second leaves
    at once; boards submitted within the second after a send replace each other and the newest
    leaves when the second is over (one timer per branch): a burst gives two boards, and the
    last change is never lost. Newest means the highest queue version (bumped under the
    branch's hall lock, so in commit order): a transaction whose after-commit ran late cannot
    put an older board in front of a newer one. Sending is fire-and-forget (the sender does not
    wait for acks); a failure is logged, never raised into the committing code or the timer.
    ``clock`` and ``schedule`` are injectable so tests can drive time by hand.
    """

    def __init__(
        self,
        interval_s: float = BOARD_INTERVAL_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        schedule: Scheduler = _thread_timer,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._schedule = schedule
        self._lock = threading.Lock()
        self._branches: dict[str, _BranchBoard] = {}
        self._closed = False

    def submit(
        self,
        branch_id: str,
        version: int,
        board: dict[str, Any],
        targets: Iterable[str],
        sender: CommandSender,
    ) -> None:
        with self._lock:
            if self._closed:
                return
            entry = self._branches.setdefault(branch_id, _BranchBoard())
            if version >= entry.version:
                entry.version, entry.board, entry.sender = version, board, sender
            entry.targets.update(targets)
            if entry.timer_armed or not entry.targets:
                return
            wait = 0.0
            if entry.last_sent is not None:
                wait = entry.last_sent + self.interval_s - self._clock()
            if wait > 0:
                entry.timer_armed = True
                self._schedule(wait, lambda: self._due(branch_id))
                return
            batch = self._take(entry)
        self._send(batch)

    def flush(self) -> None:
        """Send every board still waiting for its second now (shutdown, tests)."""
        with self._lock:
            batches = [self._take(e) for e in self._branches.values() if e.targets]
        for batch in batches:
            self._send(batch)

    def close(self) -> None:
        """The process stops: boards still waiting for their second are dropped and none is
        sent any more (a timer must not reach a database or broker being shut down)."""
        with self._lock:
            self._closed = True

    def _due(self, branch_id: str) -> None:
        try:
            with self._lock:
                if self._closed:
                    return
                entry = self._branches[branch_id]
                entry.timer_armed = False
                batch = self._take(entry) if entry.targets else None
            if batch is not None:
                self._send(batch)
        except Exception:  # a timer thread must never die loudly
            log.exception("branch hall: board for %s not sent", branch_id)

    def _take(self, entry: _BranchBoard):
        targets, entry.targets = sorted(entry.targets), set()
        entry.last_sent = self._clock()
        return entry.sender, dict(entry.board or {}), targets

    @staticmethod
    def _send(batch) -> None:
        sender, board, targets = batch
        for device_id in targets:
            try:
                sender(device_id, BOARD_COMMAND, dict(board))
            except Exception:
                log.exception("branch hall: %s to %s not sent", BOARD_COMMAND, device_id)


@dataclass
class Hall:
    live: LiveEmitter = field(default_factory=NullEmitter)
    send_command: CommandSender | None = None
    secret_key: str | None = None
    clock: Callable[[], datetime] = utcnow
    boards: BoardCoalescer = field(default_factory=BoardCoalescer)

    def now(self, now: datetime | None = None) -> datetime:
        return now or self.clock()

    def close(self) -> None:
        """The process stops (the composition root calls it): no more boards."""
        self.boards.close()

    def emit(self, session: Session, event_name: str, data: Any, rooms: list[str]) -> None:
        push_live(session, self.live, event_name, data, rooms)

    def command(self, session: Session, device_id: str, name: str, args: dict[str, Any]) -> None:
        sender = self.send_command
        if sender is None:
            log.warning("command %s to %s not sent: no device link configured", name, device_id)
            return
        after_commit(session, lambda: sender(device_id, name, dict(args)))

    def show_board(
        self,
        session: Session,
        branch_id: str,
        version: int,
        board: dict[str, Any],
        device_ids: list[str],
    ) -> None:
        """After the commit, hand the displays' board to the coalescer (``display.queue``)."""
        sender = self.send_command
        if sender is None or not device_ids:
            return
        targets = list(device_ids)
        after_commit(
            session,
            lambda: self.boards.submit(branch_id, version, board, targets, sender),
            key=(BOARD_COMMAND, branch_id, tuple(sorted(targets))),
        )

    def key(self) -> str:
        if not self.secret_key:
            raise RuntimeError("this Hall has no secret key (the composition root sets it)")
        return self.secret_key
