"""The branch's devices as the edge knows them: the registry the centre last synced.

The registry (device id -> kind, status, password hash, edge key; ``edge.registry`` on the
edge's ``config/desired``) is kept in the edge store, so the edge starts and admits devices
while the centre is unreachable. Devices heard before a registry admitted them (on an external
branch broker they may talk first) are remembered, so they can be asked for a rebirth once one
does (edge/downlinks.py); the edge's uplink gate (edge/uplink.py) checks every uplink against
``admitted``. Thread-safe: a new registry replaces the old one whole.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from edge.protocol import KINDS
from edge.store import EdgeStore, RegistryEntry

VERSION_KEY = "registry_version"
MAX_UNKNOWN = 10_000


class DeviceRegistry:
    def __init__(self, store: EdgeStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._entries: dict[str, RegistryEntry] = store.registry()
        self._unknown: set[str] = set()

    def get(self, device_id: str) -> RegistryEntry | None:
        return self._entries.get(device_id)

    def admitted(self, device_id: str) -> bool:
        entry = self._entries.get(device_id)
        return entry is not None and entry.admitted

    def entries(self) -> list[RegistryEntry]:
        return list(self._entries.values())

    def as_dict(self) -> dict[str, RegistryEntry]:
        return dict(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def version(self, default: int) -> int:
        """The version of the registry in force (``default`` when none was ever synced)."""
        return int(self.store.kv_get(VERSION_KEY, str(default)) or default)

    def screens(self) -> list[RegistryEntry]:
        """The admitted devices of screen kinds (``KindSpec.screen``: hall displays)."""
        return [
            entry
            for entry in self._entries.values()
            if entry.admitted and _is_screen(entry.device_type)
        ]

    def replace(self, entries: Iterable[RegistryEntry], version: int) -> list[str]:
        """The centre's registry from now on (stored); the devices heard while unknown that it
        admits, in order (they are owed a rebirth)."""
        entries = list(entries)
        self.store.replace_registry(entries, version)
        with self._lock:
            self._entries = {e.device_id: e for e in entries}
            known = {d for d in self._unknown if self.admitted(d)}
            self._unknown -= known
        return sorted(known)

    def remember_unknown(self, device_id: str) -> bool:
        """A device the registry does not admit spoke: remember it for a rebirth once a
        registry admits it. True when one just did (it arrived while this message was being
        checked): then it is owed the rebirth now."""
        with self._lock:
            if not self.admitted(device_id):
                if len(self._unknown) < MAX_UNKNOWN:
                    self._unknown.add(device_id)
                return False
        return True


def _is_screen(device_type: str) -> bool:
    spec = KINDS.get(device_type)
    return spec is not None and spec.screen
