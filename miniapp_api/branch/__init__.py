"""Branch hall (CONTRACT §2) over HTTP: soft queuing, counters, customer flow, face consent,
the smart-counter fleet, cash-loading tasks and vein enrolment.

Branch objects are visible to the branch's staff (and head office, admins); another branch's
teller gets 404, and so does a client for anybody else's ticket or consent. Services:
backend/branch (see docs/branch.md). Live pushes: ``queue.update``, ``cash_task.update``.

One blueprint, ``blp`` (blueprint.py, with the request's Hall and clock), which the view
modules below fill with their routes as they are imported; ``backend/app.py`` registers it
(``BLUEPRINTS``: "miniapp_api.branch"). Schemas: schemas.py.

    tickets     tickets and the queue               counters   services, counters, calls
    flow        customer flow statistics pages     face       face consent and enrolment
    fleet       templates, rollouts, off-counter   cash       cash-loading tasks
    veins       vein consent and enrolment on the locks
"""

from __future__ import annotations

# Imported for their routes, in the order the API documents them (isort would reorder them).
# isort: off
from miniapp_api.branch import tickets  # noqa: F401
from miniapp_api.branch import counters  # noqa: F401
from miniapp_api.branch import flow  # noqa: F401
from miniapp_api.branch import face  # noqa: F401
from miniapp_api.branch import fleet  # noqa: F401
from miniapp_api.branch import cash  # noqa: F401
from miniapp_api.branch import veins  # noqa: F401

# isort: on
from miniapp_api.branch.blueprint import blp

__all__ = ["blp"]
