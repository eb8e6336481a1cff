"""Live updates over Socket.IO (namespace ``/live``).

On connect the client's JWT is checked (``auth={"token": ...}`` or ``?token=``) and the socket
joins rooms ``user:<id>``, ``org:<id>``, ``role:<role>`` and, for branch staff, ``branch:<code>``.
Services never touch Socket.IO: they call a ``LiveEmitter`` and name the audience; the
emitter sends each event only to those rooms.  With REDIS_URL set the emitter publishes
through the Redis message queue, so background workers and several backend processes reach
every connected client.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

NAMESPACE = "/live"
EVENTS = (
    "risk.signal",
    "queue.update",
    "device.state",
    "device.alarm",
    "vehicle.alert",
    "cash_task.update",
    "client.arrived",
    "vein_enrolment.update",
)


def rooms_for(
    *,
    users: Iterable[int] = (),
    orgs: Iterable[int] = (),
    branches: Iterable[str] = (),
    roles: Iterable[str] = (),
) -> list[str]:
    return (
        [f"user:{u}" for u in users]
        + [f"org:{o}" for o in orgs]
        + [f"branch:{b}" for b in branches]
        + [f"role:{r}" for r in roles]
    )


class LiveEmitter(Protocol):
    def emit(self, event: str, data: dict[str, Any], *, rooms: list[str]) -> None: ...


@dataclass
class RecordingEmitter:
    """For tests and jobs run by hand: keeps what would have been sent."""

    sent: list[tuple[str, dict, list[str]]] = field(default_factory=list)

    def emit(self, event: str, data: dict[str, Any], *, rooms: list[str]) -> None:
        self.sent.append((event, data, list(rooms)))


class SocketIOEmitter:
    """Emits through a flask_socketio.SocketIO (the server's, or an external one bound to the
    Redis message queue in a worker process)."""

    def __init__(self, socketio):
        self.socketio = socketio

    def emit(self, event: str, data: dict[str, Any], *, rooms: list[str]) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown live event {event!r}")
        if not rooms:
            return  # no audience named: never broadcast to everyone
        try:
            self.socketio.emit(event, data, to=rooms, namespace=NAMESPACE)
        except Exception:  # a live push must never break the business transaction
            log.exception("live emit of %s failed", event)


def external_emitter(redis_url: str) -> SocketIOEmitter:
    from flask_socketio import SocketIO

    return SocketIOEmitter(SocketIO(message_queue=redis_url))


class NullEmitter:
    """Where nobody listens (a CLI run without Redis): events are dropped, data stays stored."""

    def emit(self, event: str, data: dict[str, Any], *, rooms: list[str]) -> None:
        log.debug("no live emitter: %s to %s dropped", event, rooms)


_process_emitter: LiveEmitter | None = None


def use_process_emitter(live: LiveEmitter | None) -> None:
    """The composition root names the emitter of work that has no request (jobs, the CLI)."""
    global _process_emitter
    _process_emitter = live


def process_emitter() -> LiveEmitter:
    """The emitter for jobs: the app's in its process, else the Redis message queue when
    REDIS_URL is set (any process reaches every client), else a NullEmitter."""
    global _process_emitter
    if _process_emitter is None:
        redis_url = os.environ.get("REDIS_URL")
        return external_emitter(redis_url) if redis_url else NullEmitter()
    return _process_emitter
