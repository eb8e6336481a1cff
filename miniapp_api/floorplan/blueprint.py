"""The one floor-plan blueprint (``/api/v1/floorplan``) every floor-plan route module registers
on, and the live emitter views hand to the use cases that may raise alerts."""

from __future__ import annotations

from flask import current_app

from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "floorplan",
    __name__,
    url_prefix="/api/v1/floorplan",
    description="Floor-plan auto finance: credit lines, bills, shipments, cars, audits, alerts",
)


def live():
    return current_app.extensions["finedge"].live
