"""LTV per credit on both databases: exact bp over several properties, a level that rises
raises exactly one risk event (a rerun none), a block-level breach of a blocking product ends
in a hard signal that the disbursement gate refuses on, a retail loan only on the alert list,
outstanding read through the floor-plan and factoring ports."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.collateral.models import CreditLink
from backend.collateral.monitoring import ltv, queries, service
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM
from backend.platform.errors import BusinessRuleViolation, NotFound, PermissionDenied
from backend.platform.ports import CreditExposure, FloorplanExposure
from backend.risk import ensure_no_blocking_signal
from backend.risk.models import RiskEvent
from tests.integration.collateral_monitoring_support import NOW, actor, add_property, link, org
from tests.wiring import wired_factory


@pytest.fixture
def book(session):
    from backend.seed import seed_identity

    seed_identity(session, None)
    session.commit()
    return session


def events(session, kind="ltv_breach") -> list[RiskEvent]:
    return list(session.scalars(select(RiskEvent).where(RiskEvent.kind == kind)))


def test_ltv_is_exact_over_several_properties_and_shared_ones(book):
    s = book
    p1 = add_property(s, value="1000000.00")
    p2 = add_property(s, value="500000.00")
    p3 = add_property(s, value="300000.00")
    unvalued = add_property(s, value=None)
    released = add_property(s, value="9000000.00", status="released")
    a1 = link(s, p1, "LOAN-A", outstanding="900000.00")
    a2 = link(s, p2, "LOAN-A", outstanding="900000.00")
    link(s, unvalued, "LOAN-A", outstanding="900000.00")
    link(s, released, "LOAN-A", outstanding="900000.00")
    b = link(s, p3, "LOAN-B", outstanding="100000.00")
    c = link(s, p3, "LOAN-C", outstanding="200000.00")
    nothing = link(s, unvalued, "LOAN-D", outstanding="50000.00")
    result = ltv.recompute(s, SYSTEM, now=NOW)
    s.commit()
    assert (a1.ltv_bp, a2.ltv_bp) == (6000, 6000)  # 900k / 1.5m
    assert a1.ltv_level == "ok"
    # B and C share p3 pro rata (100k : 200k): both at the combined 300k / 300k
    assert (b.ltv_bp, c.ltv_bp) == (10000, 10000)
    assert b.ltv_level == c.ltv_level == "block"
    assert nothing.ltv_bp is None and nothing.ltv_level is None
    assert result["levels"]["block"] == 2 and result["levels"]["none"] == 1
    # an odd figure: rounded half up, exactly
    p4 = add_property(s, value="300000.00")
    odd = link(s, p4, "LOAN-E", outstanding="100000.00")
    ltv.recompute(s, SYSTEM, credits=[("loan", "LOAN-E")], now=NOW)
    assert odd.ltv_bp == 3333


def test_a_rising_level_raises_one_risk_event_and_a_rerun_none(book):
    s = book
    rm1 = actor(s, "rm1")
    prop = add_property(s, value="1000000.00")
    credit = link(s, prop, "LOAN-1", outstanding="500000.00")
    ltv.recompute(s, SYSTEM, now=NOW)
    s.commit()
    assert credit.ltv_level == "ok" and not events(s)
    service.report_outstanding(s, rm1, credit.id, "750000.00", now=NOW)  # warn: listed only
    s.commit()
    assert credit.ltv_level == "warn" and not events(s)
    service.report_outstanding(s, rm1, credit.id, "850000.00", now=NOW)  # alarm
    s.commit()
    assert credit.ltv_bp == 8500 and credit.ltv_level == "alarm"
    [event] = events(s)
    assert event.severity == 3  # high
    for _ in range(2):  # the same value again, and a full recompute: nothing new
        service.report_outstanding(s, rm1, credit.id, "850000.00", now=NOW)
        ltv.recompute(s, SYSTEM, now=NOW)
        s.commit()
    assert len(events(s)) == 1
    audits = s.scalar(
        select(func.count()).where(AuditRecord.action == "collateral.outstanding_reported")
    )
    assert audits == 2  # the repeated value was not audited again
    # falling back and rising again the same day: the day's event of that level stands
    service.report_outstanding(s, rm1, credit.id, "100000.00", now=NOW)
    service.report_outstanding(s, rm1, credit.id, "850000.00", now=NOW)
    s.commit()
    assert len(events(s)) == 1


def test_a_block_level_breach_blocks_disbursement_for_the_borrower(book):
    s = book
    core2 = org(s, "CORE2")
    ensure_no_blocking_signal(s, core2.id)
    prop = add_property(s, value="1000000.00", owner="CORE2")
    credit = link(s, prop, "LOAN-9", outstanding="100000.00", borrower="CORE2")
    ltv.recompute(s, SYSTEM, now=NOW)
    service.report_outstanding(s, actor(s, "approver1"), credit.id, "950000.00", now=NOW)
    s.commit()
    assert credit.ltv_level == "block"
    [event] = events(s)
    assert event.data["ltv_bp"] == 9500 and event.data["amount"] == "950000.00"
    assert event.severity == 4  # critical: the loan product blocks
    with pytest.raises(BusinessRuleViolation) as exc:
        ensure_no_blocking_signal(s, core2.id)
    assert exc.value.code == "disbursement_blocked_by_risk"
    # CORE1 has nothing to do with it
    ensure_no_blocking_signal(s, org(s, "CORE1").id)


def test_a_factoring_block_is_not_a_hard_signal_where_the_product_does_not_block(book):
    s = book
    prop = add_property(s, value="100000.00", owner="CORE1")
    link(s, prop, "FA-X", kind="factoring_agreement", outstanding="99000.00")
    ltv.recompute(s, SYSTEM, now=NOW)
    s.commit()
    [event] = events(s)
    assert event.data["ltv_bp"] == 9900
    ensure_no_blocking_signal(s, org(s, "CORE1").id)  # strong at most, never hard


def test_a_retail_loan_goes_to_the_alert_list_not_to_risk(book):
    s = book
    prop = add_property(s, value="1000000.00", owner="CLIENTS")
    credit = link(s, prop, "LOAN-R", outstanding="950000.00", borrower="CLIENTS")
    ltv.recompute(s, SYSTEM, now=NOW)
    s.commit()
    assert credit.ltv_level == "block" and not events(s)
    alerts = queries.list_credit_ltv(s, actor(s, "rm1"), over=True)
    assert [x.credit_ref for x in alerts.items] == ["LOAN-R"]
    assert alerts.items[0].rm_username == "rm1"
    assert queries.list_credit_ltv(s, actor(s, "rm2"), over=True).items == []


def test_outstanding_rules_and_access(book):
    s = book
    prop = add_property(s, value="1000000.00")
    loan = link(s, prop, "LOAN-Z", outstanding="1.00")
    line = link(s, prop, "7", kind="floorplan_line", outstanding="1.00")
    s.commit()
    with pytest.raises(NotFound):
        service.report_outstanding(s, actor(s, "rm2"), loan.id, "2.00")
    with pytest.raises(NotFound):
        service.report_outstanding(s, actor(s, "client1"), loan.id, "2.00")
    with pytest.raises(BusinessRuleViolation) as exc:
        service.report_outstanding(s, actor(s, "rm1"), line.id, "2.00")
    assert exc.value.code == "outstanding_read_from_product"
    for bad in ("-1.00", "NaN", "1e308", 0.5, "12.345", None):
        with pytest.raises(Exception) as exc:
            service.report_outstanding(s, actor(s, "rm1"), loan.id, bad)
        assert getattr(exc.value, "code", None) in ("validation_error", "invalid_amount")
    s.rollback()
    assert s.get(CreditLink, loan.id).outstanding == Decimal("1.00")
    with pytest.raises(PermissionDenied):
        queries.list_credit_ltv(s, actor(s, "client1"))


@dataclass
class Lines:
    outstanding: dict

    def credit_exposure(self, session, credit_ref):
        if credit_ref not in self.outstanding:
            return None
        return CreditExposure(
            "floorplan_line",
            credit_ref,
            1,
            self.outstanding[credit_ref],
            Decimal("9999999.00"),
            True,
        )

    def credits_of(self, session, org_id):
        return []


def test_floorplan_outstanding_is_read_through_its_port(book, engine):
    s = book
    prop = add_property(s, value="1000000.00", owner="DEALER1")
    line_id = link(s, prop, "11", kind="floorplan_line", borrower="DEALER1").id
    gone_id = link(s, prop, "12", kind="floorplan_line", outstanding="5.00", borrower="DEALER1").id
    s.commit()
    fake = Lines({"11": Decimal("650000.00")})
    with wired_factory(engine, ports={FloorplanExposure: fake})() as other:
        result = ltv.refresh_exposures(other, SYSTEM, now=NOW)
        ltv.recompute(other, SYSTEM, now=NOW)
        other.commit()
    assert result["changed"] == 1 and result["missing"] == ["floorplan_line:12"]
    s.expire_all()
    line, gone = s.get(CreditLink, line_id), s.get(CreditLink, gone_id)
    assert line.outstanding == Decimal("650000.00")
    assert gone.outstanding == Decimal("5.00")
    assert line.ltv_bp == 6500 and line.ltv_level == "warn"  # floor-plan warns at 60 %
