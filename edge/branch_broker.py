"""The edge's embedded branch broker: amqtt with per-device logins and a per-device topic ACL.

``backend.platform.broker.EmbeddedBroker`` gives the thread, the listener and clean shutdown;
this subclass swaps its auth plugin for two of its own (``_config`` is the one seam):

- authentication: a device logs in with username = its device id and the password whose hash
  the centre synced (edge/credentials.py, Mosquitto's ``$7$`` format); service users (the edge
  itself, a shared simulator login if any) have plaintext passwords held in memory;
- topic ACL, the same rule as the branch Mosquitto's ``pattern readwrite fe/v1/+/+/%u/#`` but
  stricter: a device may publish, subscribe and receive only under
  ``fe/v1/{branch}/{its type}/{its id}/``. Service users get the whole ``fe/v1/{branch}/#``.
  A refused publish is dropped silently (as Mosquitto does), a refused subscription gets a
  failure SUBACK. The ACL reads the live table, so a retired device loses its topics at once.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from backend.platform.broker import EmbeddedBroker
from edge.credentials import verify_password
from edge.store import RegistryEntry

log = logging.getLogger(__name__)

_TABLES: dict[str, BranchAccess] = {}


class BranchAccess:
    """Who may log in and which topics each login may touch; thread-safe, replaced at run time."""

    def __init__(self, branch_id: str) -> None:
        self.branch_id = branch_id
        self._lock = threading.Lock()
        self._devices: dict[str, RegistryEntry] = {}
        self._service: dict[str, str] = {}
        self._verified: dict[tuple[str, str], str] = {}  # (user, password) -> hash it matched

    def set_devices(self, entries: list[RegistryEntry]) -> None:
        with self._lock:
            self._devices = {e.device_id: e for e in entries if e.admitted and e.password_hash}
            self._verified.clear()

    def set_service_user(self, username: str, password: str) -> None:
        with self._lock:
            self._service[username] = password

    def remove_service_user(self, username: str) -> None:
        with self._lock:
            self._service.pop(username, None)

    def authenticate(self, username: str | None, password: str | None) -> bool:
        if not username or not password:
            return False
        with self._lock:
            service = self._service.get(username)
            entry = self._devices.get(username)
        if service is not None:
            return hmac.compare_digest(service.encode(), password.encode())
        if entry is None or entry.password_hash is None:
            return False
        key = (username, password)
        if self._verified.get(key) == entry.password_hash:
            return True  # PBKDF2 once per credentials, not once per reconnect
        if verify_password(entry.password_hash, password):
            with self._lock:
                self._verified[key] = entry.password_hash
            return True
        return False

    def allowed(self, username: str | None, topic: str | None) -> bool:
        """Publish, subscribe (filters) and receive: the same prefix rule."""
        if not username or not topic:
            return False
        branch_prefix = f"fe/v1/{self.branch_id}/"
        with self._lock:
            if username in self._service:
                return topic.startswith(branch_prefix)
            entry = self._devices.get(username)
        if entry is None:
            return False
        own = f"{branch_prefix}{entry.device_type}/{entry.device_id}"
        return topic == own + "/#" or (
            topic.startswith(own + "/") and "+" not in topic and "#" not in topic
        )


class BranchAuthPlugin(BaseAuthPlugin):
    @dataclass
    class Config:
        table: str = ""

    async def authenticate(self, *, session: Session) -> bool:
        table = _TABLES.get(self.context.config.table)
        if table is not None and table.authenticate(session.username, session.password):
            return True
        log.info("branch broker refused %r", session.username)
        return False


class _SnapshotDict(dict):
    """A dict whose iteration and ``items()`` work on a snapshot (see BranchAclPlugin)."""

    def __iter__(self):
        return iter(list(super().keys()))

    def items(self):  # type: ignore[override]
        return list(super().items())


class BranchAclPlugin(BaseTopicPlugin):
    """The per-device topic ACL, plus two guards around amqtt 0.12.1 internals:

    - once any topic plugin is loaded, amqtt awaits (the RECEIVE check, retained replays) while
      iterating its live subscription dict; a client subscribing meanwhile raises "dictionary
      changed size during iteration", which drops the message being broadcast for the
      remaining subscribers, or disconnects the client being connected. The dict is swapped
      for one that iterates over a snapshot, before any client connects;
    - on connect amqtt replays retained messages matching *every* subscription in the broker,
      the edge's ``fe/v1/{branch}/#`` included, without any ACL check: each device would
      receive every other device's retained state and desired configuration. The replay is
      limited to filters the connecting login may itself subscribe to.
    """

    @dataclass
    class Config:
        table: str = ""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        broker = getattr(context, "_broker_instance", None)
        if broker is None:
            return
        if type(broker._subscriptions) is dict:
            broker._subscriptions = _SnapshotDict(broker._subscriptions)
        replay = broker._publish_retained_messages_for_subscription
        token = self.context.config.table

        async def guarded_replay(subscription: tuple[str, int], session: Session) -> None:
            table = _TABLES.get(token)
            if table is not None and table.allowed(session.username, subscription[0]):
                await replay(subscription, session)

        broker._publish_retained_messages_for_subscription = guarded_replay

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Any = None
    ) -> bool:
        table = _TABLES.get(self.context.config.table)
        username = session.username if session else None
        ok = table is not None and table.allowed(username, topic)
        if not ok and action != Action.RECEIVE:
            log.info("branch broker ACL refused %s of %s by %r", action, topic, username)
        return ok


class BranchBroker(EmbeddedBroker):
    """EmbeddedBroker with device logins and the per-device ACL of one branch."""

    def __init__(self, branch_id: str, host: str = "127.0.0.1", port: int = 0, **kwargs: Any):
        super().__init__(host, port, users=None, allow_anonymous=False, **kwargs)
        self.access = BranchAccess(branch_id)
        self._acl_token = secrets.token_hex(8)

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["plugins"] = {
            f"{__name__}.BranchAuthPlugin": {"table": self._acl_token},
            f"{__name__}.BranchAclPlugin": {"table": self._acl_token},
        }
        return config

    def start(self) -> BranchBroker:
        _TABLES[self._acl_token] = self.access
        try:
            super().start()
        except BaseException:
            _TABLES.pop(self._acl_token, None)
            raise
        return self

    def stop(self, timeout: float = 15.0) -> None:
        super().stop(timeout)
        _TABLES.pop(self._acl_token, None)

    def add_user(self, username: str, password: str) -> None:
        self.access.set_service_user(username, password)

    def remove_user(self, username: str) -> None:
        self.access.remove_service_user(username)

    def set_devices(self, entries: list[RegistryEntry]) -> None:
        self.access.set_devices(entries)
