"""An embedded MQTT broker (amqtt) for demo, tests and `finedge serve`/`finedge edge` defaults.

amqtt is asyncio-only and its ``Broker`` must be constructed inside a running event loop, so
EmbeddedBroker owns a background thread with its own loop; ``start()`` blocks until the
listener accepts connections and ``stop()`` shuts the broker down and joins the thread.

Authentication uses a small auth plugin of this module, loaded by amqtt from its dotted path
(amqtt 0.12 loads plugin classes named in the ``plugins`` section of its config; the old
entry-point style is deprecated). Passwords never enter amqtt's config: the plugin looks up a
per-broker table of salted digests, which ``add_user``/``remove_user`` change at run time.
The ``plugins`` parameter replaces that plugin by others (dotted class path -> config), which
is how ``acl.AclBroker`` installs its login and topic plugins.

amqtt behaviours worth knowing (measured with amqtt 0.12.1):

- it delivers at the *subscription's* QoS rather than min(publish QoS, subscription QoS);
- a retained message can be delivered twice to one subscriber (once for the subscription and
  once more on connect, because on (re)connect it replays retained messages matching *any*
  subscription in the broker, even another client's): consumers must de-duplicate by
  envelope id and ignore topics they did not subscribe to (MqttClient does the latter);
- its shutdown can hang waiting for a client's reader task and then never closes its
  listener (the port stays taken), and a client that connects but never sends CONNECT leaks
  a socket; hence EmbeddedBroker owns the listener and the connections (see the class);
- EmbeddedBroker itself has no topic ACL: any login may publish and subscribe anywhere.
  ``backend.platform.mqtt.acl.AclBroker`` adds one (and guards two amqtt bugs that appear
  once a topic plugin is loaded); the central broker of ``finedge serve`` and the edge's branch
  broker are AclBrokers.
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.errors import ProtocolHandlerError
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from backend.platform.listen import listen_socket

log = logging.getLogger(__name__)

# Per-broker user tables, keyed by an opaque token handed to the plugin through its config.
_USER_TABLES: dict[str, PasswordTable] = {}


class BrokerStartError(RuntimeError):
    """The embedded broker did not come up."""


class PasswordTable:
    """Salted SHA-256 digests of passwords; thread-safe replacement of the mapping.

    Also the password store of ``acl.MosquittoAclAccess``."""

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

    def replace(self, users: dict[str, str]) -> None:
        """Exactly these users from now on (the others are removed)."""
        digests = {}
        for username, password in users.items():
            if not username or not isinstance(password, str):
                raise ValueError("username and password must be non-empty strings")
            digests[username] = self._digest(password)
        with self._lock:
            self._digests = digests

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


# Errors of one client's connection (a client gone mid-packet, packets cancelled at shutdown).
# amqtt logs them with a traceback when a broadcast task ends with one, and leaves others in
# tasks nobody awaits (asyncio's "Task exception was never retrieved"); they concern that
# connection only, so both become one warning line without the traceback.
_CONNECTION_ERRORS = (ProtocolHandlerError, ConnectionError, asyncio.IncompleteReadError)


class _ConnectionErrorFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, _CONNECTION_ERRORS):
            what = str(record.msg).split(":", 1)[0]
            record.msg = f"{what}: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_CONNECTION_ERROR_FILTER = _ConnectionErrorFilter()


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if isinstance(exc, _CONNECTION_ERRORS):
        log.warning("embedded broker: a client connection ended: %s: %s", type(exc).__name__, exc)
        return
    loop.default_exception_handler(context)


def _quiet_loggers() -> None:
    # amqtt logs every connection at INFO and transitions every state change; keep them at
    # WARNING unless somebody configured them explicitly.
    for name in ("amqtt", "transitions"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    broker_logger = logging.getLogger("amqtt.broker")
    if _CONNECTION_ERROR_FILTER not in broker_logger.filters:
        broker_logger.addFilter(_CONNECTION_ERROR_FILTER)


# The MQTT protocol levels amqtt speaks: 3 (MQTT 3.1, "MQIsdp") and 4 (MQTT 3.1.1). amqtt
# 0.12.1 cannot parse an MQTT 5 CONNECT (its properties) and leaves the client waiting for a
# CONNACK forever; so the broker reads the start of every CONNECT itself and answers any other
# level with CONNACK return code 1 ("unacceptable protocol version", MQTT 3.1.1 section 3.2.2.3,
# which MQTT 5 section 3.1.2.2 allows a server that does not support 5 to send), then closes.
SUPPORTED_PROTOCOL_LEVELS = frozenset((3, 4))
CONNACK_UNACCEPTABLE_PROTOCOL = bytes((0x20, 0x02, 0x00, 0x01))
CONNECT_TIMEOUT_S = 30.0  # a connection that sends no CONNECT in this time is closed


async def _connect_head(reader: asyncio.StreamReader) -> tuple[bytes, int | None]:
    """The first bytes of a client's first packet, up to a CONNECT's protocol level, and that
    level (None when the packet is not a CONNECT that far)."""
    head = bytearray(await reader.readexactly(1))
    if head[0] != 0x10:  # CONNECT, no flags
        return bytes(head), None
    for _ in range(4):  # the remaining length: 1 to 4 bytes, high bit "more"
        head += await reader.readexactly(1)
        if not head[-1] & 0x80:
            break
    size = await reader.readexactly(2)
    head += size
    length = int.from_bytes(size, "big")
    if length > 6:  # "MQTT" or "MQIsdp": anything else is amqtt's to refuse
        return bytes(head), None
    head += await reader.readexactly(length)
    head += await reader.readexactly(1)
    return bytes(head), head[-1]


class _ReplayReader(StreamReaderAdapter):
    """amqtt's reader of a connection whose first bytes were read already: those first."""

    def __init__(self, reader: asyncio.StreamReader, head: bytes) -> None:
        super().__init__(reader)
        self._head = head

    async def read(self, n: int = -1) -> bytes:
        if not self._head:
            return await super().read(n)
        if n == -1:
            data, self._head = self._head, b""
            return data
        data, self._head = self._head[:n], self._head[n:]
        if len(data) < n:
            data += await self._reader.readexactly(n - len(data))
        return data


