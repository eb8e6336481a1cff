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


ACT_TEXTS = {
    400: "Bad body (validation_error; on_behalf_not_allowed from a dealer, invalid_on_behalf)",
    403: "forbidden: only the dealer's own users, or a teller with on_behalf, act for a dealer; "
    "on_behalf_required: a teller without the dealer's instruction",
    404: "The car, bill or dealer does not exist or is not the caller's to see",
    409: "Already done (vehicle_already_redeemed, rbr_already_granted) or an Idempotency-Key "
    "reused with another body",
    422: "A business rule refused it (insufficient_deposit, insufficient_margin, "
    "vehicle_not_in_stock, mixed_dealers, disbursement_refused, ...); nothing changed",
}


def live():
    return current_app.extensions["finedge"].live
