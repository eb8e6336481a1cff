"""An embedded MQTT broker (amqtt) for demo, tests and `finedge serve`/`finedge edge` defaults.

amqtt is asyncio-only and its ``Broker`` must be constructed inside a running event loop, so
EmbeddedBroker owns a background thread with its own loop; ``start()`` blocks until the
listener accepts connections and ``stop()`` shuts the broker down and joins the thread.

Authentication uses a small auth plugin of this module, loaded by amqtt from its dotted path
(amqtt 0.12 loads plugin classes named in the ``plugins`` section of its config; the old
entry-point style is deprecated). Passwords never enter amqtt's config: the plugin looks up a
per-broker table of salted digests, which ``add_user``/``remove_user`` change at run time.

amqtt behaviours worth knowing (measured with amqtt 0.12.1):

- it delivers at the *subscription's* QoS rather than min(publish QoS, subscription QoS);
- a retained message can be delivered twice to one subscriber (once for the subscription and
  once more on connect, because on (re)connect it replays retained messages matching *any*
  subscription in the broker, even another client's): consumers must de-duplicate by
  envelope id and ignore topics they did not subscribe to (MqttClient does the latter);
- it has no topic ACLs like Mosquitto's; per-device isolation is a production (Mosquitto) job.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import socket
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

log = logging.getLogger(__name__)

_START_ATTEMPTS = 5

# Per-broker user tables, keyed by an opaque token handed to the plugin through its config.
_USER_TABLES: dict[str, _UserTable] = {}


class BrokerStartError(RuntimeError):
    """The embedded broker did not come up."""


class _UserTable:
    """Salted SHA-256 digests of passwords; thread-safe replacement of the mapping."""

    def __init__(self, users: dict[str, str] | None) -> None:
        self._salt = secrets.token_bytes(16)
        self._lock = threading.Lock()
        self._digests: dict[str, bytes] = {}
        for username, password in (users or {}).items():
            self.set(username, password)

    def _digest(self, password: str) -> bytes:
        return hashlib.sha256(self._salt + password.encode("utf-8")).digest()

    def set(self, username: str, password: str) -> None:
        if not username or not isinstance(password, str):
            raise ValueError("username and password must be non-empty strings")
        with self._lock:
            self._digests[username] = self._digest(password)

    def remove(self, username: str) -> None:
        with self._lock:
            self._digests.pop(username, None)

    def check(self, username: str, password: str | None) -> bool:
        with self._lock:
            expected = self._digests.get(username)
        if expected is None:
            return False
        return hmac.compare_digest(self._digest(password or ""), expected)

    def __len__(self) -> int:
        return len(self._digests)


class UserPasswordAuthPlugin(BaseAuthPlugin):
    """amqtt auth plugin: username/password checked against an EmbeddedBroker's user table."""

    @dataclass
    class Config:
        table: str = ""
        allow_anonymous: bool = False

    async def authenticate(self, *, session: Session) -> bool:
        cfg = self.context.config
        table = _USER_TABLES.get(cfg.table)
        if not session.username:
            if cfg.allow_anonymous:
                session.is_anonymous = True
                return True
            log.info("embedded broker refused an anonymous client")
            return False
        if table is not None and table.check(session.username, session.password):
            return True
        log.info("embedded broker refused user %r (bad credentials)", session.username)
        return False


