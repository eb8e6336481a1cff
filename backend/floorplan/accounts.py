"""The ledger accounts floor-plan moves money between, and the ids of its transfers.

Accounts (codes are stable business keys, so opening is idempotent):

    fp:org<dealer>:deposit   deposit   the dealer's current account (redemptions are paid from it)
    fp:org<dealer>:margin    margin    margin (保证金); holds on it freeze each car's margin
    fp:org<dealer>:advance   loan      overdue advances: what the bank paid for the dealer at
                                       a bill's maturity because margin and deposit fell short
    fp:org<oem>:deposit      deposit   the OEM's account; a bill is paid into it at maturity
    fp:bill<id>              bill      one per acceptance bill: collects the margin and the
                                       repayments of its cars, pays the OEM at maturity, closes
    fp:bank:cash             internal  the bank's side of cash deposited at the counter

Transfer ids are derived from business keys, so a retry (or a concurrent duplicate) of the same
business step can only ever apply once: ``fp:redeem:<vin>``, ``fp:m:<vin>`` (a car's margin
hold), ``fp:bill<id>:margin`` (the bill's margin hold until shipment), ``fp:curt:<vin>`` ...
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from backend import ledger
from backend.ledger.models import Account
from backend.ledger.service import Balance, balance_of, lock_accounts
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, DomainError

CASH_CODE = "fp:bank:cash"


def deposit_code(org_id: int) -> str:
    return f"fp:org{org_id}:deposit"


def margin_code(org_id: int) -> str:
    return f"fp:org{org_id}:margin"


def advance_code(org_id: int) -> str:
    return f"fp:org{org_id}:advance"


def bill_code(bill_id: int) -> str:
    return f"fp:bill{bill_id}"


# transfer ids ------------------------------------------------------------------------------


def car_margin_hold_id(vin: str) -> str:
    return f"fp:m:{vin}"


def bill_margin_hold_id(bill_id: int) -> str:
    return f"fp:bill{bill_id}:margin"


def redeem_transfer_id(vin: str) -> str:
    return f"fp:redeem:{vin}"


def curtailment_transfer_id(vin: str) -> str:
    return f"fp:curt:{vin}"


@dataclass(frozen=True)
class DealerAccounts:
    deposit: int
    margin: int
    advance: int


def open_dealer_accounts(
    session: Session, actor: Actor, org_id: int, org_name: str, now: datetime | None = None
) -> DealerAccounts:
    deposit = ledger.open_account(
        session,
        actor,
        code=deposit_code(org_id),
        name=f"{org_name} deposit",
        kind="deposit",
        owner_org_id=org_id,
        now=now,
    )
    margin = ledger.open_account(
        session,
        actor,
        code=margin_code(org_id),
        name=f"{org_name} floor-plan margin",
        kind="margin",
        owner_org_id=org_id,
        now=now,
    )
    advance = ledger.open_account(
        session,
        actor,
        code=advance_code(org_id),
        name=f"{org_name} floor-plan advances",
        kind="loan",
        owner_org_id=org_id,
        now=now,
    )
    return DealerAccounts(deposit.id, margin.id, advance.id)


def open_oem_account(session: Session, actor: Actor, org_id: int, org_name: str) -> Account:
    return ledger.open_account(
        session,
        actor,
        code=deposit_code(org_id),
        name=f"{org_name} deposit",
        kind="deposit",
        owner_org_id=org_id,
    )


def open_bill_account(
    session: Session, actor: Actor, bill_id: int, bill_no: str, now: datetime | None = None
) -> Account:
    # Flagged so that the bill can never pay the OEM more than it collected.
    return ledger.open_account(
        session,
        actor,
        code=bill_code(bill_id),
        name=f"acceptance bill {bill_no}",
        kind="bill",
        debits_must_not_exceed_credits=True,
        now=now,
    )


def cash_account(session: Session, actor: Actor) -> Account:
    return ledger.open_account(
        session, actor, code=CASH_CODE, name="Floor-plan cash and clearing", kind="internal"
    )


def locked_balances(session: Session, *account_ids: int) -> dict[int, Balance]:
    """Lock the accounts (ascending id, as the ledger does) and read their balances, so that
    amounts computed from them still hold when the ledger batch runs."""
    return {i: balance_of(a) for i, a in lock_accounts(session, account_ids).items()}


def translate_funds_error(exc: DomainError, names: dict[int, str]) -> DomainError:
    """The ledger says ``insufficient_funds`` on account N; say whose money was short."""
    if getattr(exc, "code", None) != "insufficient_funds":
        return exc
    account_id = exc.details.get("account_id")
    what = names.get(account_id, "funds")
    return BusinessRuleViolation(
        f"insufficient {what}",
        code=f"insufficient_{what}",
        details={"shortfall": exc.details.get("shortfall"), "account_id": account_id},
    )
