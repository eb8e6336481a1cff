"""Factoring and risk early warning through the ports: an open hard or strong signal on the
holder or on the core enterprise refuses the advance (a medium one does not) and moves no money;
only bank staff see which signal. The maturity job collects what the core enterprise can pay,
marks the rest OVERDUE and reports ``payable_overdue`` on the core enterprise (days_overdue,
amount), once per report day (1, 30, 90)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.factoring.jobs import maturity
from backend.factoring.models import Payable
from backend.platform.errors import BusinessRuleViolation
from backend.platform.ports import DisbursementGate, RiskEvents
from tests.integration import test_factoring_support as support
from tests.integration.test_factoring_support import Api, assert_books

api = support.api  # fixture
pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture


class FakeRisk:
    """Open signals by org and level behind the risk ports, and the events recorded."""

    def __init__(self) -> None:
        self.signals: dict[int, str] = {}
        self.events: list[dict] = []
        self.asked: list[tuple[int, tuple]] = []

    def ensure_no_blocking_signal(self, session, org_id, *, levels=("hard",)):
        self.asked.append((org_id, levels))
        level = self.signals.get(org_id)
        if level in levels:  # the real gate's shape (backend/risk/service/blocking.py)
            raise BusinessRuleViolation(
                f"a {level} risk signal is open",
                code="disbursement_blocked_by_risk",
                details={"enterprise_id": 7, "signals": [{"id": 3, "level": level}]},
            )

    def record_internal_event(self, session, actor, **kw):
        self.events.append(kw)


def _fake(api: Api) -> FakeRisk:
    fake = FakeRisk()
    wiring = api.app.extensions["finedge"].wiring
    wiring.provide(DisbursementGate, fake)
    wiring.provide(RiskEvents, fake)
    return fake


@pytest.fixture
def risk(api: Api) -> FakeRisk:
    return _fake(api)


@pytest.fixture
def both_api(pg_or_sqlite_api: Api) -> Api:
    return pg_or_sqlite_api


def test_hard_or_strong_signal_on_either_party_refuses(both_api: Api):
    """On SQLite and PostgreSQL: each level on each party refuses; medium lets it through."""
    api = both_api
    risk = _fake(api)
    for party, level in itertools.product(("SUPP01", "CORE1"), ("hard", "strong")):
        p = api.payable(amount="10000.00")
        risk.signals = {api.org_id(party): level}
        refused = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
        assert refused["status"] == "refused"
        (reason,) = refused["reasons"]
        assert reason["code"] == "risk_blocked"
        assert reason["party"] == ("holder" if party == "SUPP01" else "core")
        assert "internal" not in reason  # the customer is not told which signal
        seen = api.ok(api.get("rm1", f"/applications/{refused['id']}"))
        assert seen["reasons"][0]["internal"]["code"] == "disbursement_blocked_by_risk"
        assert api.ok(api.get("supplier1", f"/payables/{p['id']}"))["status"] == "CONFIRMED"
        assert refused["transfer_id"] is None
        risk.signals = {api.org_id(party): "medium"}
        approved = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
        assert approved["status"] == "approved"
    assert {levels for _, levels in risk.asked} == {("hard", "strong")}
    assert {org for org, _ in risk.asked} == {api.org_id("SUPP01"), api.org_id("CORE1")}
    assert_books(api)


def _age(api: Api, payable_id: int, days_past: int) -> None:
    """Move a payable's maturity into the past (the clock of the job is injectable too)."""
    with api.session() as s:
        s.get(Payable, payable_id).maturity_date = datetime.now(UTC).date() - timedelta(
            days=days_past
        )
        s.commit()


def _run_job(api: Api, now: datetime) -> dict:
    with api.session() as s:
        result = maturity(s, now)
        s.commit()
    return result


