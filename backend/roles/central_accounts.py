"""The central Mosquitto's accounts follow the branches in the database, through its dynamic
security plugin: no password file, no ACL file, no restart.

The accounts (``backend.platform.mqtt.central.central_accounts``, tagged ``finedge-central``):

- ``backend`` (the hubs and the web processes' command links): ``fe/v1/#``; its password is
  the one in MQTT_URL when given, else the one derived from FINEDGE_SECRET_KEY;
- one per branch (``backend.roles.broker.edge_logins``: the branch's registered edge device,
  else ``edge-<branch in lower case>``), password derived from FINEDGE_SECRET_KEY
  (``login_password``: ``finedge edge`` sharing the secret needs no password in its URL):
  publishes only its branch's uplinks, reads its branch and the host STATE;
- a branch gone from the database: its edge's client and role are deleted, and its open
  connection closed by the plugin.

``sync(session_factory, admin_url, secret_key=...)`` does one pass (connect, reconcile,
disconnect); ``CentralAccounts`` is the hub role's keeper (``keeper_for(config,
session_factory)`` builds it from MQTT_ADMIN_URL, MQTT_URL and FINEDGE_SECRET_KEY; ``start()``
before the hub connects, ``stop()`` after): it applies at start, then whenever
the branches change (a cheap query every ``every_s``), after its admin connection comes back
(a restarted broker) and every ``repair_s`` anyway (a hand-made change is undone). Several
hub processes may each run one: a pass over accounts already in place sends nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from backend.platform.mqtt import MqttError, parse_mqtt_url
from backend.platform.mqtt.central import ACCOUNTS_TAG, BACKEND_USER, central_accounts
from backend.platform.mqtt.dynsec import DynsecAdmin, ReconcileResult, reconcile
from backend.roles.broker import edge_logins

log = logging.getLogger(__name__)

__all__ = ["CentralAccounts", "apply", "backend_password_of", "keeper_for", "sync"]


def backend_password_of(mqtt_url: str | None) -> str | None:
    """The backend's password as the hubs use it: MQTT_URL's, if it names the backend."""
    if not mqtt_url:
        return None
    _host, _port, user, password = parse_mqtt_url(mqtt_url)
    return password if user == BACKEND_USER else None


def keeper_for(config, session_factory: sessionmaker[Session]) -> CentralAccounts | None:
    """The hub process's keeper from its configuration (not started): None without
    MQTT_ADMIN_URL (the embedded central broker, or a broker whose accounts are kept
    elsewhere). The backend's password is MQTT_URL's when it names the backend."""
    if not config.mqtt_admin_url:
        return None
    return CentralAccounts(
        session_factory,
        config.mqtt_admin_url,
        secret_key=config.secret_key,
        backend_password=backend_password_of(config.mqtt_url),
    )


def apply(
    admin: DynsecAdmin,
    edges: Mapping[str, str],
    *,
    secret_key: str,
    backend_password: str | None = None,
    timeout: float = 10.0,
) -> ReconcileResult:
    """Make the central broker's accounts the backend's and exactly ``edges``' (edge login ->
    branch id)."""
    accounts = central_accounts(secret_key, edges, backend_password=backend_password)
    result = reconcile(admin, accounts, tag=ACCOUNTS_TAG, timeout=timeout)
    if result.changed or result.errors:
        log.info("central broker accounts: %s", result.summary())
    for error in result.errors:
        log.error("central broker accounts: %s", error)
    return result


def sync(
    session_factory: sessionmaker[Session],
    admin_url: str,
    *,
    secret_key: str,
    backend_password: str | None = None,
    timeout: float = 10.0,
) -> ReconcileResult:
    """One pass: the central broker's accounts equal to the branches in the database now."""
    edges = edge_logins(session_factory)
    admin = DynsecAdmin(admin_url, reconnect_max_delay=timeout).connect(timeout)
    try:
        return apply(
            admin,
            edges,
            secret_key=secret_key,
            backend_password=backend_password,
            timeout=timeout,
        )
    finally:
        admin.close()


class CentralAccounts:
    """The hub process's keeper of the central broker's accounts (module docstring)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        admin_url: str,
        *,
        secret_key: str,
        backend_password: str | None = None,
        every_s: float = 2.0,
        repair_s: float = 300.0,
        client_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session_factory = session_factory
        self.secret_key = secret_key
        self.backend_password = backend_password
        self.every_s = every_s
        self.repair_s = repair_s
        self._clock = clock
        self._admin = DynsecAdmin(
            admin_url,
            client_id,
            on_connected=lambda _client: self._reconnected.set(),
            reconnect_max_delay=5.0,
        )
        self._reconnected = threading.Event()
        self._poked = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._applied_edges: dict[str, str] | None = None
        self._applied_at = 0.0
        self._done = threading.Condition()
        self.passes = 0
        self.last: ReconcileResult | None = None

    def start(self, timeout: float = 10.0) -> CentralAccounts:
        """Connect and apply once before returning (MqttConnectError or DynsecError if the
        broker or its plugin is not there), then keep them in a thread."""
        self._admin.connect(timeout)
        self._reconnected.clear()
        try:
            self._pass(force=True)
        except BaseException:
            self._admin.close()
            raise
        self._thread = threading.Thread(target=self._run, name="central-accounts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._admin.close()

    def poke(self) -> None:
        """Apply now (e.g. right after this process created a branch): a full pass, which
        also puts back what was changed by hand."""
        self._poked.set()
        self._wake.set()

    def wait_passes(self, count: int, timeout: float) -> bool:
        with self._done:
            return self._done.wait_for(lambda: self.passes >= count, timeout)

    def _pass(self, force: bool = False) -> None:
        edges = edge_logins(self.session_factory)
        due = self._clock() - self._applied_at >= self.repair_s
        if force or due or edges != self._applied_edges:
            result = apply(
                self._admin,
                edges,
                secret_key=self.secret_key,
                backend_password=self.backend_password,
            )
            self._applied_edges, self._applied_at = edges, self._clock()
            with self._done:
                self.last = result
        with self._done:
            self.passes += 1
            self._done.notify_all()

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            self._wake.wait(self.every_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            force = self._reconnected.is_set() or self._poked.is_set()
            self._reconnected.clear()
            self._poked.clear()
            try:
                self._pass(force=force)
                delay = 0.5
            except Exception as exc:  # the broker or the database away: never let it die
                if isinstance(exc, MqttError | ValueError):
                    log.warning("central broker accounts not applied: %s", exc)
                else:
                    log.exception("central broker accounts: unexpected error")
                self._applied_edges = None  # whatever happened, the next pass applies
                self._stop.wait(delay)
                delay = min(2 * delay, 30.0)