_PLUGIN_PATH = f"{__name__}.UserPasswordAuthPlugin"


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _quiet_loggers() -> None:
    # amqtt logs every connection at INFO and transitions every state change; keep them at
    # WARNING unless somebody configured them explicitly.
    for name in ("amqtt", "transitions"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


@dataclass
class _Runtime:
    loop: asyncio.AbstractEventLoop | None = None
    stop_event: asyncio.Event | None = None
    started: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class EmbeddedBroker:
    """amqtt on ``host:port`` in a background thread. Port 0 picks a free port.

    ``users`` maps usernames to passwords; when given, anonymous clients are refused unless
    ``allow_anonymous=True``. Without users, anonymous clients are allowed unless
    ``allow_anonymous=False`` (which then refuses everybody until ``add_user``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
        allow_anonymous: bool | None = None,
        *,
        start_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self._requested_port = port
        self.allow_anonymous = (not users) if allow_anonymous is None else allow_anonymous
        self.start_timeout = start_timeout
        self._table = _UserTable(users)
        self._token = secrets.token_hex(8)
        self._thread: threading.Thread | None = None
        self._rt = _Runtime()

    # ------------------------------------------------------------------ users

    def add_user(self, username: str, password: str) -> None:
        """Add or change a user; takes effect for the next CONNECT."""
        self._table.set(username, password)

    def remove_user(self, username: str) -> None:
        self._table.remove(username)

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def url_for(self, username: str, password: str) -> str:
        return (
            f"mqtt://{quote(username, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}"
        )

    def _config(self, port: int) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{port}"}},
            # Sessions of clients gone for good should not pile up in a long-running demo.
            "session_expiry_interval": 3600,
            "plugins": {
                _PLUGIN_PATH: {"table": self._token, "allow_anonymous": self.allow_anonymous}
            },
        }

    def start(self) -> EmbeddedBroker:
        if self.running:
            raise BrokerStartError("broker already running")
        _quiet_loggers()
        _USER_TABLES[self._token] = self._table
        last_error: BaseException | None = None
        attempts = _START_ATTEMPTS if self._requested_port == 0 else 1
        for _ in range(attempts):
            port = self._requested_port or free_port(self.host)
            try:
                self._start_on(port)
            except BrokerStartError as exc:  # lost the race for the free port: try another
                last_error = exc
                continue
            self.port = port
            log.info("embedded MQTT broker listening on %s:%d", self.host, port)
            return self
        _USER_TABLES.pop(self._token, None)
        raise BrokerStartError(f"embedded broker failed to start: {last_error}") from last_error

    def _start_on(self, port: int) -> None:
        self._rt = _Runtime()
        config = self._config(port)
        self._thread = threading.Thread(
            target=self._run, args=(config, self._rt), name=f"amqtt-{port}", daemon=True
        )
        self._thread.start()
        if not self._rt.started.wait(self.start_timeout):
            self._request_stop()
            raise BrokerStartError(f"broker did not start within {self.start_timeout}s")
        if self._rt.error is not None:
            self._thread.join(self.start_timeout)
            self._thread = None
            raise BrokerStartError(str(self._rt.error)) from self._rt.error

    def _run(self, config: dict[str, Any], rt: _Runtime) -> None:
        loop = asyncio.new_event_loop()
        rt.loop = loop
        try:
            loop.run_until_complete(self._serve(config, rt))
        except BaseException as exc:  # reported to start(); never kills the interpreter
            if not rt.started.is_set():
                rt.error = exc
                rt.started.set()
            else:
                log.exception("embedded broker crashed")
        finally:
            with contextlib.suppress(Exception):
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, config: dict[str, Any], rt: _Runtime) -> None:
        rt.stop_event = asyncio.Event()
        broker = Broker(config)  # must happen inside the running loop
        await broker.start()  # returns once asyncio.start_server is listening
        rt.started.set()
        try:
            await rt.stop_event.wait()
        finally:
            try:
                await asyncio.wait_for(broker.shutdown(), timeout=10)
            except Exception:
                log.warning("embedded broker did not shut down cleanly", exc_info=True)

    def _request_stop(self) -> None:
        rt = self._rt
        if rt.loop is not None and rt.stop_event is not None and not rt.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closed between check and call
                rt.loop.call_soon_threadsafe(rt.stop_event.set)

    def stop(self, timeout: float = 15.0) -> None:
        """Disconnect every client and stop listening. Safe to call twice."""
        thread = self._thread
        if thread is None:
            return
        self._request_stop()
        thread.join(timeout)
        if thread.is_alive():
            log.warning("embedded broker thread still alive after %.0fs", timeout)
        self._thread = None
        _USER_TABLES.pop(self._token, None)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<EmbeddedBroker {self.host}:{self.port} {state} users={len(self._table)}>"
