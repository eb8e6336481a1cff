"""``finedge serve``: every role in one process, for the demo and a single machine.

Starts the embedded central MQTT broker (unless MQTT_URL names a real one), the device hub
(central ingest of every branch's uplinks, registries and desired configs to the edges,
command transport: backend/roles/hub.py), the job scheduler, and the HTTP + Socket.IO server,
all built by the composition root (``bootstrap(config, "all")``). Ports are printed at start;
port 0 picks a free one. Ctrl-C stops everything in reverse order.

Either way the HTTP port is bound before any role starts, so a port in use fails with nothing
started (no hub announcing itself online with nothing behind it). In production the process
becomes the production web server (gevent: backend/roles/web_server.py, ``run_all``); in the
demo and tests it serves with Werkzeug's threaded server, as Flask-SocketIO's threading mode.
"""

from __future__ import annotations

import logging

import click
from werkzeug.serving import make_server

from backend.bootstrap import bootstrap
from backend.platform.config import Config
from backend.roles.web_server import banner, run_all

log = logging.getLogger(__name__)


def run_server(
    config: Config, *, host: str, port: int, mqtt_port: int, scheduler: bool = True
) -> None:
    if config.is_production:
        run_all(config, host=host, port=port, mqtt_port=mqtt_port, scheduler=scheduler)
        return  # not reached: run_all replaces this process by the production server
    runtime = bootstrap(config, "all", host=host, mqtt_port=mqtt_port, scheduler=scheduler)
    server = None
    try:
        # binds (a port in use: Werkzeug says so and exits 1); then the port is ours
        server = make_server(host, port, runtime.app, threaded=True)
        runtime.start()
        for line in banner(runtime, host, server.server_port):
            click.echo(line)
        click.echo("  Ctrl-C to stop")
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.server_close()
        runtime.stop()
        click.echo("stopped")
