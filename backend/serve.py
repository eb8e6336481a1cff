"""``finedge serve``: the backend process.

Starts, in one process: the embedded central MQTT broker (unless MQTT_URL names a real one),
the device hub (central ingest of every branch's uplinks, registries and desired configs to
the edges, command transport: backend/devices/hub.py), the job scheduler, and the HTTP +
Socket.IO server.  Ports are printed at start; port 0 picks a free one.  Ctrl-C stops
everything in reverse order."""

from __future__ import annotations

import logging
import socket

import click

from backend.platform.config import Config

log = logging.getLogger("finedge.serve")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


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
        from backend.platform.broker import EmbeddedBroker

        broker = EmbeddedBroker(host=host, port=mqtt_port)
        broker.start()
        stoppers.append(broker.stop)
        mqtt_url = f"mqtt://{host}:{broker.port}"
    else:
        mqtt_url = config.mqtt_url
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
    click.echo(f"  MQTT      {mqtt_url}{' (embedded broker)' if broker else ''}")
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
