"""The embedded central MQTT broker of the one-process shape (``finedge serve`` without
MQTT_URL): started before the hub, stopped after it.

The embedded central broker has the logins and ACL of deploy/mosquitto/central
(backend/platform/mqtt/central.py): ``backend`` (the hub) and one edge login per branch, with
passwords derived from FINEDGE_SECRET_KEY; the edge logins follow the branches in the
database (looked up at start and every ``EDGE_LOGINS_REFRESH_S``)."""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass

from sqlalchemy import select

from backend.devices.models import Device
from backend.identity.models import Branch
from backend.platform.mqtt.central import BACKEND_USER, central_broker, login_password
from edge.protocol import ProtocolError, default_edge_id

log = logging.getLogger(__name__)

EDGE_LOGINS_REFRESH_S = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def edge_logins(session_factory) -> dict[str, str]:
    """Edge login -> branch id for every branch: the branch's registered edge device, else
    ``edge-<branch in lower case>`` (as the hub addresses the edge)."""
    with session_factory() as session:
        branches = set(session.scalars(select(Branch.code)))
        branches.update(session.scalars(select(Device.branch_id).distinct()))
        registered = dict(
            session.execute(
                select(Device.branch_id, Device.device_id).where(Device.device_type == "edge")
            ).all()
        )
    logins = {}
    for branch_id in sorted(branches):
        try:
            logins[registered.get(branch_id) or default_edge_id(branch_id)] = branch_id
        except ProtocolError:  # not a valid topic level: no MQTT for that branch
            log.warning("branch %r cannot have an edge login", branch_id)
    return logins


def _keep_edge_logins(broker, session_factory, every_s: float):
    """Refresh the embedded central broker's edge logins in a thread; returns its stopper."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every_s):
            try:
                logins = edge_logins(session_factory)
                if logins != broker.access.edges:
                    broker.access.set_edges(logins)
                    log.info("central broker: edge logins now %s", ", ".join(sorted(logins)))
            except Exception:
                log.exception("central broker: edge logins not refreshed")

    thread = threading.Thread(target=run, name="central-edge-logins", daemon=True)
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join(5)

    return stopper


@dataclass
class CentralBroker:
    """The running embedded broker: the backend's URL (with its login), what to show on the
    console (no password), and how to stop it with its login refresher."""

    broker: object
    backend_url: str
    shown: str
    stoppers: list

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            stop()


def start_central_broker(config, session_factory, *, host: str, port: int) -> CentralBroker:
    broker = central_broker(config.secret_key, edge_logins(session_factory), host=host, port=port)
    broker.start()
    refresher = _keep_edge_logins(broker, session_factory, EDGE_LOGINS_REFRESH_S)
    url = broker.url_for(BACKEND_USER, login_password(config.secret_key, BACKEND_USER))
    edges = ", ".join(sorted(broker.access.edges)) or "none yet"
    shown = f"{broker.url} (embedded broker; logins backend, edges {edges})"
    return CentralBroker(broker, url, shown, [broker.stop, refresher])
