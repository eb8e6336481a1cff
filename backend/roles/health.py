"""Health and readiness of a process that serves no HTTP API (the hub, the scheduler): a small
HTTP listener for the orchestrator's probes (docker-compose healthcheck, Kubernetes).

    GET /healthz   200 {"role", "status": "ok"} while the process runs (liveness)
    GET /readyz    200 when the role can do its work, else 503; the body says why
                   (hub: connected to the central broker and the database answers;
                   scheduler: the database answers; "active" or "standby" in the body)

The web role answers the same questions on its own port: ``/api/v1/health/live`` and
``/api/v1/health``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from backend.platform.listen import port_error

log = logging.getLogger(__name__)

Readiness = Callable[[], tuple[bool, dict[str, Any]]]


class HealthServer:
    def __init__(self, role: str, ready: Readiness, host: str = "0.0.0.0", port: int = 0):
        self.role = role
        self.ready = ready
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._answer(200, {"role": server.role, "status": "ok"})
                elif self.path == "/readyz":
                    try:
                        ok, details = server.ready()
                    except Exception as exc:  # a failing probe is "not ready", never a crash
                        ok, details = False, {"error": type(exc).__name__}
                    body = {"role": server.role, "status": "ready" if ok else "not_ready"}
                    self._answer(200 if ok else 503, {**body, **details})
                else:
                    self._answer(404, {"error": {"code": "not_found", "message": self.path}})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("health: " + format, *args)

        try:
            self._httpd = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:  # one line (PortInUse), before the role starts
            raise port_error(exc, host, port, f"{role} probe") from None
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> HealthServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"health-{self.role}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
