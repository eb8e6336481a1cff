"""Live updates over Socket.IO (namespace ``/live``).

On connect the client's JWT is checked (``auth={"token": ...}`` or ``?token=``) and the socket
joins rooms ``user:<id>``, ``org:<id>``, ``role:<role>`` and, for branch staff, ``branch:<code>``.
Services never touch Socket.IO: they call a ``LiveEmitter`` and name the audience; the
emitter sends each event only to those rooms (the Socket.IO emitters are the web and other
roles', backend/roles/live.py).  With REDIS_URL set the emitter publishes
through the Redis message queue, so background workers and several backend processes reach
every connected client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

NAMESPACE = "/live"


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


Renderer = Callable[[Any], dict[str, Any]]


class LiveEmitter:
    """Sends live events to rooms. ``render`` turns what a service hands over (an object, or a
    dict) into the event's JSON payload with the renderer the event's area declared (the same
    response schema the HTTP API uses for that object); an event without a renderer takes a
    JSON-ready dict as it is. ``send`` delivers a rendered payload; ``emit`` does both."""

    def __init__(self, renderers: Mapping[str, Renderer | None] | None = None) -> None:
        self.renderers: dict[str, Renderer | None] = dict(renderers or {})

    def render(self, event: str, data: Any) -> dict[str, Any]:
        renderer = self.renderers.get(event)
        if renderer is not None:
            return renderer(data)
        if isinstance(data, Mapping):
            return dict(data)
        raise TypeError(f"live event {event!r} has no renderer for {type(data).__name__}")

    def send(self, event: str, payload: dict[str, Any], *, rooms: list[str]) -> None:
        raise NotImplementedError

    def emit(self, event: str, data: Any, *, rooms: list[str]) -> None:
        if rooms:
            self.send(event, self.render(event, data), rooms=rooms)


class RecordingEmitter(LiveEmitter):
    """For tests and jobs run by hand: keeps what would have been sent."""

    def __init__(self, renderers: Mapping[str, Renderer | None] | None = None) -> None:
        super().__init__(renderers)
        self.sent: list[tuple[str, dict, list[str]]] = []

    def send(self, event: str, payload: dict[str, Any], *, rooms: list[str]) -> None:
        self.sent.append((event, payload, list(rooms)))

    def emit(self, event: str, data: Any, *, rooms: list[str]) -> None:
        self.send(event, self.render(event, data), rooms=rooms)


class NullEmitter(LiveEmitter):
    """Where nobody listens (a CLI run without Redis): events are dropped, data stays stored."""

    def send(self, event: str, payload: dict[str, Any], *, rooms: list[str]) -> None:
        log.debug("no live emitter: %s to %s dropped", event, rooms)
