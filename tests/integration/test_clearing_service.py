"""Clearing instructions through the service, on SQLite and PostgreSQL: holds, partial
bargains, deliveries with fees, cancels, idempotency, reordering and gaps, refusals that change
nothing, replay of the log, the gap alarm and reconciliation."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.clearing import service
from backend.clearing.models import Difference, GapAlarm, Instruction
from backend.clearing.signing import sign_headers
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM
from backend.platform.errors import DomainError
from backend.platform.ports import RiskEvents
from backend.platform.wiring import wiring_of
from backend.risk.models import RiskEvent
from tests.integration.test_clearing_support import BOX, NOW, SECRET, assert_books, make_desk

D = Decimal


@pytest.fixture
def desk(session):
    return make_desk(session, traders=2)


def _state(desk):
    s = desk.session
    s.flush()
    return (
        [desk.balance(n) for n in desk.numbers],
        s.scalar(select(func.count()).select_from(Instruction)),
        ledger.verify(s).transfers,
    )


def test_order_bargain_cancel_delivery_moves_money(desk):
    a, b = desk.numbers
    assert desk.one(desk.instruction("order", a, "O1", "1000.00", fee="5.00")).status == "applied"
    assert desk.balance(a) == (D("10000.00"), D("1005.00"), D("8995.00"))
    desk.one(desk.instruction("bargain", a, "O1", "400.00", fee="1.00"))  # partial
    assert desk.balance(a)[1] == D("1006.00")
    desk.one(desk.instruction("cancel", a, "O1"))  # the open 600 is released
    assert desk.balance(a)[1] == D("406.00")
    delivery = desk.instruction(
        "delivery", a, "O1", "400.00", fee="2.00", clearing_fee="1.00", counterparty=b
    )
    assert desk.one(delivery).status == "applied"
    assert desk.balance(a) == (D("9597.00"), D("0.00"), D("9597.00"))
    assert desk.balance(b)[0] == D("10400.00")
    house_fees = ledger.balance_of(desk.session.get(ledger.Account, desk.house.fee_account_id))
    assert house_fees.posted == D("1.00")
    late = desk.one(desk.instruction("cancel", a, "O1"))
    assert (late.status, late.http_status, late.code) == ("refused", 422, "order_already_delivered")
    assert_books(desk.session)


def test_same_id_same_body_same_answer_other_body_409(desk):
    a, _ = desk.numbers
    body = desk.instruction("order", a, "O1", "100.00")
    first = desk.one(body)
    again = desk.one(dict(body))
    assert (again.status, again.seq, again.replayed) == (first.status, first.seq, True)
    other = desk.one({**body, "amount": "200.00"})
    assert (other.http_status, other.code) == (409, "instruction_id_reused")
    assert desk.balance(a)[1] == D("100.00")
    assert_books(desk.session)


def test_out_of_order_waits_then_applies_in_order(desk):
    a, _ = desk.numbers
    order = desk.instruction("order", a, "O1", "100.00")
    bargain = desk.instruction("bargain", a, "O1", "100.00", fee="1.00")
    second_order = desk.instruction("order", a, "O2", "50.00")
    assert desk.one(second_order).status == "pending"
    assert desk.one(bargain).status == "pending"
    assert desk.balance(a)[1] == D("0.00")
    answer = desk.one(order)
    assert answer.status == "applied"
    assert answer.applied_after == [bargain["id"], second_order["id"]]
    assert desk.balance(a)[1] == D("151.00")
    assert desk.account(a).next_seq == 4
    assert_books(desk.session)


def test_pending_refused_at_its_turn_is_rejected_and_uses_its_number(desk):
    a, _ = desk.numbers
    order = desk.instruction("order", a, "O1", "100.00")
    too_big = desk.instruction("bargain", a, "O1", "500.00")
    assert desk.one(too_big).status == "pending"
    desk.one(order)
    row = desk.session.scalar(
        select(Instruction).where(Instruction.instruction_id == too_big["id"])
    )
    assert row.status == "rejected" and row.reason.startswith("bargain_exceeds_order")
    assert desk.account(a).next_seq == 3
    assert desk.one(too_big).status == "rejected"  # the stored answer
    assert_books(desk.session)


BAD = [
    ({"amount": "1.005"}, "invalid_amount"),
    ({"amount": "NaN"}, "invalid_amount"),
    ({"amount": "-5.00"}, "invalid_amount"),
    ({"amount": "1e308"}, "invalid_amount"),
    ({"amount": 0.5}, "invalid_amount"),
    ({"amount": "0.00"}, "invalid_amount"),
    ({"amount": "20000.00"}, "insufficient_funds"),
    ({"account": "NOPE"}, "unknown_account"),
    ({"seq": 0}, "invalid_instruction"),
    ({"seq": 2**70}, "invalid_instruction"),
    ({"kind": "steal"}, "invalid_instruction"),
    ({"extra": 1}, "invalid_instruction"),
    ({"fee": "-1.00"}, "invalid_amount"),
]


def test_bad_instructions_are_refused_and_change_nothing(desk):
    a, _ = desk.numbers
    desk.one(desk.instruction("order", a, "O0", "10.00"))
    before = _state(desk)
    for change, code in BAD:
        body = {**desk.instruction("order", a, "O1", "100.00"), **change}
        desk.seqs[a] -= 1
        answer = desk.one(body)
        assert (answer.status, answer.code) == ("refused", code), (change, answer)
        assert answer.http_status in (400, 404, 422)
        assert _state(desk) == before
        assert desk.account(a).next_seq == 2
    assert_books(desk.session)


def test_cancel_after_delivery_and_bargain_beyond_order_refused(desk):
    a, b = desk.numbers
    desk.send(
        desk.instruction("order", a, "O1", "100.00"),
        desk.instruction("bargain", a, "O1", "100.00"),
        desk.instruction("delivery", a, "O1", "100.00", counterparty=b),
    )
    before = _state(desk)
    assert desk.one(desk.instruction("cancel", a, "O1")).code == "order_already_delivered"
    desk.seqs[a] -= 1
    assert desk.one(desk.instruction("bargain", a, "O1", "1.00")).code == "order_already_delivered"
    desk.seqs[a] -= 1
    desk.one(desk.instruction("order", a, "O2", "100.00"))
    assert desk.one(desk.instruction("bargain", a, "O2", "100.01")).code == "bargain_exceeds_order"
    assert _state(desk)[0][1] == before[0][1]


def test_gap_alarm_raised_after_limit_and_closed_when_filled(desk):
    a, _ = desk.numbers
    first = desk.instruction("order", a, "O1", "100.00")
    desk.one(desk.instruction("order", a, "O2", "100.00"))
    assert (
        service.check_gaps(desk.session, SYSTEM, now=NOW + timedelta(seconds=30))["gaps_alarmed"]
        == 0
    )
    assert (
        service.check_gaps(desk.session, SYSTEM, now=NOW + timedelta(seconds=61))["gaps_alarmed"]
        == 1
    )
    alarm = desk.session.scalar(select(GapAlarm))
    assert (alarm.missing_from, alarm.missing_to, alarm.status) == (1, 1, "open")
    assert (
        desk.session.scalar(select(func.count()).where(AuditRecord.action == "clearing.gap.alarm"))
        == 1
    )
    desk.one(first)
    assert alarm.status == "closed"


class RecordingRisk:
    def __init__(self):
        self.calls = []

    def record_internal_event(self, session, actor, **kw):
        self.calls.append(kw)


def test_reconciliation_lists_every_difference_and_raises_risk_events(desk, session):
    a, b = desk.numbers
    desk.one(desk.instruction("order", a, "O1", "100.00", trade_date="2026-12-04"))
    risk = RecordingRisk()
    wiring_of(session).provide(RiskEvents, risk)
    good = (
        f"account_no,balance,held,instruction_count\n{a},10000.00,100.00,1\n{b},10000.00,0.00,0\n"
    )
    run = service.reconcile(
        session, SYSTEM, desk.house, good, business_date=date(2026, 12, 4), source="staff"
    )
    assert (run.status, run.differences) == ("matched", 0)
    bad = f"account_no,balance,held,instruction_count\n{a},9999.00,100.00,2\nGHOST,1.00,0.00,0\n"
    run = service.reconcile(
        session, SYSTEM, desk.house, bad, business_date=date(2026, 12, 4), source="staff"
    )
    got = {
        (d.account_no, d.field)
        for d in session.scalars(select(Difference).where(Difference.reconciliation_id == run.id))
    }
    assert got == {
        (a, "balance"),
        (a, "instruction_count"),
        ("GHOST", "unknown_account"),
        (b, "missing_row"),
    }
    assert {c["kind"] for c in risk.calls} == {"clearing_difference"}
    assert len(risk.calls) == 3  # the unknown account has no trader to name
    assert risk.calls[0]["data"] == {"amount": "1.00"}


def test_reconciliation_with_the_real_risk_port(desk, session):
    a, b = desk.numbers
    bad = f"account_no,balance,held,instruction_count\n{a},1.00,0.00,0\n{b},10000.00,0.00,0\n"
    run = service.reconcile(
        session, SYSTEM, desk.house, bad, business_date=NOW.date(), source="file"
    )
    assert run.differences == 1
    events = session.scalars(select(RiskEvent).where(RiskEvent.source == "clearing")).all()
    assert [e.kind for e in events] == ["clearing_difference"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a,b,c\n",
        "account_no,balance,held,instruction_count\nX,1.005,0.00,1\n",
        "account_no,balance,held,instruction_count\nX,NaN,0.00,1\n",
        "account_no,balance,held,instruction_count\nX,1.00,-1.00,1\n",
        "account_no,balance,held,instruction_count\nX,1.00,0.00,-1\n",
    ],
)
def test_bad_reconciliation_files_are_refused(desk, text):
    with pytest.raises(Exception) as info:
        service.parse_file(text)
    assert getattr(info.value, "code", "") == "invalid_reconciliation_file"


def _auth(desk, body=b"{}", *, secret=SECRET, now=NOW, nonce="nonce-00001", house="CCHT", **kw):
    h = sign_headers(secret, house, "POST", "/p", body, now=now, nonce=nonce)
    args = {
        "house_code": h["X-Clearing-House"],
        "timestamp": h["X-Timestamp"],
        "nonce": h["X-Nonce"],
        "signature": h["X-Signature"],
        **kw,
    }
    return service.authenticate(
        desk.session, BOX, method="POST", path="/p", body=body, now=NOW, **args
    )


def test_signature_timestamp_and_nonce(desk):
    assert _auth(desk).id == desk.house.id
    for kw, code in [
        ({"nonce": "nonce-00001"}, "nonce_reused"),
        ({"nonce": "nonce-00002", "secret": "wrong"}, "bad_signature"),
        ({"nonce": "nonce-00003", "now": NOW - timedelta(seconds=301)}, "stale_timestamp"),
        ({"nonce": "nonce-00004", "now": NOW + timedelta(seconds=301)}, "stale_timestamp"),
        ({"nonce": "nonce-00005", "house": "OTHER"}, "unknown_clearing_house"),
        ({"nonce": "short"}, "bad_nonce"),
        ({"nonce": "nonce-00006", "signature": None}, "signature_required"),
        ({"nonce": "nonce-00007", "timestamp": "12e3"}, "stale_timestamp"),
    ]:
        with pytest.raises(DomainError) as info:
            _auth(desk, **kw)
        assert info.value.code == code, kw
    assert _auth(desk, nonce="nonce-00008", now=NOW - timedelta(seconds=299)).id == desk.house.id
    # nonces are purged by the gap job once older than twice the window: by then a request
    # that carried one is refused as stale anyway
    purged = service.check_gaps(desk.session, SYSTEM, now=NOW + timedelta(seconds=601))
    assert purged["nonces_purged"] == 2
