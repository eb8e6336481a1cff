"""The production web server: the HTTP API and Socket.IO ``/live`` of ``finedge web`` (the web
role) and of ``finedge serve`` in production (every role in one process), without Werkzeug.

One process per instance, gevent's WSGI server (``gevent.pywsgi``), Flask-SocketIO in its
``gevent`` mode with websockets from simple-websocket: each connection, HTTP or websocket, is a
greenlet, so one instance holds thousands of websockets while it answers HTTP (a gthread
worker held one thread per websocket: 50 threads, and the 51st client blocked all HTTP).
Socket.IO crosses instances through the Redis message queue (REDIS_URL), so any number of
instances serve the same clients; a load balancer in front keeps each client on one instance
(sticky sessions, for the long-polling transport).

gevent patches the standard library (sockets, threads, ``select``, ``time.sleep``) so that the
app's blocking code yields: psycopg 3 picks a cooperative wait function when it sees ``select``
patched, SQLAlchemy's pool, redis, paho (the command link) and the hub's and scheduler's
threads become greenlets. The patching must come before anything else is imported (psycopg
chooses its wait function at import time), so ``run_web`` and ``run_all`` replace the calling
process (``os.execve``, same pid, same signals) by ``python -m backend.web_entry``, which
patches first and then calls ``serve`` here. PostgreSQL only: SQLite's lock waits block the
whole process, every greenlet with it.

``serve`` binds the port first (a port in use fails before anything starts), then builds the
role's runtime, starts it (hub, scheduler, embedded broker for ``all``), serves; SIGTERM or
SIGINT stops accepting, gives open requests ``grace_s`` seconds, and stops the runtime.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from backend.platform.config import Config, ConfigError
from backend.platform.redaction import install_log_redaction, redact

log = logging.getLogger(__name__)

ENTRY_MODULE = "backend.web_entry"  # the process entry that patches, then calls serve()
GRACE_S = 10.0
BACKLOG = 2048  # pending connections: thousands of clients reconnect at once after a restart
# The cyclic garbage collector's young generations, in net allocations (see tune_gc).
GC_THRESHOLDS = (10_000, 10, 10)

# The Config fields that come from the environment (Config.from_env), for the new process.
_CONFIG_ENV = {
    "FINEDGE_ENV": "env",
    "DATABASE_URL": "database_url",
    "MQTT_URL": "mqtt_url",
    "BRANCH_MQTT_URL": "branch_mqtt_url",
    "REDIS_URL": "redis_url",
    "FINEDGE_SECRET_KEY": "secret_key",
    "FINEDGE_TOKEN_TTL_S": "token_ttl_s",
    "WX_APPID": "wx_appid",
    "WX_SECRET": "wx_secret",
}


def gevent_patched() -> bool:
    """Has gevent patched this process's standard library (the production web server)?"""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")


def check_config(config: Config) -> list[str]:
    """Refuse what the production web server cannot run on; return the warnings worth a line
    once the server is up (said once, after the port is bound: not before a failure)."""
    if not config.database_url.startswith("postgresql"):
        raise ConfigError(
            "the production web server needs PostgreSQL (DATABASE_URL=postgresql+psycopg://…): "
            "SQLite's lock waits would block every connection of the process"
        )
    warnings = []
    if not config.redis_url:
        warnings.append(
            "REDIS_URL is unset: live events of other processes (hubs, the scheduler, other "
            "web instances) will not reach this instance's Socket.IO clients"
        )
    return warnings