@dataclass
class _Runtime:
    """What the broker thread shares with the caller's thread for one start/stop cycle."""

    loop: asyncio.AbstractEventLoop | None = None
    stop_event: asyncio.Event | None = None
    started: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    error: BaseException | None = None
    sock: socket.socket | None = None


class EmbeddedBroker:
    """amqtt on ``host:port`` in a background thread. Port 0 picks a free port.

    ``users`` maps usernames to passwords; when given, anonymous clients are refused unless
    ``allow_anonymous=True``. Without users, anonymous clients are allowed unless
    ``allow_anonymous=False`` (which then refuses everybody until ``add_user``).

    ``plugins`` (amqtt plugin classes by dotted path -> their config) replaces the password
    plugin: who may log in and what they may touch is then those plugins' business, and
    ``users``, ``allow_anonymous``, ``add_user`` and ``remove_user`` do not apply.

    The listening socket and the client connections belong to this class, not to amqtt (amqtt
    serves them as an "external" listener): amqtt 0.12.1's own shutdown can hang waiting for a
    reader task and then never closes its listener, which left the port taken and sockets
    leaking. Here the listener closes first, connections are aborted, and amqtt's shutdown
    gets a bounded time.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
        allow_anonymous: bool | None = None,
        *,
        start_timeout: float = 10.0,
        shutdown_timeout: float = 3.0,
        plugins: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._requested_port = port
        self.allow_anonymous = (not users) if allow_anonymous is None else allow_anonymous
        self.start_timeout = start_timeout
        self.shutdown_timeout = shutdown_timeout
        self._table = PasswordTable(users)
        self._token = secrets.token_hex(8)
        self._plugins = (
            {name: dict(config) for name, config in plugins.items()}
            if plugins is not None
            else {_PLUGIN_PATH: {"table": self._token, "allow_anonymous": self.allow_anonymous}}
        )
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
        credentials = f"{quote(username, safe='')}:{quote(password, safe='')}"
        return f"mqtt://{credentials}@{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "external"}},
            # Sessions of clients gone for good should not pile up in a long-running demo.
            "session_expiry_interval": 3600,
            # Only our plugins: amqtt's defaults add a $SYS plugin that warns about psutil.
            "plugins": self._plugins,
        }

    def start(self) -> EmbeddedBroker:
        """Start listening (port 0: a free port, then in ``.port``); returns self."""
        if self.running:
            raise BrokerStartError("broker already running")
        _quiet_loggers()
        # Bound here, before amqtt starts: a port in use is one PortInUse (ConfigError),
        # not amqtt's tracebacks of a broker started and cancelled.
        sock = listen_socket(self.host, self._requested_port, "MQTT")
        _USER_TABLES[self._token] = self._table
        rt = self._rt = _Runtime(sock=sock)
        self._thread = threading.Thread(
            target=self._run, args=(rt,), name=f"amqtt-{self.host}:{self._requested_port}"
        )
        self._thread.daemon = True
        self._thread.start()
        if not rt.started.wait(self.start_timeout) or rt.error is not None:
            self.stop()
            error = rt.error or TimeoutError(f"not listening within {self.start_timeout}s")
            raise BrokerStartError(
                f"embedded broker failed to start on {self.host}:{self._requested_port}: {error}"
            ) from error
        self.port = rt.port
        log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)
        return self

    def _run(self, rt: _Runtime) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_loop_exception_handler)
        rt.loop = loop
        try:
            loop.run_until_complete(self._serve(rt))
        except BaseException as exc:  # reported to start(); never kills the interpreter
            if not rt.started.is_set():
                rt.error = exc
            else:
                log.exception("embedded broker crashed")
        finally:
            rt.started.set()
            try:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            except Exception:
                log.debug("embedded broker: error while draining its loop", exc_info=True)
            finally:
                loop.close()

    async def _serve(self, rt: _Runtime) -> None:
        rt.stop_event = asyncio.Event()
        broker = Broker(self._config())  # must happen inside the running loop
        writers: set[asyncio.StreamWriter] = set()

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
            writers.add(writer)
            try:
                try:
                    head, level = await asyncio.wait_for(_connect_head(reader), CONNECT_TIMEOUT_S)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    log.debug("embedded broker: a connection ended before its CONNECT")
                    return
                if level is not None and level not in SUPPORTED_PROTOCOL_LEVELS:
                    log.info(
                        "embedded broker refused a client of MQTT protocol level %d "
                        "(MQTT 3.1.1 only): CONNACK 1, unacceptable protocol version",
                        level,
                    )
                    writer.write(CONNACK_UNACCEPTABLE_PROTOCOL)
                    await writer.drain()
                    return
                await broker.external_connected(
                    _ReplayReader(reader, head), StreamWriterAdapter(writer), "default"
                )
            except Exception:
                log.debug("embedded broker: connection ended with an error", exc_info=True)
            finally:
                writers.discard(writer)
                writer.close()  # amqtt leaves some (e.g. a client that never sent CONNECT)

        assert rt.sock is not None
        try:
            await broker.start()
            server = await asyncio.start_server(on_connection, sock=rt.sock)
        except BaseException:
            rt.sock.close()
            raise
        try:
            rt.port = server.sockets[0].getsockname()[1]
            rt.started.set()
            await rt.stop_event.wait()
        finally:
            server.close()  # free the port first, whatever amqtt does next
            for writer in list(writers):
                writer.transport.abort()
            try:
                await asyncio.wait_for(broker.shutdown(), timeout=self.shutdown_timeout)
            except Exception:
                log.warning("embedded broker: amqtt did not shut down cleanly", exc_info=True)
            await server.wait_closed()

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
