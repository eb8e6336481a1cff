"""The one factoring blueprint (``/api/v1/factoring``)."""

from __future__ import annotations

from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "factoring",
    __name__,
    url_prefix="/api/v1/factoring",
    description="Digital factoring: agreements, payables, split and transfer, financing, "
    "payment and settlement",
)
