"""The Socket.IO side of live updates, for the process roles: the web role emits through its
own server, every other role through the Redis message queue (REDIS_URL), so a job or the hub
reaches every client of every web process. Services only see ``LiveEmitter``
(backend/platform/live.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask_socketio import SocketIO

from backend.platform.live import NAMESPACE, Audience, LiveEmitter, Renderer
from backend.roles.web_server import gevent_patched

log = logging.getLogger(__name__)


class SocketIOEmitter(LiveEmitter):
    """Emits through a flask_socketio.SocketIO (the server's, or an external one bound to the
    Redis message queue in a worker process). Only the events the areas declared (the keys of
    ``renderers``) exist, and each reaches only the rooms its ``Audience`` allows
    (``LiveEmitter.route``: a branch's staff of the roles that may read the object)."""

    def __init__(
        self,
        socketio,
        renderers: Mapping[str, Renderer | None] | None = None,
        audiences: Mapping[str, Audience] | None = None,
    ):
        super().__init__(renderers, audiences)
        self.socketio = socketio

    def send(self, event: str, payload: dict[str, Any], *, rooms: list[str]) -> None:
        if event not in self.renderers:
            raise ValueError(f"unknown live event {event!r}")
        rooms = self.route(event, rooms)
        if not rooms:
            return  # no audience named: never broadcast to everyone
        try:
            self.socketio.emit(event, payload, to=rooms, namespace=NAMESPACE)
        except Exception:  # a live push must never break the business transaction
            log.exception("live emit of %s failed", event)


def external_emitter(
    redis_url: str,
    renderers: Mapping[str, Renderer | None] | None = None,
    audiences: Mapping[str, Audience] | None = None,
) -> SocketIOEmitter:
    # Explicit: left to itself Flask-SocketIO picks gevent whenever gevent is installed.
    async_mode = "gevent" if gevent_patched() else "threading"
    socketio = SocketIO(message_queue=redis_url, async_mode=async_mode)
    return SocketIOEmitter(socketio, renderers, audiences)
