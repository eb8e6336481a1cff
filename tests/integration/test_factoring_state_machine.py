"""A Hypothesis state machine over split, transfer, finance and pay of one invoice's parts, on
SQLite and PostgreSQL, through the services (each step its own transaction, as a request
would be). Whatever the order: the parts always add up to the invoice, no part is ever more
than was held, each financed part has exactly one claim, and the invoice is never financed for
more than itself; the books verify at the end of every run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from backend.factoring import service
from backend.factoring.models import FinancingClaim, Payable
from backend.platform.context import Actor
from backend.platform.errors import DomainError
from tests.integration import test_factoring_support as support
from tests.integration.test_factoring_support import Api, assert_books

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture

_n = itertools.count(1)
HOLDERS = ("SUPP01", "SUPP02", "SUPP03", "SUPP11")
CENT = Decimal("0.01")


def _actor(org_id: int) -> Actor:
    return Actor(user_id=None, username=f"org{org_id}", role="enterprise", org_id=org_id)


def machine_for(api: Api):
    orgs = {code: api.org_id(code) for code in (*HOLDERS, "CORE1")}
    today = datetime.now(UTC).date()

    class Parts(RuleBasedStateMachine):
        @initialize(fen=st.integers(min_value=1, max_value=10**8))
        def register(self, fen):
            self.invoice = (Decimal(fen) / 100).quantize(CENT)
            with api.session() as s:
                p = service.register_payable(
                    s,
                    _actor(orgs["CORE1"]),
                    invoice_no=f"HYP-{next(_n):07d}",
                    amount=self.invoice,
                    issue_date=today,
                    maturity_date=today + timedelta(days=90),
                    creditor_org_id=orgs["SUPP01"],
                )
                s.commit()
                self.key = p.invoice_key

        def _parts(self, s) -> list[Payable]:
            return list(
                s.scalars(
                    select(Payable).where(Payable.invoice_key == self.key).order_by(Payable.id)
                )
            )

        def _act(self, fn) -> None:
            with api.session() as s:
                try:
                    fn(s)
                    s.commit()
                except DomainError:
                    s.rollback()

        @rule(pick=st.integers(0, 50), to=st.sampled_from(HOLDERS), share=st.integers(1, 100))
        def transfer(self, pick, to, share):
            def go(s):
                parts = self._parts(s)
                part = parts[pick % len(parts)]
                amount = max(CENT, (part.amount * share / 100).quantize(CENT))
                held = part.amount
                got = service.transfer_part(
                    s, _actor(part.holder_org_id), part.id, to_org_id=orgs[to], amount=amount
                )
                assert got.amount == amount <= held

            self._act(go)

        @rule(pick=st.integers(0, 50))
        def transfer_more_than_held(self, pick):
            with api.session() as s:
                parts = self._parts(s)
                part = parts[pick % len(parts)]
                try:
                    service.transfer_part(
                        s,
                        _actor(part.holder_org_id),
                        part.id,
                        to_org_id=orgs[
                            "SUPP02" if part.holder_org_id != orgs["SUPP02"] else "SUPP03"
                        ],
                        amount=part.amount + CENT,
                    )
                except DomainError as exc:
                    assert exc.code in ("exceeds_held_amount", "illegal_transition")
                else:
                    raise AssertionError("a part more than what is held was transferred")
                finally:
                    s.rollback()

        @rule(pick=st.integers(0, 50))
        def finance(self, pick):
            def go(s):
                parts = self._parts(s)
                part = parts[pick % len(parts)]
                service.apply_for_financing(s, _actor(part.holder_org_id), part.id)

            self._act(go)

        @rule(pick=st.integers(0, 50))
        def pay(self, pick):
            def go(s):
                parts = self._parts(s)
                part = parts[pick % len(parts)]
                service.pay_payable(s, _actor(orgs["CORE1"]), part.id)

            self._act(go)

        @invariant()
        def parts_add_up_and_financing_never_exceeds_the_invoice(self):
            if not hasattr(self, "key"):
                return
            with api.session() as s:
                parts = self._parts(s)
                assert sum(p.amount for p in parts) == self.invoice
                assert all(p.amount > 0 for p in parts)
                claimed = s.scalar(
                    select(func.coalesce(func.sum(FinancingClaim.amount), 0)).where(
                        FinancingClaim.invoice_key == self.key
                    )
                )
                assert Decimal(claimed) <= self.invoice
                claims = dict(
                    s.execute(
                        select(FinancingClaim.payable_id, FinancingClaim.amount).where(
                            FinancingClaim.invoice_key == self.key
                        )
                    ).all()
                )
                for p in parts:
                    if p.financed_at is not None:
                        assert claims.get(p.id) == p.amount

    return Parts


def test_parts_always_add_up_and_are_never_financed_beyond_the_invoice(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    run_state_machine_as_test(
        machine_for(api),
        settings=settings(
            max_examples=10,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert_books(api)
