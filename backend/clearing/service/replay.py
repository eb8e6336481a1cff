"""Replaying the stored instruction log: the balances it implies (``rules.replay``, pure)
compared with the ledger's, account by account (``finedge clearing replay``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.clearing import rules
from backend.clearing.models import Funding, Instruction, TraderAccount
from backend.clearing.service.setup import balance_of


@dataclass
class ReplayReport:
    accounts: int = 0
    instructions: int = 0
    differences: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "accounts": self.accounts,
            "instructions": self.instructions,
            "differences": self.differences,
        }


def load_log(session: Session) -> tuple[list, list[rules.LogEntry]]:
    fundings = [(f.account_id, f.amount) for f in session.scalars(select(Funding))]
    log = [
        rules.LogEntry(
            i.account_id,
            i.seq,
            i.kind,
            i.order_ref,
            i.amount,
            i.fee,
            i.clearing_fee,
            i.counterparty_account_id,
        )
        for i in session.scalars(select(Instruction).where(Instruction.status == "applied"))
    ]
    return fundings, log


def replay_check(session: Session) -> ReplayReport:
    fundings, log = load_log(session)
    expected = rules.replay(fundings, log)
    report = ReplayReport(instructions=len(log))
    for account in session.scalars(select(TraderAccount).order_by(TraderAccount.id)):
        report.accounts += 1
        want = expected.get(account.id, rules.Expected(rules.ZERO, rules.ZERO))
        balance, held, _ = balance_of(session, account)
        for what, ours, theirs in (("balance", want.balance, balance), ("held", want.held, held)):
            if ours != theirs:
                report.differences.append(
                    {
                        "account_no": account.account_no,
                        "field": what,
                        "replayed": str(ours),
                        "ledger": str(theirs),
                    }
                )
    return report
