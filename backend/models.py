"""Imports every area's models so that Base.metadata is complete (Alembic, tests).

Add a line here when an area gains models."""

from backend.branch import models as branch_models  # noqa: F401
from backend.devices import models as devices_models  # noqa: F401
from backend.floorplan import models as floorplan_models  # noqa: F401
from backend.identity import models as identity_models  # noqa: F401
from backend.ledger import models as ledger_models  # noqa: F401
from backend.platform import audit, idempotency, jobs  # noqa: F401
from backend.platform.db import Base
from backend.risk import models as risk_models  # noqa: F401

metadata = Base.metadata
