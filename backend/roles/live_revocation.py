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

Should ``session.revoked`` never arrive (a ``finedge users ...`` command in another process of
a deployment without Redis, or a message lost), the sockets still stop receiving: each instance
keeps, per local socket, the user and the token version it connected with (``Sockets``), and
before it delivers any event, at most once a second (``RECHECK_S``), reads the users revoked
since its last look (``users.revoked_at``: one indexed read, whatever the number of sockets;
every connected user's version once a minute) and closes the sockets whose user is disabled,
gone, or has a newer version. An event reaches a revoked socket at most ``RECHECK_S`` after
the change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from socketio.pubsub_manager import PubSubManager

from backend.platform.clock import utcnow

log = logging.getLogger(__name__)


def _user_rooms(room: Any) -> list[str]:
    rooms = room if isinstance(room, list | tuple) else [room]
    return [r for r in rooms if isinstance(r, str) and r.startswith("user:")]


RECHECK_S = 1.0  # at most one re-check a second, and only while events flow
FULL_CHECK_S = 60.0  # now and then every connected user's version, not only the revoked ones
GRACE_S = 5.0  # a revocation stamped this long before it committed is still seen


class Sockets:
    """This instance's live sockets: sid -> (user id, token version at connect), and the
    throttled re-check of them against the users' rows: ``revoked_since(moment)`` gives the
    users revoked since then (their version in force, None when disabled), one indexed read
    whatever the number of sockets; ``in_force(user_ids)`` the versions of those of the users
    still active, for the first and then one re-check a minute (a revocation committed long
    after it was stamped, a skewed clock)."""

    def __init__(
        self,
        revoked_since: Callable[[datetime], dict[int, int | None]],
        in_force: Callable[[set[int]], dict[int, int]],
        *,
        every_s: float = RECHECK_S,
        full_every_s: float = FULL_CHECK_S,
    ) -> None:
        self.revoked_since = revoked_since
        self.in_force = in_force
        self.every_s = every_s
        self.full_every_s = full_every_s
        self._lock = threading.Lock()
        self._sockets: dict[str, tuple[int, int]] = {}
        self._next = self._next_full = 0.0
        self._since: datetime | None = None

    def add(self, sid: str, user_id: int, version: int) -> None:
        with self._lock:
            self._sockets[sid] = (user_id, version)

    def remove(self, sid: str) -> None:
        with self._lock:
            self._sockets.pop(sid, None)

    def stale(self) -> list[str]:
        """The sids whose token no longer holds (due once per ``every_s``, else [])."""
        now = time.monotonic()
        with self._lock:
            if not self._sockets or now < self._next:
                return []
            self._next = now + self.every_s
            full = self._since is None or now >= self._next_full
            if full:
                self._next_full = now + self.full_every_s
            since, self._since = self._since, utcnow() - timedelta(seconds=GRACE_S)
            held = dict(self._sockets)
        if full or since is None:
            versions = self.in_force({user_id for user_id, _v in held.values()})
            return [sid for sid, (user, ver) in held.items() if versions.get(user) != ver]
        changed = self.revoked_since(since)
        return [sid for sid, (user, ver) in held.items() if changed.get(user, ver) != ver]


def install(server: Any, namespace: str, event: str, sockets: Sockets | None = None) -> None:
    """After ``event`` reaches this instance's sockets in ``namespace``, disconnect the local
    sockets of the ``user:<id>`` rooms it was sent to; with ``sockets``, before any event is
    delivered here, close the sockets whose token no longer holds (``Sockets.stale``).
    ``server``: a ``socketio.Server``."""
    manager = server.manager

    def close(sids: list[str], why: str) -> None:
        for sid in sids:
            try:
                server.disconnect(sid, namespace=namespace, ignore_queue=True)
            except Exception:  # one socket failing to close must not keep the others
                log.exception("closing revoked socket %s failed", sid)
            if sockets is not None:
                sockets.remove(sid)
        if sids:
            log.info("closed %d live socket(s) (%s)", len(sids), why)

    def recheck() -> None:
        if sockets is None:
            return
        try:
            close(sockets.stale(), "token no longer valid")
        except Exception:  # the database unreachable: deliver; the next event checks again
            log.exception("re-checking live sockets failed")

    def close_revoked(sent_event: Any, sent_namespace: Any, room: Any) -> None:
        if sent_event != event or (sent_namespace or "/") != namespace:
            return
        for user_room in _user_rooms(room):
            sids = [sid for sid, _eio_sid in manager.get_participants(namespace, user_room)]
            close(sids, f"{user_room} revoked")

    if isinstance(manager, PubSubManager):
        # Every emit, this instance's own and those from the queue, is delivered here.
        deliver = manager._handle_emit

        def handle_emit(message: dict) -> None:
            if message.get("event") != event:  # the revoked are told first, then closed
                recheck()
            deliver(message)
            close_revoked(message.get("event"), message.get("namespace"), message.get("room"))

        manager._handle_emit = handle_emit
    else:
        emit = manager.emit

        def emit_then_close(sent_event, data, namespace=None, room=None, **kwargs):
            if sent_event != event:
                recheck()
            emit(sent_event, data, namespace, room=room, **kwargs)
            close_revoked(sent_event, namespace, kwargs.get("to") or room)

        manager.emit = emit_then_close
