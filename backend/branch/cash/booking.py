"""The ledger side of cash loading. Cash moves from the branch vault into the machine:

    cash:<branch>:vault          cash_in_device   the branch's vault (cannot give out more
                                                  than it holds)
    cash:<branch>:<device_id>    cash_in_device   the cash in one machine
    cash:<branch>:cash-centre    internal         where the vault's cash comes from (funding)

One transfer per denomination, debit the machine and credit the vault, with ids derived from
the task (``ct<id>:<denomination>``), so booking a task twice books it once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.identity.models import Branch
from backend.ledger.models import Account
from backend.platform.context import SYSTEM, Actor


def vault_code(branch_id: str) -> str:
    return f"cash:{branch_id}:vault"


def device_code(branch_id: str, device_id: str) -> str:
    return f"cash:{branch_id}:{device_id}"


def centre_code(branch_id: str) -> str:
    return f"cash:{branch_id}:cash-centre"


def _org(session: Session, branch_id: str) -> int | None:
    return session.scalar(select(Branch.org_id).where(Branch.code == branch_id))


def _vault(session: Session, branch_id: str, org: int | None) -> Account:
    return ledger.open_account(
        session,
        SYSTEM,
        code=vault_code(branch_id),
        name=f"{branch_id} vault",
        kind="cash_in_device",
        owner_org_id=org,
    )


def open_accounts(session: Session, branch_id: str, device_id: str) -> tuple[Account, Account]:
    org = _org(session, branch_id)
    vault = _vault(session, branch_id, org)
    machine = ledger.open_account(
        session,
        SYSTEM,
        code=device_code(branch_id, device_id),
        name=f"{branch_id} {device_id} cash units",
        kind="cash_in_device",
        owner_org_id=org,
    )
    return vault, machine


def fund_vault(
    session: Session,
    actor: Actor,
    branch_id: str,
    amount: Decimal | str,
    transfer_id: str,
    now: datetime | None = None,
) -> None:
    """Cash delivered to the vault from the cash centre (seed, tests, a vault delivery)."""
    org = _org(session, branch_id)
    vault = _vault(session, branch_id, org)
    centre = ledger.open_account(
        session,
        SYSTEM,
        code=centre_code(branch_id),
        name=f"{branch_id} cash centre",
        kind="internal",
        owner_org_id=org,
    )
    ledger.transfer(
        session,
        actor,
        transfer_id=transfer_id,
        debit_account_id=vault.id,
        credit_account_id=centre.id,
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
