"""A Hypothesis state machine over clearing instructions, on SQLite and PostgreSQL: orders,
partial bargains, cancels (also after delivery), deliveries, duplicates and instructions sent
out of order. An independent model of each account says what must be accepted; after every
step no available balance is negative, the ledger verifies, the instruction log replays to the
ledger's balances, and the model agrees with the ledger."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from backend.clearing import service
from backend.platform.context import SYSTEM
from tests.integration.test_clearing_support import NOW, assert_books, make_desk

D = Decimal
CENT = D("0.01")
FUNDS = D("1000.00")
_houses = itertools.count(1)
amounts = st.integers(min_value=1, max_value=60000).map(lambda c: D(c) * CENT)
fees = st.integers(min_value=0, max_value=500).map(lambda c: D(c) * CENT)


def machine_for(session):
    class ClearingMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.desk = make_desk(
                session, traders=3, funds=str(FUNDS), code=f"HM{next(_houses):04d}"
            )
            self.balance = {n: FUNDS for n in self.desk.numbers}
            self.held = {n: D("0.00") for n in self.desk.numbers}
            self.orders = {}  # ref -> [account, status, open, bargained, fee_held]
            self.sent = []  # (body, answer status)
            self.refs = itertools.count(1)

        def available(self, n):
            return self.balance[n] - self.held[n]

        def send(self, body, expect_ok):
            answer = self.desk.one(body)
            if expect_ok:
                assert answer.status == "applied", (body, answer)
            else:
                assert answer.status == "refused", (body, answer)
                self.desk.seqs[body["account"]] -= 1
            self.sent.append((body, answer.status))
            return answer

        @rule(i=st.integers(0, 2), amount=amounts, fee=fees)
        def order(self, i, amount, fee):
            n = self.desk.numbers[i]
            ref = f"O{next(self.refs)}"
            ok = amount + fee <= self.available(n)
            self.send(self.desk.instruction("order", n, ref, str(amount), fee=str(fee)), ok)
            if ok:
                self.held[n] += amount + fee
                self.orders[ref] = [n, "open", amount, D("0.00"), fee]

        @precondition(lambda self: self.orders)
        @rule(data=st.data(), fee=fees, full=st.booleans())
        def bargain(self, data, fee, full):
            ref = data.draw(st.sampled_from(sorted(self.orders)))
            n, status, open_, bargained, fee_held = self.orders[ref]
            part = open_ if full or open_ <= CENT else (open_ / 2).quantize(CENT)
            ok = status == "open" and part > 0 and fee <= self.available(n)
            body = self.desk.instruction("bargain", n, ref, str(part or CENT), fee=str(fee))
            self.send(body, ok)
            if ok:
                self.held[n] += fee
                left = open_ - part
                self.orders[ref] = [
                    n,
                    "open" if left else "bargained",
                    left,
                    bargained + part,
                    fee_held + fee,
                ]

        @precondition(lambda self: self.orders)
        @rule(data=st.data())
        def cancel(self, data):
            ref = data.draw(st.sampled_from(sorted(self.orders)))
            n, status, open_, bargained, fee_held = self.orders[ref]
            ok = status == "open"
            self.send(self.desk.instruction("cancel", n, ref), ok)
            if ok and bargained == 0:
                self.held[n] -= open_ + fee_held
                self.orders[ref] = [n, "cancelled", D(0), D(0), D(0)]
            elif ok:
                self.held[n] -= open_
                self.orders[ref] = [n, "bargained", D(0), bargained, fee_held]

        @precondition(lambda self: self.orders)
        @rule(data=st.data(), fee=fees, cfee=fees, j=st.integers(1, 2))
        def deliver(self, data, fee, cfee, j):
            ref = data.draw(st.sampled_from(sorted(self.orders)))
            n, status, open_, bargained, fee_held = self.orders[ref]
            seller = self.desk.numbers[(self.desk.numbers.index(n) + j) % 3]
            total_hold = open_ + bargained + fee_held
            ok = (
                status in ("open", "bargained")
                and bargained > 0
                and bargained + fee + cfee <= self.available(n) + total_hold
            )
            body = self.desk.instruction(
                "delivery",
                n,
                ref,
                str(bargained or CENT),
                fee=str(fee),
                clearing_fee=str(cfee),
                counterparty=seller,
            )
            self.send(body, ok)
            if ok:
                self.held[n] -= total_hold
                self.balance[n] -= bargained + fee + cfee
                self.balance[seller] += bargained
                self.orders[ref] = [n, "delivered", D(0), D(0), D(0)]

        @precondition(lambda self: self.sent)
        @rule(data=st.data())
        def duplicate(self, data):
            body, status = data.draw(st.sampled_from(self.sent))
            answer = self.desk.one(dict(body))
            if status == "applied":
                assert (answer.status, answer.replayed) == ("applied", True)
            else:  # a refusal stored nothing: its seq may since be used by another
                assert answer.status == "refused"

        @rule(i=st.integers(0, 2), a=amounts, b=amounts)
        def two_orders_reversed(self, i, a, b):
            n = self.desk.numbers[i]
            if a + b > self.available(n):
                return
            first = self.desk.instruction("order", n, f"O{next(self.refs)}", str(a))
            second = self.desk.instruction("order", n, f"O{next(self.refs)}", str(b))
            assert self.desk.one(second).status == "pending"
            answer = self.desk.one(first)
            assert answer.status == "applied" and answer.applied_after == [second["id"]]
            for body, amount in ((first, a), (second, b)):
                self.sent.append((body, "applied"))
                self.held[n] += amount
                self.orders[body["order"]] = [n, "open", amount, D("0.00"), D("0.00")]

        @invariant()
        def books_agree(self):
            session.flush()
            for n in self.desk.numbers:
                balance, held, available = self.desk.balance(n)
                assert (balance, held) == (self.balance[n], self.held[n]), n
                assert available >= 0
            assert service.replay_check(session).ok

        def teardown(self):
            assert_books(session)
            # the clearing house's end of day, from the model, reconciles with the bank
            counts = {n: 0 for n in self.desk.numbers}
            for body in {b["id"]: b for b, status in self.sent if status == "applied"}.values():
                counts[body["account"]] += 1
            lines = ["account_no,balance,held,instruction_count"] + [
                f"{n},{self.balance[n]},{self.held[n]},{counts[n]}" for n in self.desk.numbers
            ]
            run = service.reconcile(
                session,
                SYSTEM,
                self.desk.house,
                "\n".join(lines),
                business_date=NOW.date(),
                source="staff",
                now=NOW,
            )
            assert run.status == "matched", run.differences

    return ClearingMachine


def test_clearing_state_machine(session):
    machine = machine_for(session)
    machine.TestCase.settings = settings(
        max_examples=8,
        stateful_step_count=15,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase().runTest()
