"""An area's books in the ledger: its named accounts, and shortfalls told in its own words.

Every area that keeps money in the ledger (floor-plan, branch cash, later the asset pool and
factoring) does two things the same way, written here once:

- It keeps its accounts under codes built from business keys, ``<area>:<owner>:<purpose>``
  (``fp:org12:margin``, ``cash:BR001:vault``), so that "the account of owner X for purpose P" is
  "open it, or get it if it is there" (``open_account`` is idempotent on the code) and a retry
  or a concurrent caller lands on the same account. ``owned_accounts`` opens (or gets) one
  owner's accounts from a small table of purposes; ``account_code`` builds a code to look one up.
- It books transfers whose ids derive from the business step (``fp:redeem:<vin>``,
  ``ct<task>:<denomination>``), so a step booked twice is booked once and the ledger writes the
  audit record; when the ledger refuses with ``insufficient_funds`` on account N,
  ``named_shortfalls`` says whose money was short (``insufficient_margin``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from backend.ledger.models import Account
from backend.ledger.service.accounts import open_account
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, DomainError


class AccountSlot(NamedTuple):
    """One account an area keeps per owner: its kind, and what it is called after the owner's
    name ("DEALER1 floor-plan margin")."""

    kind: str
    label: str


def account_code(area: str, owner: str, purpose: str) -> str:
    """``<area>:<owner>:<purpose>``, e.g. ``fp:org12:margin``."""
    return f"{area}:{owner}:{purpose}"


def owned_accounts(
    session: Session,
    actor: Actor,
    area: str,
    owner: str,
    slots: Mapping[str, AccountSlot],
    *,
    owner_name: str,
    owner_org_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, Account]:
    """Open, or get, the account ``<area>:<owner>:<purpose>`` of each purpose in ``slots`` (in
    their order), called "<owner_name> <label>" and owned by ``owner_org_id``."""
    return {
        purpose: open_account(
            session,
            actor,
            code=account_code(area, owner, purpose),
            name=f"{owner_name} {slot.label}",
            kind=slot.kind,
            owner_org_id=owner_org_id,
            now=now,
        )
        for purpose, slot in slots.items()
    }


def shortfall_error(exc: DomainError, names: Mapping[int, str]) -> DomainError:
    """The ledger says ``insufficient_funds`` on account N; say whose money was short
    (``insufficient_<name>``, 422, with the shortfall). Other errors are returned as they are."""
    if getattr(exc, "code", None) != "insufficient_funds":
        return exc
    account_id = exc.details.get("account_id")
    what = names.get(account_id, "funds")
    return BusinessRuleViolation(
        f"insufficient {what}",
        code=f"insufficient_{what}",
        details={"shortfall": exc.details.get("shortfall"), "account_id": account_id},
    )


@contextmanager
def named_shortfalls(names: Mapping[int, str]) -> Iterator[None]:
    """Around a booking: a domain error raised inside is raised again through
    ``shortfall_error`` (its traceback context dropped, as the caller's own error)."""
    try:
        yield
    except DomainError as exc:
        raise shortfall_error(exc, names) from None
