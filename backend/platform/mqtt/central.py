"""Who may do what on the central broker: one set of rules, enforced by the embedded amqtt
central broker of ``finedge serve`` (MQTT_URL unset) and by the deployed central Mosquitto's
dynamic security plugin (deploy/mosquitto/central, accounts kept by
backend/roles/central_accounts.py).

- ``backend`` reads and writes ``fe/v1/#``.
- Each branch's edge (login ``edge-<branch in lower case>``, or the id of the branch's
  registered edge device) writes only uplinks of its branch (``UPLINK_CHANNELS`` of any of its
  devices, its own included) and reads its branch's topics and the host STATE. So the
  downlinks an edge trusts without a signature (its registry on ``config/desired``, the counter
  map on ``config/counters``, ``queue/sync``, receipts, host STATE), and the devices' commands
  and desired configs, come from the backend only, and no edge speaks for another branch.

``backend_rules`` and ``edge_rules`` are the rules (``acl_file`` access, filter);
``central_acl`` writes them as a Mosquitto ``acl_file``, which the embedded broker enforces
with ``MosquittoAclAccess``; ``central_accounts`` turns them into dynsec accounts (a role per
login with exactly these ACLs).

Passwords are derived from FINEDGE_SECRET_KEY (``login_password``): ``finedge serve`` and
``finedge edge`` sharing the secret (the demo: var/secret_key) need no password, and the
central Mosquitto's accounts get the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.platform.mqtt.acl import AclBroker, MosquittoAclAccess
from backend.platform.mqtt.dynsec import SUBSCRIBE, Account, Acl, acls_for, fingerprint
from edge.credentials import central_login_password
from edge.protocol import TOPIC_ROOT, TOPIC_VERSION, UPLINK_CHANNELS

BACKEND_USER = "backend"
ACCOUNTS_TAG = "finedge-central"  # the dynsec clients central_accounts keeps (their textname)
_ROOT = f"{TOPIC_ROOT}/{TOPIC_VERSION}"
_UPLINKS = sorted(UPLINK_CHANNELS)  # a stable order

Rule = tuple[str, str]  # (read | write | readwrite, topic filter)


def backend_rules() -> list[Rule]:
    return [("readwrite", f"{_ROOT}/#")]


def edge_rules(branch_id: str) -> list[Rule]:
    """An edge's rules: its branch's uplinks to write, its branch and the host STATE to read."""
    rules = [("write", f"{_ROOT}/{branch_id}/+/+/{channel}") for channel in _UPLINKS]
    return [*rules, ("read", f"{_ROOT}/{branch_id}/#"), ("read", f"{_ROOT}/STATE/#")]


def central_acl(edges: Mapping[str, str], backend_user: str = BACKEND_USER) -> str:
    """The rules as a Mosquitto ``acl_file`` text: the backend's block, then one per edge
    login. ``edges`` maps an edge's login to its branch id."""
    blocks = [(backend_user, backend_rules())]
    blocks += [(login, edge_rules(branch_id)) for login, branch_id in sorted(edges.items())]
    lines: list[str] = []
    for login, rules in blocks:
        lines += ["", f"user {login}"] if lines else [f"user {login}"]
        lines += [f"topic {access} {topic}" for access, topic in rules]
    return "\n".join(lines) + "\n"


def login_password(secret_key: str, username: str) -> str:
    """The central broker's password for ``username``, derived from the secret key (the
    embedded broker's and the dynsec accounts'; edge/credentials.py)."""
    return central_login_password(secret_key, username)


def central_accounts(
    secret_key: str,
    edges: Mapping[str, str],
    *,
    backend_password: str | None = None,
    backend_user: str = BACKEND_USER,
) -> dict[str, Account]:
    """The central Mosquitto's dynsec accounts: the backend (its password
    ``backend_password``, by default the derived one) and one per edge login (login -> branch
    id), each with exactly its rules."""
    backend_password = backend_password or login_password(secret_key, backend_user)
    # Hubs may share their subscriptions ($share/<group>/fe/v1/...): 2.0.11's plugin checks a
    # shared subscription with its prefix (tested), so the backend's role allows that too.
    shared = Acl(SUBSCRIBE, f"$share/+/{_ROOT}/#")
    accounts = {
        backend_user: Account(
            backend_user,
            backend_password,
            fingerprint(backend_password, backend_user),
            tuple(sorted({*acls_for(backend_rules()), shared})),
        )
    }
    for login, branch_id in edges.items():
        password = login_password(secret_key, login)
        accounts[login] = Account(
            login, password, fingerprint(password, login), acls_for(edge_rules(branch_id))
        )
    return accounts


class CentralAccess(MosquittoAclAccess):
    """The embedded central broker's logins and ACL, for the backend and the given edges."""

    def __init__(self, secret_key: str, edges: Mapping[str, str] | None = None) -> None:
        self._secret_key = secret_key
        super().__init__()
        self.edges: dict[str, str] = {}
        self.set_edges(edges or {})

    def set_edges(self, edges: Mapping[str, str]) -> None:
        """Exactly these edge logins (login -> branch id) besides the backend, from now on."""
        edges = dict(edges)
        logins = [BACKEND_USER, *edges]
        self.set_users({login: login_password(self._secret_key, login) for login in logins})
        self.set_acl(central_acl(edges))
        self.edges = edges


def central_broker(
    secret_key: str,
    edges: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    **kwargs: Any,
) -> AclBroker:
    """The embedded central broker (not started): ``CentralAccess`` as its ``access``."""
    return AclBroker(CentralAccess(secret_key, edges), host, port, **kwargs)
