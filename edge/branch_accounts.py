"""A branch Mosquitto's accounts kept equal to the registry, through its dynamic security plugin.

With ``BRANCH_MQTT_URL`` and ``BRANCH_MQTT_ADMIN_URL`` the edge joins a branch Mosquitto that
loads ``mosquitto_dynamic_security.so`` (deploy/mosquitto/branch) and, with the admin login,
keeps its accounts (``textname`` ``finedge-branch``) exactly the registry's:

- the edge's own login (BRANCH_MQTT_URL's user and password): the whole ``fe/v1/{branch}/#``;
- each admitted device: username = device id, its password (sealed by the centre for this
  edge, opened here and checked against the registry's ``$7$`` hash: edge/sealing.py), a role
  ``finedge-branch:<device id>`` allowing it to publish, subscribe and receive only under
  ``fe/v1/{branch}/{its type}/{its id}/``, the same rule as the embedded broker's;
- a retired device, or one gone from the registry: its client and role are deleted (its
  connection is closed by the plugin at once, its next connect refused);
- a rotated password: set at once (the plugin closes the device's connection; the old
  password is refused from then on). A device whose new password cannot be opened (an older
  centre, a key mismatch) is disabled rather than left on its old one.

``set_devices`` is what the embedded ``BranchBroker`` offers too (edge/downlinks.py calls it
on every new registry). The keeper's worker (``backend.platform.mqtt.keeper``) applies the
latest registry at once (``dynsec.reconcile``: one listing, then only the changes, in one
message), again after the admin connection comes back (a restarted broker) and every
``repair_s`` (a hand-made change is undone).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from backend.platform.mqtt import parse_mqtt_url
from backend.platform.mqtt.dynsec import Account, acls_for, fingerprint
from backend.platform.mqtt.keeper import AccountsKeeper
from edge.protocol import KINDS
from edge.sealing import SealError, open_password
from edge.store import RegistryEntry

log = logging.getLogger(__name__)

ACCOUNTS_TAG = "finedge-branch"


@dataclass(frozen=True)
class ServiceLogin:
    """A login that sees the whole branch (the edge's own)."""

    username: str
    password: str


def service_login(url: str) -> ServiceLogin:
    _host, _port, username, password = parse_mqtt_url(url)
    if not username or not password:
        raise ValueError("BRANCH_MQTT_URL needs the edge's user and password")
    return ServiceLogin(username, password)


class DynsecBranchAccounts(AccountsKeeper):
    """The branch Mosquitto's dynsec accounts for one branch (module docstring)."""

    def __init__(
        self,
        branch_id: str,
        admin_url: str,
        *,
        seal_key: bytes | None,
        service: Iterable[ServiceLogin] = (),
        client_id: str | None = None,
        repair_s: float = 60.0,
        retry_max_delay: float = 5.0,
    ) -> None:
        super().__init__(
            admin_url,
            tag=ACCOUNTS_TAG,
            name=f"branch {branch_id} broker accounts",
            client_id=client_id or f"{branch_id.lower()}-dynsec-admin",
            look_s=repair_s,
            repair_s=repair_s,
            retry_max_delay=retry_max_delay,
        )
        self.branch_id = branch_id
        self.seal_key = seal_key
        self.service = list(service)
        self._lock = threading.Lock()
        self._entries: list[RegistryEntry] = []
        self._opened: dict[tuple[str, str], str] = {}  # (device, hash) -> checked password
        self._refused: set[tuple[str, str]] = set()  # logged once

    def start(  # type: ignore[override]
        self, entries: Iterable[RegistryEntry] = (), timeout: float = 10.0
    ) -> DynsecBranchAccounts:
        """Apply ``entries`` before returning (so the edge's own login exists before the edge
        logs in with it); then keep applying in a thread."""
        with self._lock:
            self._entries = list(entries)
        super().start(timeout)
        return self

    def set_devices(self, entries: list[RegistryEntry]) -> None:
        """The registry from now on: applied by the worker at once."""
        with self._lock:
            self._entries = list(entries)
        self.wake()

    # ------------------------------------------------------------------ the accounts

    def accounts(self) -> dict[str, Account]:
        """The accounts the registry asks for, as ``dynsec.reconcile`` takes them."""
        with self._lock:
            entries = list(self._entries)
        branch_rules = [("readwrite", f"fe/v1/{self.branch_id}/#")]
        accounts = {
            s.username: Account(
                s.username,
                s.password,
                fingerprint(s.password, s.username),
                acls_for(branch_rules),
            )
            for s in self.service
        }
        for entry in entries:
            spec = KINDS.get(entry.device_type)
            if not entry.admitted or not entry.password_hash or spec is None or spec.edge_node:
                continue
            if entry.device_id in accounts:
                log.error("device %s has a service login's name: not admitted", entry.device_id)
                continue
            own = f"fe/v1/{self.branch_id}/{entry.device_type}/{entry.device_id}/#"
            accounts[entry.device_id] = Account(
                entry.device_id,
                self._password(entry),
                fingerprint(entry.password_hash, entry.device_id),
                acls_for([("readwrite", own)]),
            )
        return accounts

    def _password(self, entry: RegistryEntry) -> str | None:
        """The device's clear password, from its sealed one (checked against its hash; a
        new seal of the same password is not opened again)."""
        if entry.password_sealed is None or self.seal_key is None or not entry.password_hash:
            return None
        key = (entry.device_id, entry.password_hash)
        password = self._opened.get(key)
        if password is not None:
            return password
        try:
            password = open_password(self.seal_key, entry.password_sealed, entry.password_hash)
        except SealError as exc:
            if key not in self._refused:
                self._refused.add(key)
                log.error("branch broker: device %s not admitted: %s", entry.device_id, exc)
            return None
        self._opened = {k: v for k, v in self._opened.items() if k[0] != entry.device_id}
        self._opened[key] = password
        return password
