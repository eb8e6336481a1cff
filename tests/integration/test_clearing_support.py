"""Helpers shared by the clearing tests (imported by the other test_clearing_* modules): a
clearing house with traders set up through the services, instructions built and signed, and
the books checked (``finedge ledger verify`` and the replay of the instruction log)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from backend import ledger
from backend.clearing import service
from backend.clearing.models import TraderAccount
from backend.clearing.secretbox import SecretBox
from backend.identity.models import Org
from backend.platform.context import SYSTEM
from backend.platform.errors import DomainError

SECRET = "test-clearing-secret"
BOX = SecretBox("test-secret-key-for-clearing")
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def new_id(prefix: str = "I") -> str:
    return f"{prefix}{next(_ids):08d}"


def org(session, code: str, kind: str) -> Org:
    found = session.scalar(select(Org).where(Org.code == code))
    if found is None:
        found = Org(code=code, name=f"{code} Ltd", kind=kind, created_at=NOW)
        session.add(found)
        session.flush()
    return found


@dataclass
class Desk:
    """A clearing house and its traders' accounts (``numbers[i]`` is trader i's account)."""

    session: object
    house: object
    numbers: list[str]
    seqs: dict[str, int] = field(default_factory=dict)

    def next_seq(self, number: str) -> int:
        self.seqs[number] = self.seqs.get(number, 0) + 1
        return self.seqs[number]

    def instruction(self, kind: str, number: str, order: str, amount=None, **extra) -> dict:
        body = {
            "id": new_id(),
            "account": number,
            "seq": self.next_seq(number),
            "kind": kind,
            "order": order,
        }
        if amount is not None:
            body["amount"] = amount
        body.update(extra)
        return body

    def send(self, *bodies: dict, now=NOW) -> list:
        return service.submit(self.session, self.house, list(bodies), now=now)

    def one(self, body: dict, now=NOW):
        (answer,) = self.send(body, now=now)
        return answer

    def account(self, number: str) -> TraderAccount:
        return self.session.scalar(select(TraderAccount).where(TraderAccount.account_no == number))

    def balance(self, number: str) -> tuple[Decimal, Decimal, Decimal]:
        return service.balance_of(self.session, self.account(number))


def make_desk(session, traders: int = 2, funds: str = "10000.00", code: str = "CCHT") -> Desk:
    house_org = org(session, code, "clearinghouse")
    house = service.register_house(
        session, SYSTEM, BOX, org_id=house_org.id, secret=SECRET, now=NOW, gap_alarm_s=60
    ).house
    numbers = []
    for i in range(1, traders + 1):
        trader = org(session, f"{code}T{i:02d}", "enterprise")
        agreement = service.create_agreement(
            session, SYSTEM, house_id=house.id, trader_org_id=trader.id, now=NOW
        )
        number = f"{code}T{i:02d}-AU"
        account = service.open_trader_account(
            session, SYSTEM, agreement_id=agreement.id, account_no=number, label="gold", now=NOW
        )
        service.pay_in(session, SYSTEM, agreement_id=agreement.id, amount=funds, reference="p1")
        service.fund_account(
            session, SYSTEM, account_id=account.id, amount=funds, reference="f1", now=NOW
        )
        numbers.append(number)
    session.flush()
    return Desk(session, house, numbers)


def assert_books(session) -> None:
    """The ledger verifies and the instruction log replays to the ledger's balances."""
    report = ledger.verify(session)
    assert report.ok, report.to_dict()
    replay = service.replay_check(session)
    assert replay.ok, replay.to_dict()
    for b in session.scalars(select(TraderAccount)):
        _, _, available = service.balance_of(session, b)
        assert available >= 0


def refused(fn, *args, **kw) -> DomainError:
    try:
        fn(*args, **kw)
    except DomainError as exc:
        return exc
    raise AssertionError("not refused")
