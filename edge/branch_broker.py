"""The edge's embedded branch broker: amqtt with per-device logins and a per-device topic ACL.

``backend.platform.mqtt.AclBroker`` gives the thread, the listener, clean shutdown, the
amqtt login and ACL plugins and their guards around two amqtt 0.12.1 bugs (shared with the
embedded central broker of ``finedge serve``); this module gives its ``Access``, BranchAccess:

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
import threading
from typing import Any, Protocol

from backend.platform.mqtt import AclBroker
from edge.credentials import verify_password
from edge.store import RegistryEntry


class BranchLogins(Protocol):
    """What keeps a branch broker's logins and ACL equal to the registry: the embedded
    ``BranchBroker``, or a Mosquitto's dynsec accounts (edge/branch_accounts.py)."""

    def set_devices(self, entries: list[RegistryEntry]) -> None: ...


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

    def set_user(self, username: str, password: str) -> None:
        """A service user (the edge, a shared simulator login): the whole branch."""
        with self._lock:
            self._service[username] = password

    def remove_user(self, username: str) -> None:
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

    def allowed(self, username: str | None, topic: str | None, action: str = "") -> bool:
        """Publish, subscribe (filters) and receive: the same prefix rule, whatever ``action``."""
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


class BranchBroker(AclBroker):
    """AclBroker with device logins and the per-device ACL of one branch."""

    access: BranchAccess

    def __init__(self, branch_id: str, host: str = "127.0.0.1", port: int = 0, **kwargs: Any):
        super().__init__(BranchAccess(branch_id), host, port, **kwargs)

    def start(self) -> BranchBroker:
        super().start()
        return self

    def set_devices(self, entries: list[RegistryEntry]) -> None:
        self.access.set_devices(entries)
