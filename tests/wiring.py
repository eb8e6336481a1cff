"""Sessions and runtimes for tests, built by the composition root (backend/bootstrap.py) so
that services reach their ports as in production: ``runtime_for(url)`` (role ``test``: nothing
running, device commands end ``failed`` unless a test installs a ``DeviceLink``) and
``wired_factory(engine)``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from backend.bootstrap import Runtime, bootstrap, collect_areas, live_renderers
from backend.platform.config import Config
from backend.platform.live import LiveEmitter, RecordingEmitter


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


def recording_emitter() -> RecordingEmitter:
    """A RecordingEmitter with every declared event's renderer, as the root builds them."""
    return RecordingEmitter(live_renderers(collect_areas()))


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
