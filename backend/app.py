"""Composition root: the only place that wires Flask, extensions and blueprints."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request
from flask_socketio import SocketIO, join_room
from flask_swagger_ui import get_swaggerui_blueprint
from sqlalchemy.orm import Session, sessionmaker

from backend.identity.tokens import decode_token
from backend.identity.wechat import Code2Session, FakeCode2Session, WeChatCode2Session
from backend.platform.config import Config, ConfigError
from backend.platform.db import make_engine, make_session_factory
from backend.platform.errors import DomainError
from backend.platform.live import (
    NAMESPACE,
    LiveEmitter,
    SocketIOEmitter,
    rooms_for,
    use_process_emitter,
)

log = logging.getLogger("finedge")

# One blueprint module per area, each exposing ``blp``; an area is wired here and nowhere else.
BLUEPRINTS = [
    "miniapp_api.auth",
    "miniapp_api.admin",
    "miniapp_api.health",
    "miniapp_api.orgs",
    "miniapp_api.ledger",
    "miniapp_api.floorplan",
    "miniapp_api.risk",
    "miniapp_api.devices",
    "miniapp_api.branch",
]


@dataclass
class FinEdge:
    """What views and workers need from the app, in one extension object."""

    config: Config
    engine: Any
    session_factory: sessionmaker[Session]
    wx_provider: Code2Session
    socketio: SocketIO
    live: LiveEmitter
    extras: dict = field(default_factory=dict)


def _wx_provider(config: Config) -> Code2Session:
    if config.wx_appid and config.wx_secret:
        return WeChatCode2Session(config.wx_appid, config.wx_secret, config.wx_api_base)
    if config.fake_wx_login:
        return FakeCode2Session()
    raise ConfigError("WX_APPID and WX_SECRET are required for mini-program login in production")


def _register_live(socketio: SocketIO, config: Config) -> None:
    @socketio.on("connect", namespace=NAMESPACE)
    def _connect(auth=None):
        token = (auth or {}).get("token") if isinstance(auth, dict) else None
        token = token or request.args.get("token")
        if not token:
            return False
        try:
            actor = decode_token(token, config.secret_key)
        except DomainError:
            return False
        for room in rooms_for(
            users=[actor.user_id],
            orgs=[actor.org_id] if actor.org_id is not None else [],
            branches=[actor.branch_id] if actor.branch_id else [],
            roles=[actor.role],
        ):
            join_room(room)
        return True


def create_app(config: Config | None = None) -> Flask:
    from backend import models  # noqa: F401  (every mapper configured before the first query)
    from miniapp_api.common import install_request_lifecycle
    from miniapp_api.errors import Api, register_error_handlers

    config = config or Config.from_env()
    app = Flask("finedge")
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
    engine = make_engine(config.database_url)
    socketio = SocketIO(
        app,
        async_mode="threading",
        message_queue=config.redis_url,
        cors_allowed_origins=[] if config.is_production else "*",
        logger=False,
        engineio_logger=False,
    )
    ext = FinEdge(
        config=config,
        engine=engine,
        session_factory=make_session_factory(engine),
        wx_provider=_wx_provider(config),
        socketio=socketio,
        live=SocketIOEmitter(socketio),
    )
    app.extensions["finedge"] = ext
    use_process_emitter(ext.live)  # jobs run in this process push through this app
    _register_live(socketio, config)

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
    for name in BLUEPRINTS:
        api.register_blueprint(importlib.import_module(name).blp)
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
            }
        )

    return app
