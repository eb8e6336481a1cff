"""The production web server's pieces that need no server: the environment a new process
gets, its command line, the refusals, and that only a gevent-patched process uses gevent."""

from __future__ import annotations

import sys

import pytest

from backend.platform.config import Config, ConfigError
from backend.roles.live import external_emitter
from backend.roles.web_server import (
    ENTRY_MODULE,
    check_config,
    config_environment,
    entry_command,
    gevent_patched,
    serve,
)

PRODUCTION = {
    "FINEDGE_ENV": "production",
    "FINEDGE_SECRET_KEY": "s" * 40,
    "DATABASE_URL": "postgresql+psycopg://u@db:5432/finedge",
    "MQTT_URL": "mqtt://backend:pw@mosquitto:1883",
    "REDIS_URL": "redis://redis:6379/0",
    "FINEDGE_TOKEN_TTL_S": "900",
}


def test_the_new_process_gets_the_same_config():
    config = Config.from_env(PRODUCTION)
    env = config_environment(config, {"PATH": "/bin", "BRANCH_MQTT_URL": "mqtt://stale:1"})
    assert Config.from_env(env) == config
    assert env["PATH"] == "/bin" and "BRANCH_MQTT_URL" not in env  # unset in config: unset


def test_the_config_given_wins_over_the_environment():
    config = Config.from_env(PRODUCTION, redis_url="redis://other:6379/1")
    assert Config.from_env(config_environment(config, PRODUCTION)).redis_url == (
        "redis://other:6379/1"
    )


def test_entry_command_line():
    assert entry_command("web", host="0.0.0.0", port=8000, access_log=False, grace_s=5) == [
        sys.executable, "-m", ENTRY_MODULE, "web", "--host", "0.0.0.0", "--port", "8000",
        "--no-access-log", "--grace", "5",
    ]  # fmt: skip
    command = entry_command("all", host="127.0.0.1", port=0, mqtt_port=18830, scheduler=False)
    assert command[3:] == [
        "all", "--host", "127.0.0.1", "--port", "0", "--mqtt-port", "18830", "--no-scheduler",
    ]  # fmt: skip


def test_sqlite_is_refused():
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        check_config(Config.from_env({**PRODUCTION, "DATABASE_URL": "sqlite:///x.db"}))
    assert check_config(Config.from_env(PRODUCTION)) == []


def test_a_missing_redis_url_is_one_warning_returned_not_logged(caplog):
    """Said once by the web process after its port is bound (backend/web_entry.py), never
    before a failure such as a taken port."""
    config = Config.from_env({k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"})
    with caplog.at_level("WARNING"):
        warnings = check_config(config)
    assert [w for w in warnings if w.startswith("REDIS_URL is unset")]
    assert not caplog.records


def test_serve_refuses_a_process_gevent_has_not_patched():
    assert not gevent_patched()
    with pytest.raises(RuntimeError, match="gevent-patched"):
        serve(lambda: pytest.fail("nothing is built"), host="127.0.0.1", port=0)


def test_threads_outside_the_production_server(app):
    # gevent is installed, but Flask-SocketIO must not pick it in a process it has not patched
    assert app.extensions["finedge"].socketio.server.eio.async_mode == "threading"
    emitter = external_emitter("redis://127.0.0.1:6379/0", {})
    assert emitter.socketio.server.eio.async_mode == "threading"
