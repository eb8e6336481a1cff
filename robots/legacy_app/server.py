"""Serving the legacy stand-in from a thread of this process (tests), on a port of its own."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server

from robots.legacy_app.app import LegacyState, create_app


class LegacyServer:
    """``with LegacyServer({"robot": "pw"}) as server: ... server.url ...``; port 0 picks a
    free port. ``stop()`` shuts it down (the port then refuses connections)."""

    def __init__(self, users: dict[str, str], host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = create_app(users)
        self._server = make_server(host, port, self.app, threaded=True)
        self.host, self.port = host, self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="legacy-app", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> LegacyState:
        return self.app.extensions["legacy_state"]

    def start(self) -> LegacyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> LegacyServer:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