def test_overdue_job_marks_and_reports_at_1_30_and_90_days(api: Api, risk: FakeRisk):
    p = api.payable(core="core2", supplier="SUPP11", amount="40000000.00", days=60)
    _age(api, p["id"], 2)
    now = datetime.now(UTC)
    result = _run_job(api, now)
    assert result["overdue"] >= 1
    assert api.ok(api.get("core2", f"/payables/{p['id']}"))["status"] == "OVERDUE"
    mine = [e for e in risk.events if e["data"]["amount"] == "40000000.00"]
    assert len(mine) == 1
    event = mine[0]
    assert event["org_id"] == api.org_id("CORE2") and event["kind"] == "payable_overdue"
    assert event["data"]["days_overdue"] == 2
    assert event["external_id"] == f"fct:overdue:{p['id']}:1"
    _run_job(api, now)  # again: nothing new
    assert len([e for e in risk.events if e["data"]["amount"] == "40000000.00"]) == 1
    _run_job(api, now + timedelta(days=29))
    _run_job(api, now + timedelta(days=95))
    ids = [e["external_id"] for e in risk.events if e["data"]["amount"] == "40000000.00"]
    assert ids == [f"fct:overdue:{p['id']}:{d}" for d in (1, 30, 90)]
    # too big for CORE2's deposit: the job left it unpaid; a late payment still settles it
    api.deposit("CORE2", "40000000.00")
    paid = api.ok(api.post("core2", f"/payables/{p['id']}/pay"))
    assert paid["status"] == "SETTLED"
    assert_books(api)


def test_job_collects_a_funded_payable_at_maturity(both_api: Api):
    """On SQLite and PostgreSQL."""
    api = both_api
    _fake(api)
    p = api.payable(amount="1000.00", days=30)
    assert (
        api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)["status"] == "approved"
    )
    _age(api, p["id"], 0)
    _run_job(api, datetime.now(UTC))
    assert api.ok(api.get("supplier1", f"/payables/{p['id']}"))["status"] == "SETTLED"
    assert_books(api)


def test_recourse_books_the_claim_on_the_supplier_and_a_late_payment_repays_it(both_api: Api):
    """On SQLite and PostgreSQL (collection: test_factoring_recourse.py)."""
    api = both_api
    _fake(api)
    p = api.payable(amount="30000000.00", days=60)  # CORE1's deposit cannot cover it
    body = {"org_id": api.org_id("SUPP01"), "counterparty_limit": "40000000.00"}
    api.ok(api.post("rm1", f"/agreements/{p['agreement_id']}/suppliers", body), 201)
    app_ = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
    assert app_["status"] == "approved", app_
    assert api.error(api.post("rm1", f"/payables/{p['id']}/recourse"), 409) == "illegal_transition"
    _age(api, p["id"], 5)
    _run_job(api, datetime.now(UTC))
    assert api.error(api.post("supplier1", f"/payables/{p['id']}/recourse"), 403) == "forbidden"
    claim = api.ok(api.post("rm1", f"/payables/{p['id']}/recourse"), 201)
    assert Decimal(claim["amount"]) == Decimal(app_["disbursed"])
    assert api.error(api.post("rm1", f"/payables/{p['id']}/recourse"), 409) == "recourse_exists"
    assert_books(api)
    api.deposit("CORE1", "30000000.00")
    assert api.ok(api.post("core1", f"/payables/{p['id']}/pay"))["status"] == "SETTLED"
    with api.session() as s:
        from backend import ledger

        code = f"fct:org{api.org_id('SUPP01')}:recourse"
        account = s.scalar(select(ledger.Account).where(ledger.Account.code == code))
        assert ledger.balance_of(account).posted == 0  # the claim was repaid by the core
    assert_books(api)


def test_overdue_reaches_the_real_risk_area(both_api: Api):
    """Without fakes, on SQLite and PostgreSQL: the event lands in risk as payable_overdue of
    CORE2's enterprise."""
    api = both_api
    from backend.risk.models import Enterprise, RiskEvent

    p = api.payable(core="core2", supplier="SUPP12", amount="45000000.00", days=60)
    _age(api, p["id"], 31)
    _run_job(api, datetime.now(UTC))
    with api.session() as s:
        enterprise = s.scalar(select(Enterprise).where(Enterprise.org_id == api.org_id("CORE2")))
        events = list(
            s.scalars(
                select(RiskEvent).where(
                    RiskEvent.enterprise_id == enterprise.id, RiskEvent.kind == "payable_overdue"
                )
            )
        )
    assert [e.external_id for e in events] == [f"fct:overdue:{p['id']}:30"]
