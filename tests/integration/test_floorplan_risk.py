"""Floor-plan and risk early warning through the ports the composition root installs
(``DisbursementGate``, ``RiskEvents``): a hard signal blocks every draw (bill issuance,
release-before-repay) and changes nothing; repaying is never blocked; the adapter passes the
agreed interface through."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.platform.errors import BusinessRuleViolation
from backend.platform.ports import DisbursementGate, RiskEvents
from tests.integration import test_floorplan_support as support
from tests.integration.test_floorplan_support import (
    Api,
    assert_books_balance,
    deposit,
    financed_cars,
    snapshot,
)

api = support.api  # fixture


class FakeRisk(set):
    """Orgs with an open hard signal, and the events recorded, behind the risk ports."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list = []

    def ensure_no_blocking_signal(self, session, org_id, *, levels=("hard",)):
        if org_id in self:  # the real gate's shape (backend/risk/service/blocking.py)
            raise BusinessRuleViolation(
                "a hard risk signal is open",
                code="disbursement_blocked_by_risk",
                details={
                    "enterprise_id": 7,
                    "signals": [{"id": 3, "rule_id": "H1", "status": "open", "reason": "x"}],
                },
            )

    def record_internal_event(self, session, actor, **kw):
        self.events.append(kw)


@pytest.fixture
def blocked(api: Api) -> FakeRisk:
    fake = FakeRisk()
    wiring = api.app.extensions["finedge"].wiring
    wiring.provide(DisbursementGate, fake)
    wiring.provide(RiskEvents, fake)
    return fake


def test_hard_signal_blocks_draws_but_not_repayment(api: Api, blocked):
    deposit(api, "DEALER1", "500000.00")
    _, vins = financed_cars(api, "dealer1", ["100000.00", "100000.00"])
    bill = api.ok(api.post("dealer1", "/bills", {"amount": "10000.00", "term_months": 3}), 201)
    blocked.add(api.org_id("DEALER1"))
    before = snapshot(api)
    for path in (f"/bills/{bill['id']}/issue",):
        r = api.post("approver1", path)
        assert r.status_code == 422
        assert r.get_json()["error"]["code"] == "disbursement_blocked_by_risk"
    r = api.post("dealer1", f"/vehicles/{vins[0]}/release-before-repay")
    assert r.get_json()["error"]["code"] == "disbursement_refused"
    assert snapshot(api) == before
    redeemed = api.ok(api.post("dealer1", f"/vehicles/{vins[1]}/redeem", {"mode": "full"}))
    assert redeemed["status"] == "redeemed"
    blocked.clear()
    assert api.ok(api.post("approver1", f"/bills/{bill['id']}/issue"))["status"] == "issued"
    assert_books_balance(api)


def test_out_of_trust_reaches_risk_with_the_agreed_arguments(api: Api, blocked):
    deposit(api, "DEALER2", "300000.00")
    _, vins = financed_cars(api, "dealer2", ["100000.00"])
    yards = api.ok(api.get("supervisor1", "/warehouses"))["items"]
    yard = next(y["id"] for y in yards if y["dealer_id"] == api.org_id("DEALER2"))
    audit = api.ok(
        api.post("supervisor1", "/audits", {"warehouse_id": yard, "sample_ratio": "1"}), 201
    )
    for check in audit["checks"]:
        if check["vin"] != vins[0]:
            api.ok(
                api.post("supervisor1", f"/audits/{audit['id']}/checks", {"vin": check["vin"]}), 201
            )
    api.ok(api.post("supervisor1", f"/audits/{audit['id']}/close"))
    events = blocked.events
    assert len(events) == 1
    event = events[0]
    assert event["source"] == "floorplan" and event["kind"] == "vehicle_out_of_trust"
    assert event["org_id"] == api.org_id("DEALER2") and event["severity"] == "critical"
    assert event["data"]["vin"] == vins[0] and event["source_time"].tzinfo is not None


