"""Who may do what on the central broker: deploy/mosquitto/central/acl, and the same rules for
the embedded amqtt central broker that ``finedge serve`` starts when MQTT_URL is unset.

- ``backend`` reads and writes ``fe/v1/#``.
- Each branch's edge (login ``edge-<branch in lower case>``, or the id of the branch's
  registered edge device) writes only uplinks of its branch (``UPLINK_CHANNELS`` of any of its
  devices, its own included) and reads its branch's topics and the host STATE. So the
  downlinks an edge trusts without a signature (its registry on ``config/desired``, the counter
  map on ``config/counters``, ``queue/sync``, receipts, host STATE), and the devices' commands
  and desired configs, come from the backend only, and no edge speaks for another branch.

``central_acl`` writes those rules as a Mosquitto ``acl_file``; the embedded broker enforces
that text with ``backend.platform.mqtt.MosquittoAclAccess`` (tests check that it equals
the checked-in file, whose BR001 block is ``central_acl({"edge-br001": "BR001"})``'s).

Passwords of the embedded broker are derived from FINEDGE_SECRET_KEY (``login_password``):
``finedge serve`` and ``finedge edge`` sharing the secret (the demo: var/secret_key) need no
password file. The deployed Mosquitto has an operator's password file instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from backend.platform.mqtt.acl import AclBroker, MosquittoAclAccess
from edge.protocol import TOPIC_ROOT, TOPIC_VERSION, UPLINK_CHANNELS

BACKEND_USER = "backend"
_ROOT = f"{TOPIC_ROOT}/{TOPIC_VERSION}"
_UPLINKS = sorted(UPLINK_CHANNELS)  # a stable order, the checked-in file's


def central_acl(edges: Mapping[str, str], backend_user: str = BACKEND_USER) -> str:
    """The Mosquitto ``acl_file`` text: the backend's block, then one per edge login.

    ``edges`` maps an edge's login to its branch id.
    """
    lines = [f"user {backend_user}", f"topic readwrite {_ROOT}/#"]
    for login, branch_id in sorted(edges.items()):
        lines += ["", f"user {login}"]
        lines += [f"topic write {_ROOT}/{branch_id}/+/+/{channel}" for channel in _UPLINKS]
        lines += [f"topic read {_ROOT}/{branch_id}/#", f"topic read {_ROOT}/STATE/#"]
    return "\n".join(lines) + "\n"


def login_password(secret_key: str, username: str) -> str:
    """The embedded central broker's password for ``username``, derived from the secret key."""
    digest = hmac.new(
        secret_key.encode("utf-8"),
        f"finedge/v1/central-mqtt-login/{username}".encode(),
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


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
