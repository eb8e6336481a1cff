"""The ledger accounts factoring moves money between, and the ids of its transfers.

Accounts (codes are stable business keys, so opening is idempotent)::

    fct:bank:funding        internal  the bank's factoring funding account: pays advances,
                                      gets the advance back at settlement
    fct:bank:income         internal  interest and fees (collected up front, booked at settlement)
    fct:bank:cash           internal  the bank's side of money paid in at the counter
    fct:org<id>:deposit     deposit   an enterprise's current account (holder paid into it,
                                      core enterprise pays from it)
    fct:org<id>:recourse    loan      with recourse: the bank's claim on a supplier whose core
                                      enterprise left a financed part unpaid
    fct:pay<payable id>     suspense  one per paid part: collects the core enterprise's payment
                                      and pays it out at settlement; cannot pay out more than
                                      it collected

Transfer ids come from business keys, so a retry or a concurrent duplicate applies once:
``fct:adv:<payable>`` (the advance), ``fct:pay:<payable>`` (the core's payment),
``fct:set:<payable>:bank|refund|income|holder`` (settlement), ``fct:rec:<payable>`` (recourse
booked), ``fct:rcol:<claim>:<n>`` (the n-th collection of a recourse claim from the supplier).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend import ledger
from backend.ledger import AccountSlot
from backend.ledger.models import Account
from backend.platform.context import Actor

AREA = "fct"
BANK = {
    "funding": AccountSlot("internal", "factoring funding"),
    "income": AccountSlot("internal", "factoring interest and fees"),
    "cash": AccountSlot("internal", "factoring cash and clearing"),
}
ENTERPRISE = {
    "deposit": AccountSlot("deposit", "deposit"),
    "recourse": AccountSlot("loan", "factoring recourse"),
}


def bank_accounts(session: Session, actor: Actor) -> dict[str, Account]:
    return ledger.owned_accounts(session, actor, AREA, "bank", BANK, owner_name="Factoring")


def enterprise_accounts(
    session: Session, actor: Actor, org_id: int, org_name: str
) -> dict[str, Account]:
    return ledger.owned_accounts(
        session, actor, AREA, f"org{org_id}", ENTERPRISE, owner_name=org_name, owner_org_id=org_id
    )


def collection_account(session: Session, actor: Actor, payable_id: int) -> Account:
    return ledger.open_account(
        session,
        actor,
        code=f"fct:pay{payable_id}",
        name=f"factoring payable {payable_id} collection",
        kind="suspense",
        debits_must_not_exceed_credits=True,
    )


def advance_id(payable_id: int) -> str:
    return f"fct:adv:{payable_id}"


def payment_id(payable_id: int) -> str:
    return f"fct:pay:{payable_id}"


def settlement_id(payable_id: int, leg: str) -> str:
    return f"fct:set:{payable_id}:{leg}"


def recourse_id(payable_id: int) -> str:
    return f"fct:rec:{payable_id}"


def recourse_collection_id(claim_id: int, number: int) -> str:
    return f"fct:rcol:{claim_id}:{number}"
