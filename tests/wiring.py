"""Sessions and runtimes for tests, built by the composition root (backend/bootstrap.py) so
that services reach their ports as in production: ``runtime_for(url)`` (role ``test``: nothing
running, device commands end ``failed`` unless a test installs a ``DeviceLink``) and
``wired_factory(engine)``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from backend.bootstrap import Runtime, bootstrap
from backend.platform.config import Config
from backend.platform.live import LiveEmitter


def runtime_for(
    url: str,
    *,
    live: LiveEmitter | None = None,
    ports: dict[type, Any] | None = None,
    engine: Engine | None = None,
    **overrides: Any,
) -> Runtime:
    config = Config.from_env(database_url=url, **overrides)
    return bootstrap(config, "test", live=live, ports=ports, engine=engine)


def wired_factory(engine: Engine, **kwargs: Any):
    """Sessions on ``engine`` (the caller disposes it) wired by the root; nothing runs."""
    url = engine.url.render_as_string(hide_password=False)
    return runtime_for(url, engine=engine, **kwargs).session_factory


class RecordingLink:
    """A ``DeviceLink`` that keeps what it was asked: commands, registry and queue changes."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []
        self.queues: list[str] = []
        self.registry_changes = 0

    def send(self, actor, device_id, name, args=None, *, command_id=None, wait_s=None):
        self.sent.append((device_id, name, dict(args or {})))
        return {"id": command_id, "device_id": device_id, "name": name, "status": "sent"}, True

    def registry_changed(self) -> None:
        self.registry_changes += 1

    def queue_changed(self, branch_id: str) -> None:
        self.queues.append(branch_id)
