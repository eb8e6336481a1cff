"""``create_app(config)``: the Flask app of the web role, built by the composition root
(backend/bootstrap.py). The web process of production (gunicorn, backend.wsgi) and the tests
use it; ``finedge serve`` builds the all-in-one runtime around the same app."""

from __future__ import annotations

from flask import Flask

from backend.bootstrap import bootstrap
from backend.platform.config import Config


def create_app(config: Config | None = None, *, role: str = "web") -> Flask:
    return bootstrap(config, role).app
