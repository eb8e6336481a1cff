"""Sessions for the benchmarks, wired by the composition root like the product's own (the
areas' ports ride on every session), on an engine the benchmark made."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.bootstrap import Runtime, bootstrap
from backend.platform.config import Config


def runtime_on(engine: Engine, **kwargs: Any) -> Runtime:
    url = engine.url.render_as_string(hide_password=False)
    return bootstrap(Config.from_env(database_url=url), "cli", engine=engine, **kwargs)


def session_factory(engine: Engine, **kwargs: Any) -> sessionmaker[Session]:
    return runtime_on(engine, **kwargs).session_factory
