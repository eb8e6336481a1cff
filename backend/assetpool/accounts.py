"""The ledger accounts the asset pool moves money between, and the ids of its transfers.

Accounts (codes are stable business keys, so opening is idempotent)::

    ap:org<id>:deposit    deposit   the enterprise's current account (fees, margin pay-in,
                                    the margin of a new bill, what margin cash cannot pay)
    ap:org<id>:margin     margin    the pool's margin ledger (保证金): margin cash in the pool
    ap:org<id>:advance    loan      what the bank advanced when a bill fell due and the pool
                                    and the deposit were short
    ap:bill<id>           bill      one per pool bill: collects its margin and its payment,
                                    pays the payee at maturity (cannot pay out more than in)
    ap:bank:clearing      internal  the bank's clearing/settlement account: matured pledged
                                    assets are paid in from it, bills are paid out through it
    ap:bank:fees          internal  acceptance fee income

Transfer ids come from business keys so a retry applies once: ``ap:bill<id>:fee``,
``ap:bill<id>:margin`` (hold), ``ap:bill<id>:pay`` ..., ``ap:asset<id>:matured``,
``ap:mv<movement id>`` (a margin pay-in or withdrawal, keyed by its statement line).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend import ledger
from backend.ledger import AccountSlot
from backend.ledger.models import Account
from backend.platform.context import Actor

AREA = "ap"
ENTERPRISE = {
    "deposit": AccountSlot("deposit", "deposit"),
    "margin": AccountSlot("margin", "asset-pool margin"),
    "advance": AccountSlot("loan", "asset-pool advances"),
}
BANK = {
    "clearing": AccountSlot("internal", "clearing and settlement"),
    "fees": AccountSlot("internal", "acceptance fee income"),
}


def open_enterprise_accounts(
    session: Session, actor: Actor, org_id: int, org_name: str, now: datetime | None = None
) -> dict[str, Account]:
    return ledger.owned_accounts(
        session,
        actor,
        AREA,
        f"org{org_id}",
        ENTERPRISE,
        owner_name=org_name,
        owner_org_id=org_id,
        now=now,
    )


def bank_accounts(session: Session, actor: Actor) -> dict[str, Account]:
    return ledger.owned_accounts(session, actor, AREA, "bank", BANK, owner_name="Asset pool")


def open_bill_account(
    session: Session, actor: Actor, bill_id: int, bill_no: str, now: datetime | None = None
) -> Account:
    return ledger.open_account(
        session,
        actor,
        code=f"ap:bill{bill_id}",
        name=f"pool acceptance bill {bill_no}",
        kind="bill",
        debits_must_not_exceed_credits=True,
        now=now,
    )


def bill_transfer_id(bill_id: int, step: str) -> str:
    return f"ap:bill{bill_id}:{step}"


def asset_matured_id(asset_id: int) -> str:
    return f"ap:asset{asset_id}:matured"


def movement_transfer_id(movement_id: int) -> str:
    return f"ap:mv{movement_id}"
