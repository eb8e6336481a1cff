"""A Hypothesis state machine over clearing instructions, on SQLite and PostgreSQL: orders,
partial bargains, cancels (also after delivery, and of the undelivered remainder), full and
partial deliveries, withdrawals, duplicates and instructions sent out of order. An independent
model of each account says what must be accepted; after every step no available balance is
negative, the ledger verifies, the instruction log replays to the ledger's balances, and the
model agrees with the ledger."""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from backend.clearing import service
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import DomainError
from tests.integration.test_clearing_support import NOW, assert_books, make_desk

D = Decimal
CENT = D("0.01")
FUNDS = D("1000.00")
_houses = itertools.count(1)
amounts = st.integers(min_value=1, max_value=60000).map(lambda c: D(c) * CENT)
fees = st.integers(min_value=0, max_value=500).map(lambda c: D(c) * CENT)
small = st.integers(min_value=1, max_value=2000).map(lambda c: D(c) * CENT)


def machine_for(session, seen):
    """``seen`` counts what the examples did (partial deliveries, withdrawals applied)."""

    class ClearingMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.desk = make_desk(
                session, traders=3, funds=str(FUNDS), code=f"HM{next(_houses):04d}"
            )
            self.balance = {n: FUNDS for n in self.desk.numbers}
            self.held = {n: D("0.00") for n in self.desk.numbers}
            # ref -> [account, status, open, bargained (undelivered), fee_held, delivered]
            self.orders = {}
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
            self._order(self.desk.numbers[i], f"O{next(self.refs)}", amount, fee)

        def _order(self, n, ref, amount, fee):
            ok = amount + fee <= self.available(n)
            self.send(self.desk.instruction("order", n, ref, str(amount), fee=str(fee)), ok)
            if ok:
                self.held[n] += amount + fee
                self.orders[ref] = [n, "open", amount, D("0.00"), fee, D("0.00")]
            return ok

        @precondition(lambda self: self.orders)
        @rule(data=st.data(), fee=fees, full=st.booleans())
        def bargain(self, data, fee, full):
            self._bargain(data.draw(st.sampled_from(sorted(self.orders))), fee, full)

        def _bargain(self, ref, fee, full):
            n, status, open_, bargained, fee_held, delivered = self.orders[ref]
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
                    delivered,
                ]

        @precondition(lambda self: self.orders)
        @rule(data=st.data())
        def cancel(self, data):
            ref = data.draw(st.sampled_from(sorted(self.orders)))
            n, status, open_, bargained, fee_held, delivered = self.orders[ref]
            remainder = status == "bargained" and delivered > 0 and bargained > 0
            ok = status == "open" or remainder
            self.send(self.desk.instruction("cancel", n, ref), ok)
            if remainder:
                self.held[n] -= bargained + fee_held
                self.orders[ref] = [n, "delivered", D(0), D(0), D(0), delivered]
            elif ok and bargained == 0:
                self.held[n] -= open_ + fee_held
                self.orders[ref] = [n, "cancelled", D(0), D(0), D(0), D(0)]
            elif ok:
                self.held[n] -= open_
                self.orders[ref] = [n, "bargained", D(0), bargained, fee_held, delivered]

        @precondition(lambda self: self.orders)
        @rule(
            data=st.data(),
            fee=fees,
            cfee=fees,
            j=st.integers(1, 2),
            share=st.sampled_from([100, 100, 50, 33, 101]),
        )
        def deliver(self, data, fee, cfee, j, share):
            """share: the percent of the undelivered bargained amount (101: one cent too much);
            mostly an order with something bargained (else deliveries would rarely apply)."""
            live = sorted(r for r, o in self.orders.items() if o[3] > 0)
            pool = live if live and data.draw(st.integers(0, 3)) else sorted(self.orders)
            self._deliver(data.draw(st.sampled_from(pool)), fee, cfee, j, share)

        @rule(
            i=st.integers(0, 2),
            amount=amounts,
            j=st.integers(1, 2),
            share=st.sampled_from([50, 33]),
        )
        def order_bargain_deliver_part(self, i, amount, j, share):
            """The chain a partial delivery needs, in one step (random rules seldom line it up)."""
            ref = f"O{next(self.refs)}"
            if self._order(self.desk.numbers[i], ref, amount, D("1.00")):
                self._bargain(ref, D("0.50"), True)
                self._deliver(ref, D("0.10"), D("0.05"), j, share)

        def _deliver(self, ref, fee, cfee, j, share):
            n, status, open_, bargained, fee_held, delivered = self.orders[ref]
            seller = self.desk.numbers[(self.desk.numbers.index(n) + j) % 3]
            total_hold = open_ + bargained + fee_held
            if share == 101:
                amount = bargained + CENT
            else:
                amount = (bargained * share / 100).quantize(CENT) or bargained
            full = amount == bargained
            # independent of rules.fee_share: the share of the held fee, half up to the cent
            released = total_hold  # all of it when the delivery is the last part
            if 0 < amount < bargained:
                share_fee = fee_held * amount / bargained
                released = amount + share_fee.quantize(CENT, rounding=ROUND_HALF_UP)
            ok = (
                status in ("open", "bargained")
                and 0 < amount <= bargained
                and amount + fee + cfee <= self.available(n) + released
            )
            body = self.desk.instruction(
                "delivery",
                n,
                ref,
                str(amount if amount > 0 else CENT),
                fee=str(fee),
                clearing_fee=str(cfee),
                counterparty=seller,
            )
            self.send(body, ok)
            if ok and full:
                self.held[n] -= total_hold
                self.orders[ref] = [n, "delivered", D(0), D(0), D(0), delivered + amount]
            elif ok:
                seen["partial"] += 1
                self.held[n] -= released
                self.orders[ref] = [
                    n,
                    status,
                    open_,
                    bargained - amount,
                    fee_held - (released - amount),
                    delivered + amount,
                ]
            if ok:
                self.balance[n] -= amount + fee + cfee
                self.balance[seller] += amount

        @rule(i=st.integers(0, 2), amount=small, everything=st.booleans())
        def withdraw(self, i, amount, everything):
            """A small amount (large ones would drain the accounts before anything trades);
            now and then all that is available, or a cent more."""
            n = self.desk.numbers[i]
            account = self.desk.account(n)
            trader = Actor(
                user_id=None, username="t", role="enterprise", org_id=account.trader_org_id
            )
            if everything and amount > D("19.00"):  # now and then: all of it, or a cent more
                amount = self.available(n) + (CENT if amount > D("19.50") else 0)
            if amount <= 0:
                return
            ok = amount <= self.available(n)
            ref = f"W{next(self.refs)}"
            try:
                service.withdraw_account(
                    session, trader, account_id=account.id, amount=str(amount), reference=ref
                )
            except DomainError as exc:
                assert not ok and exc.code == "insufficient_funds", exc
            else:
                assert ok
                seen["withdrawal"] += 1
                self.balance[n] -= amount

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
                self.orders[body["order"]] = [n, "open", amount, D("0.00"), D("0.00"), D("0")]

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
    seen = {"partial": 0, "withdrawal": 0}
    machine = machine_for(session, seen)
    machine.TestCase.settings = settings(
        max_examples=8,
        stateful_step_count=20,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase().runTest()
    assert seen["partial"] and seen["withdrawal"], seen
