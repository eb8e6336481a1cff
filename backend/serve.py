"""``finedge serve``: every role in one process, for the demo and a single machine.

Starts the embedded central MQTT broker (unless MQTT_URL names a real one), the device hub
(central ingest of every branch's uplinks, registries and desired configs to the edges,
command transport: backend/roles/hub.py), the job scheduler, and the HTTP + Socket.IO server,
all built by the composition root (``bootstrap(config, "all")``). Ports are printed at start;
port 0 picks a free one. Ctrl-C stops everything in reverse order.
"""

from __future__ import annotations

import logging
import socket

import click

from backend.bootstrap import bootstrap
from backend.platform.config import Config, ConfigError
from backend.roles.broker import free_port

log = logging.getLogger(__name__)


def _ensure_free(host: str, port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def run_server(
    config: Config, *, host: str, port: int, mqtt_port: int, scheduler: bool = True
) -> None:
    port = port or free_port(host)
    _ensure_free(host, port)  # the roles start only once the server is sure to run
    runtime = bootstrap(config, "all", host=host, mqtt_port=mqtt_port, scheduler=scheduler)
    try:
        runtime.start()
        click.echo(f"FinEdge {config.env} backend")
        click.echo(
            f"  HTTP      http://{host}:{port}/api/v1  (docs: http://{host}:{port}/api/v1/docs)"
        )
        click.echo(f"  OpenAPI   http://{host}:{port}/api/v1/openapi.json")
        click.echo(f"  Socket.IO http://{host}:{port}/socket.io  namespace /live")
        click.echo(f"  MQTT      {runtime.mqtt_shown}")
        click.echo("  Ingest    fe/v1/+/+/+/# -> database (devices, alarms, twins, commands)")
        click.echo("  Ctrl-C to stop")
        runtime.socketio.run(
            runtime.app,
            host=host,
            port=port,
            allow_unsafe_werkzeug=not config.is_production,
            use_reloader=False,
        )
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()
        click.echo("stopped")
