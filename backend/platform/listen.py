"""Listening sockets bound before anything starts: a port in use is one clear error.

Every FinEdge process that listens (``finedge serve``: HTTP and the embedded central broker;
``finedge web``; ``finedge hub`` and ``scheduler``: their probes; ``finedge edge``: the
embedded branch broker) binds its ports first, with ``listen_socket``, so that a taken port
ends the command with one line (``error: … port N … is in use …``) and a non-zero exit, with no
banner and no role started, instead of the tracebacks of whatever would have bound it later.
"""

from __future__ import annotations

import errno
import socket

from backend.platform.config import ConfigError


class PortInUse(ConfigError):
    """A port this process must listen on is taken (or may not be used)."""


def port_error(exc: OSError, host: str, port: int, what: str) -> PortInUse:
    """The one-line error for a failed bind of ``what`` on ``host:port``."""
    if exc.errno == errno.EADDRINUSE:
        reason = "is in use by another program; stop it or choose another port"
    elif exc.errno == errno.EACCES:
        reason = "may not be used by this user (below 1024?); choose another port"
    else:
        reason = f"cannot be listened on: {exc.strerror or exc}"
    return PortInUse(f"{what} port {port} on {host} {reason}")


def listen_socket(host: str, port: int, what: str, *, backlog: int = 128) -> socket.socket:
    """A TCP socket listening on ``host:port`` (port 0: a free one), or PortInUse."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise port_error(exc, host, port, what) from None
    return sock
