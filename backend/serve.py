"""``finedge serve``: the backend process.

Starts, in one process: the embedded central MQTT broker (unless MQTT_URL names a real one),
the device hub (central ingest of every branch's uplinks, registries and desired configs to
the edges, command transport: backend/devices/hub.py), the job scheduler, and the HTTP +
Socket.IO server.  Ports are printed at start; port 0 picks a free one.  Ctrl-C stops
everything in reverse order.

The embedded central broker has the logins and ACL of deploy/mosquitto/central
(backend/devices/central_acl.py): ``backend`` (the hub) and one edge login per branch, with
passwords derived from FINEDGE_SECRET_KEY; the edge logins follow the branches in the
database (looked up at start and every ``EDGE_LOGINS_REFRESH_S``)."""

from __future__ import annotations

import logging
import socket
import threading

import click

from backend.platform.config import Config

log = logging.getLogger("finedge.serve")

EDGE_LOGINS_REFRESH_S = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def edge_logins(session_factory) -> dict[str, str]:
    """Edge login -> branch id for every branch: the branch's registered edge device, else
    ``edge-<branch in lower case>`` (as the hub addresses the edge)."""
    from sqlalchemy import select

    from backend.devices.models import Device
    from backend.identity.models import Branch
    from edge.protocol import ProtocolError, default_edge_id

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


def run_server(
    config: Config, *, host: str, port: int, mqtt_port: int, scheduler: bool = True
) -> None:
    from backend import models  # noqa: F401
    from backend.app import create_app
    from backend.cli import _load_jobs
    from backend.platform.jobs import start_scheduler

    app = create_app(config)
    ext = app.extensions["finedge"]
    stoppers = []
    broker = None
    if config.mqtt_url is None:
        from backend.devices.central_acl import BACKEND_USER, central_broker, login_password

        broker = central_broker(
            config.secret_key, edge_logins(ext.session_factory), host=host, port=mqtt_port
        )
        broker.start()
        stoppers.append(broker.stop)
        stoppers.append(_keep_edge_logins(broker, ext.session_factory, EDGE_LOGINS_REFRESH_S))
        mqtt_url = broker.url_for(BACKEND_USER, login_password(config.secret_key, BACKEND_USER))
        edges = ", ".join(sorted(broker.access.edges)) or "none yet"
        shown_url = f"{broker.url} (embedded broker; logins backend, edges {edges})"
    else:
        from backend.platform.mqtt import parse_mqtt_url

        mqtt_url = config.mqtt_url
        shown_host, shown_port, _user, _password = parse_mqtt_url(mqtt_url)
        shown_url = f"mqtt://{shown_host}:{shown_port}"  # no password on the console
    ext.extras["mqtt_url"] = mqtt_url
    from backend.devices.hub import DeviceHub

    hub = DeviceHub(ext.session_factory, ext.live, config.secret_key, mqtt_url).start()
    ext.extras["devices"] = hub
    stoppers.append(hub.stop)
    if scheduler:
        _load_jobs()
        sched = start_scheduler(ext.session_factory)
        stoppers.append(lambda: sched.shutdown(wait=False))
    port = port or free_port(host)
    click.echo(f"FinEdge {config.env} backend")
    click.echo(f"  HTTP      http://{host}:{port}/api/v1  (docs: http://{host}:{port}/api/v1/docs)")
    click.echo(f"  OpenAPI   http://{host}:{port}/api/v1/openapi.json")
    click.echo(f"  Socket.IO http://{host}:{port}/socket.io  namespace /live")
    click.echo(f"  MQTT      {shown_url}")
    click.echo("  Ingest    fe/v1/+/+/+/# -> database (devices, alarms, twins, commands)")
    click.echo("  Ctrl-C to stop")
    try:
        ext.socketio.run(
            app,
            host=host,
            port=port,
            allow_unsafe_werkzeug=not config.is_production,
            use_reloader=False,
        )
    except KeyboardInterrupt:
        pass
    finally:
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception:
                log.exception("error while stopping")
        ext.engine.dispose()
        click.echo("stopped")
