"""Who is acting and in which request: passed to services explicitly as an ``Actor``;
the request id rides a context variable so that audit records and logs can carry it."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

ROLES = (
    "admin",
    "oem",
    "dealer",
    "supervisor",
    "rm",
    "approver",
    "teller",
    "loader",
    "marketing",
    "operator",
    "client",
    "enterprise",
    "device",
)
BANK_STAFF_ROLES = frozenset({"admin", "rm", "approver", "teller", "marketing"})


@dataclass(frozen=True)
class Actor:
    """The authenticated caller (or a system job) on whose behalf a service acts."""

    user_id: int | None
    username: str
    role: str
    org_id: int | None
    branch_id: str | None = None

    @property
    def is_bank_staff(self) -> bool:
        return self.role in BANK_STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


SYSTEM = Actor(user_id=None, username="system", role="admin", org_id=None)


def new_request_id() -> str:
    return uuid.uuid4().hex
