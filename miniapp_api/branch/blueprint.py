"""The branch hall's blueprint (``blp``, one for every view module of this package) and what
its views share: the process's Hall (``hall()``: its live emitter, device link, secret key and
board coalescer, built by the composition root and handed in through the wiring) and its
clock (``now()``).
"""

from __future__ import annotations

from flask import current_app

from backend.branch.runtime import Hall
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "branch",
    __name__,
    url_prefix="/api/v1",
    description="Branch hall: queue, counters, flow, face consent, fleet, cash loading",
)


def hall() -> Hall:
    """The process's Hall (its pushes, device commands, key and clock), from the wiring."""
    return current_app.extensions["finedge"].wiring.get(Hall)


def now():
    return hall().now()
