"""The ledger side of cash loading. Cash moves from the branch vault into the machine:

    cash:<branch>:vault          cash_in_device   the branch's vault (cannot give out more
                                                  than it holds)
    cash:<branch>:<device_id>    cash_in_device   the cash in one machine
    cash:<branch>:cash-centre    internal         where the vault's cash comes from (funding)

One transfer per denomination, debit the machine and credit the vault, with ids derived from
the task (``ct<id>:<denomination>``), so booking a task twice books it once. The accounts are
opened (or got) with ``ledger.owned_accounts``, the helper floor-plan uses for its own.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.identity.models import Branch
from backend.ledger import AccountSlot
from backend.ledger.models import Account
from backend.platform.context import SYSTEM, Actor

AREA = "cash"
VAULT = {"vault": AccountSlot("cash_in_device", "vault")}
CENTRE = {"cash-centre": AccountSlot("internal", "cash centre")}


def device_code(branch_id: str, device_id: str) -> str:
    return ledger.account_code(AREA, branch_id, device_id)


def _accounts(session: Session, branch_id: str, slots: dict) -> dict[str, Account]:
    """The branch's cash accounts (vault first), opened or got; owned by the branch's org."""
    org = session.scalar(select(Branch.org_id).where(Branch.code == branch_id))
    return ledger.owned_accounts(
        session, SYSTEM, AREA, branch_id, {**VAULT, **slots}, owner_name=branch_id, owner_org_id=org
    )


def open_accounts(session: Session, branch_id: str, device_id: str) -> tuple[Account, Account]:
    machine = AccountSlot("cash_in_device", f"{device_id} cash units")
    opened = _accounts(session, branch_id, {device_id: machine})
    return opened["vault"], opened[device_id]


def fund_vault(
    session: Session,
    actor: Actor,
    branch_id: str,
    amount: Decimal | str,
    transfer_id: str,
    now: datetime | None = None,
) -> None:
    """Cash delivered to the vault from the cash centre (seed, tests, a vault delivery)."""
    opened = _accounts(session, branch_id, CENTRE)
    ledger.transfer(
        session,
        actor,
        transfer_id=transfer_id,
        debit_account_id=opened["vault"].id,
        credit_account_id=opened["cash-centre"].id,
        amount=amount,
        code="cash.vault_delivery",
        now=now,
    )


def book_loading(
    session: Session,
    task_id: int,
    branch_id: str,
    device_id: str,
    loaded: dict[str, Decimal],
    now: datetime,
) -> list[str]:
    """Book what was loaded; the transfer ids (replays return the same)."""
    vault, machine = open_accounts(session, branch_id, device_id)
    specs = [
        ledger.TransferSpec.single(
            f"ct{task_id}:{denom}",
            machine.id,
            vault.id,
            amount,
            "cash.loading",
            reference=f"cash task {task_id}",
        )
        for denom, amount in sorted(loaded.items())
        if amount > 0
    ]
    if not specs:
        return []
    return ledger.execute_batch(session, SYSTEM, specs, now=now).transfer_ids


def machine_balance(session: Session, branch_id: str, device_id: str) -> Decimal | None:
    account = session.scalar(
        select(Account).where(Account.code == device_code(branch_id, device_id))
    )
    if account is None:
        return None
    return ledger.get_balance(session, SYSTEM, account.id).posted