def config_environment(config: Config, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that makes ``Config.from_env`` in a new process give ``config``."""
    env = dict(os.environ if environ is None else environ)
    for name, attribute in _CONFIG_ENV.items():
        value = getattr(config, attribute)
        if value is None or value == "":
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def entry_command(role: str, *, host: str, port: int, **options: Any) -> list[str]:
    """The command line of the production web process of ``role`` (``web`` or ``all``)."""
    args = [sys.executable, "-m", ENTRY_MODULE, role, "--host", host, "--port", str(port)]
    if options.get("mqtt_port") is not None:
        args += ["--mqtt-port", str(options["mqtt_port"])]
    if options.get("scheduler") is False:
        args.append("--no-scheduler")
    if options.get("access_log") is False:
        args.append("--no-access-log")
    if options.get("grace_s") is not None:
        args += ["--grace", str(options["grace_s"])]
    return args


def _become_entry(config: Config, role: str, host: str, port: int, **options: Any) -> None:
    check_config(config)
    sys.stdout.flush()
    sys.stderr.flush()
    command = entry_command(role, host=host, port=port, **options)
    os.execve(command[0], command, config_environment(config))  # noqa: S606 (never returns)


def run_web(
    config: Config,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    access_log: bool = True,
    grace_s: float = GRACE_S,
) -> None:
    """``finedge web``: this process becomes one web instance (HTTP API and Socket.IO) on
    ``host:port`` until SIGTERM or SIGINT. Any number of instances, each its own process,
    share live events through REDIS_URL. Never returns (the process is replaced)."""
    _become_entry(config, "web", host, port, access_log=access_log, grace_s=grace_s)


def run_all(
    config: Config,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    mqtt_port: int = 18830,
    scheduler: bool = True,
    access_log: bool = True,
    grace_s: float = GRACE_S,
) -> None:
    """``finedge serve`` in production: every role in this process (HTTP and Socket.IO, the hub,
    the scheduler, the embedded central broker unless MQTT_URL) under the production server;
    the roles start once the HTTP port is bound. Never returns (the process is replaced)."""
    _become_entry(
        config,
        "all",
        host,
        port,
        mqtt_port=mqtt_port,
        scheduler=scheduler,
        access_log=access_log,
        grace_s=grace_s,
    )


def raise_file_limit() -> int:
    """Raise this process's open-file limit to its hard limit (a websocket is a descriptor);
    returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("open-file limit stays at %d", soft)
    return soft


def tune_gc() -> None:
    """Keep the cyclic garbage collector's pauses short in a process holding thousands of
    connections. A full collection walks every object (about a million with 5,000 websockets:
    0.3 to 1.9 s on 2 busy cores, stalling every request) and runs whenever the old generation
    has grown by a quarter. What the process built at start (the app, the areas, the metadata)
    is frozen out of all collections; the young generations are collected after 10,000 net
    allocations instead of 700 (each young collection stays within milliseconds), so that the
    objects of a Socket.IO ping cycle (a greenlet that sleeps 25 s, per client) die young
    instead of growing the old generation: with 5,000 clients held no full collection ran."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def banner(runtime: Any, host: str, port: int) -> list[str]:
    """What a started server prints: where each of its parts listens."""
    base = f"http://{host}:{port}"
    lines = [
        f"FinEdge {runtime.config.env} backend ({runtime.role})",
        f"  HTTP      {base}/api/v1  (docs: {base}/api/v1/docs)",
        f"  OpenAPI   {base}/api/v1/openapi.json",
        f"  Socket.IO {base}/socket.io  namespace /live",
        f"  Screens   {base}/m/  (mini-program)   {base}/console/  (staff console)",
    ]
    if runtime.mqtt_shown:
        lines.append(f"  MQTT      {runtime.mqtt_shown}")
        lines.append("  Ingest    fe/v1/+/+/+/# -> database (devices, alarms, twins, commands)")
    return lines


def serve(
    build: Callable[[], Any],
    *,
    host: str,
    port: int,
    access_log: bool = True,
    grace_s: float = GRACE_S,
    announce: Callable[[str], None] = print,
) -> int:
    """Run one production web process in this gevent-patched process: bind ``host:port`` (port
    0: a free one), ``build()`` the role's runtime (backend.bootstrap.Runtime), start it, serve
    until SIGTERM or SIGINT, then stop the runtime. Returns the exit status."""
    if not gevent_patched():
        raise RuntimeError("serve() runs in a gevent-patched process (python -m backend.web_entry)")
    import gevent
    import gevent.event
    from gevent import pywsgi

    limit = raise_file_limit()
    install_log_redaction()

    class Handler(pywsgi.WSGIHandler):
        def format_request(self) -> str:
            # the access log's request line: a token in a URL never reaches the log
            return redact(super().format_request())

        def handle(self) -> None:
            # pywsgi sends a response's headers and body in two writes: without TCP_NODELAY
            # the body waits for the client's delayed ACK of the headers (40 ms a request).
            with contextlib.suppress(OSError):  # not TCP (a Unix socket): nothing to wait for
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle()

    server = pywsgi.WSGIServer(
        (host, port),
        None,
        backlog=BACKLOG,
        handler_class=Handler,
        log=logging.getLogger("finedge.access") if access_log else None,
        error_log=logging.getLogger("finedge.web"),
    )
    server.init_socket()  # bound: the port is ours before any role starts
    port = server.server_port
    runtime = build()
    server.application = runtime.app
    stopping = gevent.event.Event()

    def stop(signum: int) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("signal %d: stopping (open requests get %.0fs)", signum, grace_s)
            gevent.spawn(server.stop, timeout=grace_s)

    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop, signum)
    try:
        runtime.start()
        tune_gc()
        for line in banner(runtime, host, port):
            announce(line)
        announce(f"  Serving   gevent, one process, open-file limit {limit}; Ctrl-C to stop")
        sys.stdout.flush()
        server.serve_forever()
    finally:
        runtime.stop()
        announce("stopped")
    return 0
