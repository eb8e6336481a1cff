"""The ledger accounts clearing moves money between, and the ids of its transfers.

    clr:org<trader>:deposit        deposit   the trader's main deposit account (funds sub-accounts)
    clr:org<trader>:sub-<no>       deposit   one per trader account (sub-account) at a clearing
                                             house; order holds freeze it
    clr:org<house>:deposit         deposit   the clearing house's account (its delivery fees)
    clr:bank:fees                  internal  the bank's clearing fee income
    clr:bank:settlement            internal  the other side of order holds (never posted)
    clr:bank:cash                  internal  the bank's side of cash paid in (demo funding)

Transfer ids come from the clearing house's instruction ids, so a retried instruction can only
ever apply once: ``clr:<house>:<instruction>:h`` (the hold an instruction leaves on its order),
``:d`` (a delivery's payment to the seller), ``:f`` (the bank's fee), ``:c`` (the clearing
house's fee); the hold an instruction replaces is voided as ``<hold>~void``. Fundings are
``clr:fund:<account>:<reference>`` and withdrawals ``clr:withdraw:<account>:<reference>``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend import ledger
from backend.ledger import AccountSlot
from backend.ledger.models import Account
from backend.platform.context import Actor

AREA = "clr"
MAIN = {"deposit": AccountSlot("deposit", "clearing deposit")}
BANK = {
    "fees": AccountSlot("internal", "clearing fee income"),
    "settlement": AccountSlot("internal", "clearing holds"),
    "cash": AccountSlot("internal", "clearing cash"),
}


def owner(org_id: int) -> str:
    return f"org{org_id}"


def open_main(session: Session, actor: Actor, org_id: int, name: str, now=None) -> Account:
    return ledger.owned_accounts(
        session, actor, AREA, owner(org_id), MAIN, owner_name=name, owner_org_id=org_id, now=now
    )["deposit"]


def open_sub(
    session: Session, actor: Actor, org_id: int, name: str, account_no: str, now=None
) -> Account:
    slots = {f"sub-{account_no}": AccountSlot("deposit", f"clearing {account_no}")}
    opened = ledger.owned_accounts(
        session, actor, AREA, owner(org_id), slots, owner_name=name, owner_org_id=org_id, now=now
    )
    return opened[f"sub-{account_no}"]


def bank_accounts(session: Session, actor: Actor, now: datetime | None = None) -> dict:
    return ledger.owned_accounts(session, actor, AREA, "bank", BANK, owner_name="Clearing", now=now)


def hold_id(house_id: int, instruction_id: str) -> str:
    return f"clr:{house_id}:{instruction_id}:h"


def leg_id(house_id: int, instruction_id: str, leg: str) -> str:
    return f"clr:{house_id}:{instruction_id}:{leg}"


def funding_id(account_id: int, reference: str) -> str:
    return f"clr:fund:{account_id}:{reference}"


def withdrawal_id(account_id: int, reference: str) -> str:
    return f"clr:withdraw:{account_id}:{reference}"
