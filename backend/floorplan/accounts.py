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

Opening goes through ``ledger.owned_accounts`` (the same helper branch cash uses); a shortfall
is told in the dealer's words with ``ledger.named_shortfalls`` around the booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from backend import ledger
from backend.floorplan.models import CreditLine
from backend.ledger import AccountSlot
from backend.ledger.models import Account
from backend.platform.context import Actor

AREA = "fp"
CASH_CODE = ledger.account_code(AREA, "bank", "cash")
DEPOSIT = {"deposit": AccountSlot("deposit", "deposit")}
DEALER = {
    **DEPOSIT,
    "margin": AccountSlot("margin", "floor-plan margin"),
    "advance": AccountSlot("loan", "floor-plan advances"),
}
BANK = {"cash": AccountSlot("internal", "cash and clearing")}


def _owner(org_id: int) -> str:
    return f"org{org_id}"


def deposit_code(org_id: int) -> str:
    return ledger.account_code(AREA, _owner(org_id), "deposit")


def margin_code(org_id: int) -> str:
    return ledger.account_code(AREA, _owner(org_id), "margin")


def advance_code(org_id: int) -> str:
    return ledger.account_code(AREA, _owner(org_id), "advance")


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
    opened = ledger.owned_accounts(
        session,
        actor,
        AREA,
        _owner(org_id),
        DEALER,
        owner_name=org_name,
        owner_org_id=org_id,
        now=now,
    )
    return DealerAccounts(opened["deposit"].id, opened["margin"].id, opened["advance"].id)


def open_oem_account(session: Session, actor: Actor, org_id: int, org_name: str) -> Account:
    opened = ledger.owned_accounts(
        session, actor, AREA, _owner(org_id), DEPOSIT, owner_name=org_name, owner_org_id=org_id
    )
    return opened["deposit"]


def shortfall_names(line: CreditLine) -> dict[int, str]:
    """The dealer's accounts by the word a shortfall on them is told in (insufficient_margin)."""
    return {line.deposit_account_id: "deposit", line.margin_account_id: "margin"}


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
    return ledger.owned_accounts(session, actor, AREA, "bank", BANK, owner_name="Floor-plan")[
        "cash"
    ]
