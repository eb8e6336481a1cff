"""``finedge serve``: every role in one process, for the demo and a single machine.

Starts the embedded central MQTT broker (unless MQTT_URL names a real one), the device hub
(central ingest of every branch's uplinks, registries and desired configs to the edges,
command transport: backend/roles/hub.py), the job scheduler, and the HTTP + Socket.IO server,
all built by the composition root (``bootstrap(config, "all")``). Ports are printed at start;
port 0 picks a free one. Ctrl-C (SIGINT) or SIGTERM stops everything in reverse order, however
the process was started (``stop_on_signals``).

Either way the HTTP port is bound before any role starts, so a port in use fails with one line
and a non-zero exit, with nothing started (no banner, no hub announcing itself online with
nothing behind it); the embedded broker's port likewise (backend/platform/listen.py). In
production the process becomes the production web server (gevent: backend/roles/web_server.py,
``run_all``); in the demo and tests it serves with Werkzeug's threaded server, as
Flask-SocketIO's threading mode.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
from werkzeug.serving import make_server

from backend.bootstrap import bootstrap
from backend.platform.config import Config
from backend.platform.listen import listen_socket
from backend.roles.web_server import banner, run_all

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM stop the server, however it was started: a shell script's background
    job starts with SIGINT ignored (Python then installs no KeyboardInterrupt handler), `make
    demo` sends SIGTERM from its trap, a terminal's Ctrl-C sends SIGINT. The first signal
    raises KeyboardInterrupt in the main thread (an orderly stop, every part's wait bounded);
    later ones are ignored while it stops (`make demo`'s trap sends SIGTERM to what a Ctrl-C
    already stops)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def handler(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            log.debug("signal %d: already stopping", signum)
            return
        stopping = True
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def run_server(
    config: Config, *, host: str, port: int, mqtt_port: int, scheduler: bool = True
) -> None:
    if config.is_production:
        run_all(config, host=host, port=port, mqtt_port=mqtt_port, scheduler=scheduler)
        return  # not reached: run_all replaces this process by the production server
    # The HTTP port first: taken, it is one line (PortInUse) with nothing built or started.
    sock = listen_socket(host, port, "HTTP")
    with stop_on_signals():
        serving = False
        runtime = None
        server = None
        try:
            runtime = bootstrap(config, "all", host=host, mqtt_port=mqtt_port, scheduler=scheduler)
            server = make_server(host, port, runtime.app, threaded=True, fd=sock.fileno())
            sock.close()  # the server holds its own duplicate of the descriptor
            # the embedded broker binds its port first: taken, PortInUse before any role runs
            runtime.start()
            for line in banner(runtime, host, server.port):
                click.echo(line)
            click.echo("  Ctrl-C to stop")
            serving = True
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            sock.close()
            if server is not None:
                server.server_close()
            if runtime is not None:
                runtime.stop()
            if serving:
                click.echo("stopped")
