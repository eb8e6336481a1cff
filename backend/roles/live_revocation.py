"""Closing a revoked user's live sockets, on every web instance.

When a user is disabled, demoted or has their password reset, the identity area bumps their
token version and sends the live event ``session.revoked`` to their room ``user:<id>`` after
the commit (backend/identity/service/users.py), through the process's live emitter: the web
role's own Socket.IO server, or the Redis message queue from any other process (a CLI, the
scheduler). ``install`` hooks the Socket.IO server's client manager at the point where an
emit reaches this instance's sockets (directly, or from the message queue): once the event
is delivered, every local socket in that user's room is disconnected. So each instance closes
its own sockets of that user, whichever process revoked them. A socket that reconnects is
refused by the connect check (its token's version is behind).
"""

from __future__ import annotations

import logging
from typing import Any

from socketio.pubsub_manager import PubSubManager

log = logging.getLogger(__name__)


def _user_rooms(room: Any) -> list[str]:
    rooms = room if isinstance(room, list | tuple) else [room]
    return [r for r in rooms if isinstance(r, str) and r.startswith("user:")]


def install(server: Any, namespace: str, event: str) -> None:
    """After ``event`` reaches this instance's sockets in ``namespace``, disconnect the local
    sockets of the ``user:<id>`` rooms it was sent to. ``server``: a ``socketio.Server``."""
    manager = server.manager

    def close_revoked(sent_event: Any, sent_namespace: Any, room: Any) -> None:
        if sent_event != event or (sent_namespace or "/") != namespace:
            return
        for user_room in _user_rooms(room):
            sids = [sid for sid, _eio_sid in manager.get_participants(namespace, user_room)]
            for sid in sids:
                try:
                    server.disconnect(sid, namespace=namespace, ignore_queue=True)
                except Exception:  # one socket failing to close must not keep the others
                    log.exception("closing revoked socket %s failed", sid)
            if sids:
                log.info("closed %d live socket(s) of %s (revoked)", len(sids), user_room)

    if isinstance(manager, PubSubManager):
        # Every emit, this instance's own and those from the queue, is delivered here.
        deliver = manager._handle_emit

        def handle_emit(message: dict) -> None:
            deliver(message)
            close_revoked(message.get("event"), message.get("namespace"), message.get("room"))

        manager._handle_emit = handle_emit
    else:
        emit = manager.emit

        def emit_then_close(sent_event, data, namespace=None, room=None, **kwargs):
            emit(sent_event, data, namespace, room=room, **kwargs)
            close_revoked(sent_event, namespace, kwargs.get("to") or room)

        manager.emit = emit_then_close
