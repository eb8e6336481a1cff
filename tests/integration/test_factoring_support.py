"""Helpers and fixtures shared by the factoring tests (imported by the other test_factoring_*
modules), plus checks of the demo seed."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.factoring.models import Agreement, Payable, Supplier
from backend.factoring.service.financing import approved_application
from tests.integration.test_floorplan_support import Api as FloorplanApi

_invoices = itertools.count(1)


def new_invoice() -> str:
    return f"TINV-{next(_invoices):06d}"


class Api(FloorplanApi):
    """The floor-plan tests' client (log in once, JSON, sessions, org ids) on /api/v1/factoring."""

    def get(self, user: str, path: str, **kw):
        return self.client.get(f"/api/v1/factoring{path}", headers=self.headers(user), **kw)

    def post(self, user: str, path: str, json=None, headers=None, **kw):
        h = {**self.headers(user), **(headers or {})}
        return self.client.post(f"/api/v1/factoring{path}", json=json or {}, headers=h, **kw)

    def error(self, response, status: int) -> str:
        assert response.status_code == status, response.get_json()
        return response.get_json()["error"]["code"]

    # ---- scenario steps through the API

    def payable(
        self,
        core: str = "core1",
        supplier: str = "SUPP01",
        amount: str = "100000.00",
        days: int = 90,
    ) -> dict:
        """The core enterprise registers a payable to the supplier: CONFIRMED."""
        today = date.today()
        body = {
            "invoice_no": new_invoice(),
            "amount": amount,
            "issue_date": str(today),
            "maturity_date": str(today + timedelta(days=days)),
            "creditor_id": self.org_id(supplier),
        }
        return self.ok(self.post(core, "/payables", body), 201)

    def deposit(self, org_code: str, amount: str) -> None:
        self.ok(
            self.post("teller1", "/deposits", {"org_id": self.org_id(org_code), "amount": amount}),
            201,
        )


@pytest.fixture
def api(app) -> Api:
    return Api(app)


@pytest.fixture
def pg_or_sqlite_api(make_app, db_url) -> Api:
    return Api(make_app(db_url))


def assert_books(app_or_api) -> None:
    """`finedge ledger verify`, and the factoring invariants: the parts of each invoice add up
    to it, no invoice financed for more than itself, outstanding = the open advances."""
    app = getattr(app_or_api, "app", app_or_api)
    with app.extensions["finedge"].session_factory() as s:
        report = ledger.verify(s)
        assert report.ok, report.to_dict()
        assert_invariants(s)


def assert_invariants(s) -> None:
    sums = s.execute(
        select(
            Payable.invoice_key, func.sum(Payable.amount), func.max(Payable.invoice_amount)
        ).group_by(Payable.invoice_key)
    ).all()
    for key, total, invoice in sums:
        assert Decimal(total) == Decimal(invoice), key
    open_advances: dict[int, Decimal] = {}
    by_supplier: dict[tuple[int, int], Decimal] = {}
    for p in s.scalars(select(Payable).where(Payable.status.in_(("FINANCED", "OVERDUE")))):
        application = approved_application(s, p.id)
        if application is None:
            continue
        advance = application.advance_amount
        open_advances[p.agreement_id] = open_advances.get(p.agreement_id, 0) + advance
        k = (p.agreement_id, application.applicant_org_id)
        by_supplier[k] = by_supplier.get(k, 0) + application.advance_amount
    for a in s.scalars(select(Agreement)):
        assert a.financed_outstanding == open_advances.get(a.id, 0), a.code
        assert a.financed_outstanding <= a.limit_amount
    for sup in s.scalars(select(Supplier)):
        assert sup.financed_outstanding == by_supplier.get((sup.agreement_id, sup.org_id), 0)


def _states(s) -> tuple[dict, int, int]:
    counts = dict(s.execute(select(Payable.status, func.count()).group_by(Payable.status)).all())
    parts = s.scalar(select(func.count()).select_from(Payable).where(Payable.part_no > 0))
    tier2 = s.scalar(select(func.count()).select_from(Supplier).where(Supplier.tier == 2))
    return counts, parts, tier2


def test_test_seed_holds_every_state_and_supplier1_has_a_confirmed_payable(api: Api):
    with api.session() as s:
        counts, parts, tier2 = _states(s)
    assert sum(counts.values()) - parts == 30
    assert {"REGISTERED", "CONFIRMED", "FINANCED", "SETTLED"} <= set(counts)
    assert parts >= 1 and tier2 >= 1
    page = api.ok(api.get("supplier1", "/payables?status=CONFIRMED&role=held"))
    assert page["items"]
    assert_books(api)


def test_demo_seed_has_300_payables_in_mixed_states_and_seeding_again_changes_nothing(api: Api):
    from backend.factoring.seed import seed_factoring
    from backend.platform.seeding import SeedOptions

    demo = SeedOptions(enterprises=1, progress=False)
    cores = {code: api.org_id(code) for code in ("CORE1", "CORE2")}
    with api.session() as s:
        report = seed_factoring(s, demo)
        s.commit()
    with api.session() as s:
        counts, parts, tier2 = _states(s)
        assert sum(counts.values()) - parts == 300
        assert counts["CONFIRMED"] > 150 and counts["REGISTERED"] == 30
        assert counts["FINANCED"] >= 15 and counts["SETTLED"] >= 10
        assert parts >= 5 and tier2 >= 2
        per_core = set(
            s.execute(
                select(Payable.debtor_org_id, Payable.status).where(
                    Payable.invoice_no.like("DEMO-%")
                )
            ).all()
        )
        for core in ("CORE1", "CORE2"):
            for status in ("CONFIRMED", "REGISTERED", "FINANCED", "SETTLED"):
                assert (cores[core], status) in per_core, (core, status)
        seed_factoring(s, demo)
        s.commit()
        assert _states(s) == (counts, parts, tier2)
    assert report["factoring_seed_s"] < 60  # a guard against a runaway, not a timing test
    assert_books(api)
