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
from collections.abc import Mapping

from sqlalchemy.orm import Session, sessionmaker

from backend.platform.mqtt import parse_mqtt_url
from backend.platform.mqtt.central import ACCOUNTS_TAG, BACKEND_USER, central_accounts
from backend.platform.mqtt.dynsec import Account, DynsecAdmin, ReconcileResult, reconcile
from backend.platform.mqtt.keeper import AccountsKeeper
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


class CentralAccounts(AccountsKeeper):
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
    ) -> None:
        super().__init__(
            admin_url,
            tag=ACCOUNTS_TAG,
            name="central broker accounts",
            client_id=client_id,
            look_s=every_s,
            repair_s=repair_s,
        )
        self.session_factory = session_factory
        self.secret_key = secret_key
        self.backend_password = backend_password
        self._applied_edges: dict[str, str] | None = None

    def poke(self) -> None:
        """Apply now (e.g. right after this process created a branch): a full pass, which
        also puts back what was changed by hand."""
        self.wake()

    def due(self) -> bool:
        """The branches changed since the last pass."""
        return edge_logins(self.session_factory) != self._applied_edges

    def accounts(self) -> dict[str, Account]:
        edges = edge_logins(self.session_factory)
        self._applied_edges = edges
        return central_accounts(self.secret_key, edges, backend_password=self.backend_password)
