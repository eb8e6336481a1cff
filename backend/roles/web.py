"""The web role: the Flask app (HTTP API and Socket.IO ``/live``) over a runtime the
composition root built (backend/bootstrap.py). ``build_app`` wires Flask, its extensions and
the areas' blueprints; ``create_app`` (backend/app.py) is the usual factory around it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, jsonify, request
from flask_socketio import SocketIO, join_room
from flask_swagger_ui import get_swaggerui_blueprint
from sqlalchemy.orm import Session, sessionmaker

from backend.identity.service import REVOKED_EVENT
from backend.identity.sessions import current_versions, revoked_since, verify_session
from backend.identity.wechat import Code2Session, FakeCode2Session, WeChatCode2Session
from backend.platform.config import Config, ConfigError
from backend.platform.errors import DomainError
from backend.platform.live import NAMESPACE, LiveEmitter, socket_rooms
from backend.platform.redaction import install_log_redaction
from backend.platform.wiring import Wiring
from backend.roles import live_revocation
from backend.roles.web_server import gevent_patched

log = logging.getLogger("finedge")


@dataclass
class FinEdge:
    """What views and workers need from the app, in one extension object."""

    config: Config
    engine: Any
    session_factory: sessionmaker[Session]
    wx_provider: Code2Session | None  # None: mini-program login is not enabled
    socketio: SocketIO
    live: LiveEmitter
    wiring: Wiring
    runtime: Any = None  # the bootstrap.Runtime that built this app
    extras: dict = field(default_factory=dict)


def _wx_provider(config: Config) -> Code2Session | None:
    if not config.wx_login:
        return None
    if config.wx_appid and config.wx_secret:
        return WeChatCode2Session(config.wx_appid, config.wx_secret, config.wx_api_base)
    if config.fake_wx_login:
        return FakeCode2Session()
    raise ConfigError("WX_APPID and WX_SECRET are required for mini-program login in production")


def _document_live_events(api: Any, live_events: list[tuple[Any, Any]]) -> None:
    """Each Socket.IO event of ``/live`` in the spec, with the schema that renders it (the HTTP
    response schema of the same object, or one extending it)."""
    components = api.spec.components
    documented: dict[str, Any] = {}
    for event, schema in live_events:
        entry: dict[str, Any] = {"namespace": NAMESPACE, "audience": event.audience}
        if event.rule is not None:
            entry["rooms"] = event.rule.describe()
        if schema is not None:
            name = schema.__name__.removesuffix("Schema")
            if name not in components.schemas:
                components.schema(name, schema=schema)
            entry["payload"] = {"$ref": f"#/components/schemas/{name}"}
        documented[event.name] = entry
    api.spec.options["x-live-events"] = documented


def _register_live(
    socketio: SocketIO, config: Config, session_factory: sessionmaker
) -> live_revocation.Sockets:
    """Socket.IO ``/live``: a connect is checked like a request (the token against the user's
    row: disabled, demoted or reset users are refused), and a revoked user's sockets are closed
    on every instance when ``session.revoked`` reaches them, or at the latest before the next
    event delivered after a second (backend/roles/live_revocation.py)."""

    @socketio.on("connect", namespace=NAMESPACE)
    def _connect(auth=None):
        if "token" in request.args:
            # A token in the URL lands in every access log and proxy on the way: refused
            # (docs/web.md: the auth payload, or the handshake's Authorization header).
            log.warning("Socket.IO connect with a token in the query string refused")
            return False
        token = auth.get("token") if isinstance(auth, dict) else None
        if not token:
            scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
            token = credentials.strip() if scheme.lower() == "bearer" else None
        if not isinstance(token, str) or not token:
            return False
        try:
            with session_factory() as session:
                actor, version = verify_session(session, token, config.secret_key)
        except DomainError:
            return False
        for room in socket_rooms(actor.user_id, actor.role, actor.org_id, actor.branch_id):
            join_room(room)
        sockets.add(request.sid, actor.user_id, version)
        return True

    @socketio.on("disconnect", namespace=NAMESPACE)
    def _disconnect(*_args):
        sockets.remove(request.sid)

    def in_force(user_ids: set[int]) -> dict[int, int]:
        with session_factory() as session:
            return current_versions(session, user_ids)

    def revoked(since: datetime) -> dict[int, int | None]:
        with session_factory() as session:
            return revoked_since(session, since)

    sockets = live_revocation.Sockets(revoked, in_force)
    live_revocation.install(socketio.server, NAMESPACE, REVOKED_EVENT, sockets)
    return sockets


def new_app(config: Config) -> tuple[Flask, SocketIO]:
    """The Flask app and its Socket.IO server, before any area is wired into them."""
    install_log_redaction()  # no token in any log line of this process (access logs included)
    app = Flask("finedge")
    # Chinese text (names, messages) goes out as UTF-8, not \u escapes.
    app.json.ensure_ascii = False
    app.config.update(
        MAX_CONTENT_LENGTH=config.max_content_length,
        API_TITLE="FinEdge API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
        SECRET_KEY=config.secret_key,
    )
    socketio = SocketIO(
        app,
        # gevent in the production web server (backend/roles/web_server.py), threads elsewhere
        async_mode="gevent" if gevent_patched() else "threading",
        message_queue=config.redis_url,
        cors_allowed_origins=[] if config.is_production else "*",
        logger=False,
        engineio_logger=False,
    )
    return app, socketio


def build_app(
    app: Flask,
    socketio: SocketIO,
    runtime: Any,
    blueprints: list[Any],
    live_events: list[tuple[Any, Any]] = (),
    pages: list[Any] = (),
) -> Flask:
    """Install the extension object, the areas' blueprints (``blp`` of each module), the error
    handlers, the request lifecycle (one session per request, idempotency), Socket.IO auth, and
    the live events in the OpenAPI spec (``x-live-events``: each event's payload schema)."""
    from miniapp_api.common import PUBLIC_PATHS, install_request_lifecycle
    from miniapp_api.errors import Api, register_error_handlers
    from miniapp_api.responses import complete_spec
    from miniapp_api.strict_input import install_strict_input, register_converters

    install_strict_input(app)  # first: the int converter before any rule, its hook before all
    config = runtime.config
    ext = FinEdge(
        config=config,
        engine=runtime.engine,
        session_factory=runtime.session_factory,
        wx_provider=_wx_provider(config),
        socketio=socketio,
        live=runtime.wiring.live,
        wiring=runtime.wiring,
        runtime=runtime,
    )
    app.extensions["finedge"] = ext
    ext.extras["live_sockets"] = _register_live(socketio, config, runtime.session_factory)

    api = Api(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
            "security": [{"bearerAuth": []}],
        },
    )
    register_converters(api)
    for module in blueprints:
        api.register_blueprint(module.blp)
    complete_spec(api, PUBLIC_PATHS)
    _document_live_events(api, live_events)
    for module in pages:  # the screens (web/): plain Flask blueprints, outside the API's spec
        app.register_blueprint(module.blp)
    register_error_handlers(app)
    install_request_lifecycle(app)
    app.register_blueprint(
        get_swaggerui_blueprint(
            "/api/v1/docs", "/api/v1/openapi.json", config={"app_name": "FinEdge API"}
        ),
        url_prefix="/api/v1/docs",
    )

    @app.get("/")
    def index():
        return jsonify(
            {
                "name": "FinEdge",
                "api": "/api/v1",
                "openapi": "/api/v1/openapi.json",
                "docs": "/api/v1/docs",
                "screens": {"mini_program": "/m/", "console": "/console/"},
            }
        )

    return app
