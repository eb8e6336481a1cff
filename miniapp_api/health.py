"""Liveness and readiness."""

from __future__ import annotations

import logging

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from miniapp_api.common import db
from miniapp_api.errors import ErrorSchema, error_response
from miniapp_api.strict_input import Blueprint

log = logging.getLogger("finedge.http")

blp = Blueprint(
    "health",
    __name__,
    url_prefix="/api/v1/health",
    description="Health: liveness and readiness of a web process, no token needed. (The hub and "
    "scheduler roles answer /healthz and /readyz on their health ports: docs/hub.md.)",
)


class HealthOut(ma.Schema):
    status = ma.fields.String(metadata={"enum": ["ok"]})


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthOut)
    @blp.alt_response(
        503, schema=ErrorSchema, description="The database does not answer (unavailable)"
    )
    def get(self):
        """Readiness: 200 when the database answers.

        A load balancer sends traffic to this instance only while it answers 200; without the
        database it answers 503 ``unavailable`` in the contract's error shape. No token."""
        try:
            db().execute(text("SELECT 1"))
        except SQLAlchemyError:
            log.warning("readiness: the database does not answer", exc_info=True)
            return error_response(503, "unavailable", "the database does not answer")
        return {"status": "ok"}


@blp.route("/live")
class Live(MethodView):
    @blp.response(200, HealthOut)
    def get(self):
        """Liveness: 200 while the process serves requests.

        No database and no token: a supervisor restarts the process when this stops
        answering."""
        return {"status": "ok"}