def test_without_a_risk_area_no_floorplan_process_starts():
    """Floor-plan declares it needs the risk ports: a root without the risk area refuses to
    build the process (no silent "risk is off")."""
    from backend.bootstrap import bootstrap, collect_areas
    from backend.platform.config import Config
    from backend.platform.wiring import PortMissing

    areas = [a for a in collect_areas() if a.name != "risk"]
    with pytest.raises(PortMissing, match=r"floorplan.*DisbursementGate"):
        bootstrap(Config.from_env(database_url="sqlite://"), "test", areas=areas)


def test_with_the_real_backend_risk(api: Api):
    """The real risk area behind the ports (what the composition root installs)."""
    deposit(api, "DEALER1", "300000.00")
    financed_cars(api, "dealer1", ["100000.00"])  # issuance checks the real signals
    yard = next(
        y["id"]
        for y in api.ok(api.get("supervisor1", "/warehouses"))["items"]
        if y["dealer_id"] == api.org_id("DEALER1")
    )
    audit = api.ok(
        api.post("supervisor1", "/audits", {"warehouse_id": yard, "sample_ratio": "1"}), 201
    )
    closed = api.ok(api.post("supervisor1", f"/audits/{audit['id']}/close"))
    assert closed["missing_count"] >= 1  # out of trust: recorded as a risk event, no error
    assert_books_balance(api)


def _hard_signal(api: Api, org_code: str) -> tuple[int, int]:
    """A real open hard signal of the enterprise linked to the org: (enterprise id, signal id)."""
    from backend.platform.clock import utcnow
    from backend.risk.models import Enterprise, RiskSignal

    now, org_id = utcnow(), api.org_id(org_code)
    with api.session() as s:  # (SQLite: one writer; the org is read before)
        enterprise = s.scalar(select(Enterprise).where(Enterprise.org_id == org_id))
        if enterprise is None:
            enterprise = Enterprise(
                name=org_code,
                normalized_name=org_code.lower(),
                org_id=org_id,
                attributes={},
                created_at=now,
                updated_at=now,
            )
            s.add(enterprise)
            s.flush()
        signal = RiskSignal(
            enterprise_id=enterprise.id,
            origin="rule",
            rule_id="HARD_COURT_FREEZE",
            rule_version="1",
            level="hard",
            base_level="hard",
            status="open",
            reason="equity frozen by a court",
            evidence={},
            evidence_keys=[],
            dedup_key=f"test:{org_code}",
            active_key=f"test:{org_code}",
            raised_at=now,
            last_seen_at=now,
        )
        s.add(signal)
        s.commit()
        return enterprise.id, signal.id


def test_a_dealer_is_refused_plainly_bank_staff_see_the_risk_details(api: Api):
    """The real risk gate: a dealer's 422 names no enterprise, signal or rule; an approver's
    names them (it is the bank's own risk view)."""
    deposit(api, "DEALER1", "500000.00")
    _, vins = financed_cars(api, "dealer1", ["100000.00"])
    bill = api.ok(api.post("dealer1", "/bills", {"amount": "10000.00", "term_months": 3}), 201)
    enterprise_id, signal_id = _hard_signal(api, "DEALER1")
    before = snapshot(api)

    r = api.post("dealer1", f"/vehicles/{vins[0]}/release-before-repay")
    assert r.status_code == 422
    assert r.get_json() == {
        "error": {
            "code": "disbursement_refused",
            "message": "the bank cannot grant this at the moment; "
            "please contact your relationship manager",
            "details": {},
        }
    }
    text = r.get_data(as_text=True)
    for secret in ("enterprise_id", "rule_id", "HARD_COURT_FREEZE", "signal", "risk"):
        assert secret not in text

    r = api.post("approver1", f"/bills/{bill['id']}/issue")
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["code"] == "disbursement_blocked_by_risk"
    assert error["details"]["enterprise_id"] == enterprise_id
    assert [(s["id"], s["rule_id"]) for s in error["details"]["signals"]] == [
        (signal_id, "HARD_COURT_FREEZE")
    ]
    assert snapshot(api) == before
