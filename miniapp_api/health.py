"""Liveness and readiness."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import text

from miniapp_api.common import db
from miniapp_api.strict_input import Blueprint

blp = Blueprint("health", __name__, url_prefix="/api/v1/health", description="Health")


@blp.route("")
class Health(MethodView):
    def get(self):
        """Answers 200 when the database answers (readiness)."""
        db().execute(text("SELECT 1"))
        return {"status": "ok"}


@blp.route("/live")
class Live(MethodView):
    def get(self):
        """Answers 200 while the process serves requests (liveness; no database)."""
        return {"status": "ok"}
