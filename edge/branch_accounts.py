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
on every new registry). A worker thread applies the latest registry (``dynsec.reconcile``:
one listing, then only the changes, in one message), again after the admin connection comes
back (a restarted broker) and every ``repair_every_s`` (a hand-made change is undone).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from backend.platform.mqtt import MqttError, parse_mqtt_url
from backend.platform.mqtt.dynsec import (
    Account,
    DynsecAdmin,
    ReconcileResult,
    acls_for,
    fingerprint,
    reconcile,
)
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


class DynsecBranchAccounts:
    """The branch Mosquitto's dynsec accounts for one branch (module docstring)."""

    def __init__(
        self,
        branch_id: str,
        admin_url: str,
        *,
        seal_key: bytes | None,
        service: Iterable[ServiceLogin] = (),
        client_id: str | None = None,
        repair_every_s: float = 60.0,
        retry_max_delay: float = 5.0,
    ) -> None:
        self.branch_id = branch_id
        self.seal_key = seal_key
        self.service = list(service)
        self.repair_every_s = repair_every_s
        self.retry_max_delay = retry_max_delay
        self._admin = DynsecAdmin(
            admin_url,
            client_id or f"{branch_id.lower()}-dynsec-admin",
            on_connected=lambda _client: self._wake.set(),
            reconnect_max_delay=retry_max_delay,
        )
        self._lock = threading.Lock()
        self._entries: list[RegistryEntry] = []
        self._opened: dict[tuple[str, str], str] = {}  # (device, sealed) -> checked password
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._applied = threading.Condition()
        self.passes = 0  # reconciles that completed
        self.last: ReconcileResult | None = None
        self.last_error: str | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(
        self, entries: Iterable[RegistryEntry], timeout: float = 10.0
    ) -> DynsecBranchAccounts:
        """Connect and apply ``entries`` before returning (so the edge's own login exists
        before the edge logs in with it); then keep applying in a thread."""
        self._entries = list(entries)
        self._admin.connect(timeout)
        try:
            self._apply(timeout)
        except BaseException:
            self._admin.close()
            raise
        self._wake.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"{self.branch_id}-dynsec", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._admin.close()

    # ------------------------------------------------------------------ what it is told

    def set_devices(self, entries: list[RegistryEntry]) -> None:
        """The registry from now on: applied by the worker at once."""
        with self._lock:
            self._entries = list(entries)
        self._wake.set()

    def wait_passes(self, count: int, timeout: float) -> bool:
        """True once ``count`` reconciles have completed (tests, and callers that must know a
        registry is in force)."""
        with self._applied:
            return self._applied.wait_for(lambda: self.passes >= count, timeout)

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
        """The device's clear password, from its sealed one (checked against its hash)."""
        if entry.password_sealed is None or self.seal_key is None:
            return None
        key = (entry.device_id, entry.password_sealed)
        password = self._opened.get(key)
        if password is None:
            try:
                password = open_password(self.seal_key, entry.password_sealed, entry.password_hash)
            except SealError as exc:
                log.error("branch broker: device %s not admitted: %s", entry.device_id, exc)
                return None
            self._opened = {k: v for k, v in self._opened.items() if k[0] != entry.device_id}
            self._opened[key] = password
        return password

    # ------------------------------------------------------------------ the worker

    def _apply(self, timeout: float = 10.0) -> ReconcileResult:
        result = reconcile(self._admin, self.accounts(), tag=ACCOUNTS_TAG, timeout=timeout)
        if result.changed or result.missing or result.errors:
            log.info("branch %s broker accounts: %s", self.branch_id, result.summary())
        for error in result.errors:
            log.error("branch %s broker accounts: %s", self.branch_id, error)
        with self._applied:
            self.last, self.last_error = result, None
            self.passes += 1
            self._applied.notify_all()
        return result

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            woken = self._wake.wait(self.repair_every_s)
            if self._stop.is_set():
                return
            self._wake.clear()
            if not self._admin.wait_connected(0) and not woken:
                continue
            try:
                self._apply()
                delay = 0.2
            except (MqttError, ValueError) as exc:
                self.last_error = str(exc)
                log.warning("branch %s broker accounts not applied: %s", self.branch_id, exc)
                self._stop.wait(delay)
                delay = min(delay * 2, self.retry_max_delay)
                self._wake.set()  # again, until it goes through
            except Exception:  # never let the worker die
                log.exception("branch %s broker accounts: unexpected error", self.branch_id)
                time.sleep(delay)
                self._wake.set()
