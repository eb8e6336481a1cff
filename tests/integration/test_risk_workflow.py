"""Signals in the database: de-duplication, escalation when repeated, expiry, suppression
after a dismissal, routing to inboxes; the maker-checker warning workflow; the disbursement
block and the bank's own events (floor-plan's interface), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.identity.models import Org, User
from backend.identity.service import actor_for
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM
from backend.platform.db import make_engine
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from backend.platform.live import RecordingEmitter
from backend.risk import ensure_no_blocking_signal, has_blocking_signal, record_internal_event
from backend.risk.intake.ingest import ingest_records
from backend.risk.models import Enterprise, InboxItem, RiskSignal, SignalReview
from backend.risk.monitoring.live import evaluate_enterprises
from backend.risk.service.decisions import check, decide
from tests.integration.test_risk_support import add_user, code, event
from tests.wiring import recording_emitter, wired_factory

A = code(11)
NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch):
    """These tests act through services: nobody logs in, so skip the deliberately slow hash."""
    from backend.identity.service import users  # where identity's use cases hash passwords

    monkeypatch.setattr(users, "hash_password", lambda password: f"test${password}")


@pytest.fixture
def lite(sqlite_url):
    engine = make_engine(sqlite_url)
    with wired_factory(engine)() as session:
        yield session
    engine.dispose()


def people(session) -> dict:
    """rm1 and rm2, approver1 and approver2, admin; the enterprise A assigned to rm1."""
    from backend.seed import seed_identity

    seed_identity(session, None)  # rm1 and rm2 among the demo users
    add_user(session, "approver2", "approver")
    users = {u.username: u for u in session.scalars(select(User))}
    ingest_records(
        session,
        SYSTEM,
        "registry",
        [
            {
                "record_id": "p",
                "type": "profile",
                "credit_code": A,
                "name": "华鑫科技有限公司",
                "time": "2024-01-01",
                "data": {"registered_capital": "10000000.00"},
            }
        ],
    )
    ent = session.scalar(select(Enterprise).where(Enterprise.credit_code == A))
    ent.rm_user_id = users["rm1"].id
    session.commit()
    return {name: actor_for(u) for name, u in users.items()} | {"enterprise": ent}


def signals(session, **where) -> list[RiskSignal]:
    stmt = select(RiskSignal).order_by(RiskSignal.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(RiskSignal, key) == value)
    return list(session.scalars(stmt))


def feed(session, *records, live=None, now=None):
    return ingest_records(session, SYSTEM, "feed", list(records), live=live, now=now)


# --- signals ---------------------------------------------------------------------------------


def test_the_same_evidence_never_raises_twice(lite):
    p = people(lite)
    feed(lite, event("e1", A, "enforcement", 10))
    evaluate_enterprises(lite, [p["enterprise"].id])
    evaluate_enterprises(lite, [p["enterprise"].id])
    lite.commit()
    assert [(s.rule_id, s.occurrences) for s in signals(lite)] == [("JUD-ENFORCEMENT", 1)]


def test_repeated_margin_shortfalls_escalate_to_hard(lite):
    """Rules v3: one shortfall is medium; a second within 90 days corroborates it (strong, the
    single one's signal expires); a third escalates the strong signal to hard."""
    people(lite)
    live = recording_emitter()
    for i, days in enumerate((60, 30, 5)):
        feed(lite, event(f"m{i}", A, "margin_shortfall", days), live=live)
        lite.commit()
    (one,) = signals(lite, rule_id="INT-MARGIN-SHORTFALL-ONE")
    assert one.level == "medium" and one.status == "expired"
    (signal,) = signals(lite, rule_id="INT-MARGIN-SHORTFALL")
    assert (signal.base_level, signal.level, signal.occurrences) == ("strong", "hard", 2)
    assert signal.escalated_at is not None and signal.is_blocking
    sent = [(d["rule_id"], d["event"]) for _e, d, _r in live.sent]
    assert sent == [
        ("INT-MARGIN-SHORTFALL-ONE", "raised"),
        ("INT-MARGIN-SHORTFALL", "raised"),
        ("INT-MARGIN-SHORTFALL", "escalated"),
    ]
    assert has_blocking_signal(lite, credit_code=A)
    actions = list(
        lite.scalars(select(AuditRecord.action).where(AuditRecord.object_type == "risk_signal"))
    )
    assert sorted(actions) == sorted(
        ["risk.signal_raised", "risk.signal_raised", "risk.signal_expired", "risk.signal_escalated"]
    )


def test_signals_expire_when_their_cause_is_gone_but_hard_ones_stay(lite):
    p = people(lite)
    feed(lite, event("l1", A, "lawsuit_defendant", 80), event("d1", A, "dishonest_debtor", 80))
    lite.commit()
    later = NOW + timedelta(days=30)  # the 90-day lawsuit window has passed
    evaluate_enterprises(lite, [p["enterprise"].id], now=later)
    lite.commit()
    by_rule = {s.rule_id: s for s in signals(lite)}
    assert by_rule["JUD-LAWSUIT"].status == "expired" and by_rule["JUD-LAWSUIT"].active_key is None
    assert by_rule["JUD-DISHONEST"].status == "open"


def test_a_dismissed_signal_stays_quiet_until_new_evidence(lite):
    p = people(lite)
    feed(lite, event("l1", A, "lawsuit_defendant", 10))
    (signal,) = signals(lite, rule_id="JUD-LAWSUIT")
    decide(lite, p["rm1"], signal.id, "dismiss", "settled out of court")
    evaluate_enterprises(lite, [p["enterprise"].id])
    assert len(signals(lite, rule_id="JUD-LAWSUIT")) == 1
    feed(lite, event("l2", A, "lawsuit_defendant", 2))
    lite.commit()
    assert [s.status for s in signals(lite, rule_id="JUD-LAWSUIT")] == ["dismissed", "open"]


def test_signals_reach_the_rm_and_every_approver(lite):
    p = people(lite)
    live = recording_emitter()
    feed(lite, event("d1", A, "dishonest_debtor", 3), live=live)
    lite.commit()
    (signal,) = signals(lite)
    users = set(lite.scalars(select(InboxItem.user_id).where(InboxItem.signal_id == signal.id)))
    assert users == {p["rm1"].user_id, p["approver1"].user_id, p["approver2"].user_id}
    ((name, data, rooms),) = live.sent
    assert (
        name == "risk.signal" and data["blocking"] and data["enterprise_id"] == p["enterprise"].id
    )
    assert rooms == [f"user:{p['rm1'].user_id}", "role:approver"]


def test_pushes_of_a_rolled_back_savepoint_are_dropped_the_rest_go_on_commit(lite):
    from backend.platform.after_commit import push_live as push_after_commit

    live = RecordingEmitter()  # the queue, not the payload: no renderers
    lite.execute(select(1))
    push_after_commit(lite, live, "risk.signal", {"n": 1}, ["role:approver"])
    with pytest.raises(ValueError), lite.begin_nested():
        push_after_commit(lite, live, "risk.signal", {"n": 2}, ["role:approver"])
        raise ValueError
    lite.commit()
    assert [d for _e, d, _r in live.sent] == [{"n": 1}]


def test_model_signals_rise_with_the_level_and_a_dismissal_covers_lower_levels(lite):
    from backend.risk.scoring.assessment import level_keys
    from backend.risk.scoring.ruleset import Finding
    from backend.risk.signals.lifecycle import finish, load_books, reconcile

    p = people(lite)
    ent = p["enterprise"]

    def run(level):
        found = Finding(
            "MODEL", "model", level, "Warning model", "why", {}, level_keys("model", level), "m1"
        )
        book = load_books(lite, [ent.id])[ent.id]
        changes = reconcile(lite, ent, [found], book, origins=("model",), now=NOW)
        finish(lite, changes, now=NOW, live=None)
        return changes

    assert level_keys("model", "strong") == {"model:weak", "model:medium", "model:strong"}
    run("medium")
    (signal,) = signals(lite, rule_id="MODEL")
    assert run("medium").refreshed == 1 and signal.occurrences == 1
    assert run("strong").escalated == [signal] and signal.level == "strong"
    decide(lite, p["rm1"], signal.id, "dismiss", "restructuring agreed last week")
    quiet = run("medium")
    assert quiet.suppressed == 1 and not quiet.raised
    louder = run("hard")
    assert [s.level for s in louder.raised] == ["hard"]


# --- the warning workflow (maker-checker) ------------------------------------------------------


def hard_signal(session, p) -> RiskSignal:
    feed(session, event("d1", A, "dishonest_debtor", 3))
    session.commit()
    return signals(session, rule_id="JUD-DISHONEST")[0]


def test_maker_checker_dismissal_unblocks(session):
    p = people(session)
    s = hard_signal(session, p)
    assert has_blocking_signal(session, credit_code=A)
    decide(session, p["rm1"], s.id, "dismiss", "name clash: another company")
    assert (s.status, s.pending_decision) == ("pending_review", "dismiss")
    assert has_blocking_signal(session, credit_code=A)  # still blocked while pending
    with pytest.raises(PermissionDenied) as exc:
        check(session, p["rm1"], s.id, True, "looks fine")
    assert exc.value.code == "forbidden"  # an RM is no checker
    check(session, p["approver1"], s.id, True, "verified with the court record")
    session.commit()
    assert s.status == "dismissed" and s.active_key is None and not s.is_blocking
    assert not has_blocking_signal(session, credit_code=A)
    steps = [
        (r.step, r.decision, r.username)
        for r in session.scalars(select(SignalReview).order_by(SignalReview.id))
    ]
    assert steps == [("propose", "dismiss", "rm1"), ("approve", "dismiss", "approver1")]


def test_four_eyes_confirm_then_lift(session):
    p = people(session)
    s = hard_signal(session, p)
    decide(session, p["approver1"], s.id, "confirm", "confirmed with the RM")
    with pytest.raises(PermissionDenied) as exc:
        check(session, p["approver1"], s.id, True, "me again")
    assert exc.value.code == "four_eyes_required"
    check(session, p["approver2"], s.id, True, "agreed")
    assert s.status == "confirmed" and s.is_blocking  # a confirmed hard signal keeps blocking
    with pytest.raises(Conflict) as exc:
        decide(session, p["rm1"], s.id, "dismiss", "too late")
    assert exc.value.code == "signal_not_open"
    decide(session, p["rm1"], s.id, "lift", "debt restructured, collateral added")
    check(session, p["approver2"], s.id, False, "wait for the signed agreement")
    assert (s.status, s.pending_decision) == ("confirmed", None)  # rejected: back where it was
    decide(session, p["rm1"], s.id, "lift", "agreement signed")
    check(session, p["approver1"], s.id, True, "ok")
    session.commit()
    assert s.status == "lifted" and not has_blocking_signal(session, credit_code=A)
    with pytest.raises(Conflict) as exc:
        decide(session, p["rm1"], s.id, "confirm", "again")
    assert exc.value.code == "signal_closed"


def test_workflow_guards(lite):
    p = people(lite)
    s = hard_signal(lite, p)
    with pytest.raises(ValidationFailed) as exc:
        decide(lite, p["rm1"], s.id, "dismiss", "  ")
    assert exc.value.code == "comment_required"
    with pytest.raises(NotFound):
        decide(lite, p["rm2"], s.id, "dismiss", "not my client")  # another RM's: not found
    with pytest.raises(PermissionDenied):
        decide(lite, p["teller1"], s.id, "dismiss", "x")
    with pytest.raises(Conflict) as exc:
        check(lite, p["approver1"], s.id, True, "nothing pending")
    assert exc.value.code == "no_pending_decision"
    with pytest.raises(Conflict) as exc:
        decide(lite, p["rm1"], s.id, "lift", "not confirmed")
    assert exc.value.code == "signal_not_confirmed"
    decide(lite, p["rm1"], s.id, "dismiss", "x")
    with pytest.raises(Conflict) as exc:
        decide(lite, p["approver1"], s.id, "confirm", "y")
    assert exc.value.code == "decision_pending"


def test_below_hard_a_decision_applies_at_once(lite):
    p = people(lite)
    feed(lite, event("e1", A, "enforcement", 10))
    (s,) = signals(lite, rule_id="JUD-ENFORCEMENT")
    decide(lite, p["rm1"], s.id, "confirm", "known, monitored")
    assert s.status == "confirmed" and not s.is_blocking
    decide(lite, p["rm1"], s.id, "lift", "paid")
    assert s.status == "lifted"


# --- blocking and the bank's own events ---------------------------------------------------------


def test_an_out_of_trust_car_blocks_the_dealer_until_resolved(session):
    p = people(session)
    dealer = session.scalar(select(Org).where(Org.code == "DEALER1"))
    assert not has_blocking_signal(session, org_id=dealer.id)  # no risk data: not blocked
    ensure_no_blocking_signal(session, dealer.id)
    live = recording_emitter()
    ev = record_internal_event(
        session,
        SYSTEM,
        org_id=dealer.id,
        kind="vehicle_out_of_trust",
        severity="hard",
        data={"vin": "LSVAA2186E2100001", "outstanding": "250000.00"},
        source_time=NOW,
        live=live,
    )
    again = record_internal_event(
        session,
        SYSTEM,
        org_id=dealer.id,
        kind="vehicle_out_of_trust",
        severity="hard",
        data={"vin": "LSVAA2186E2100001", "outstanding": "250000.00"},
        source_time=NOW,
    )
    session.commit()
    assert again.id == ev.id  # idempotent
    ent = session.scalar(select(Enterprise).where(Enterprise.org_id == dealer.id))
    assert ent.credit_code is None and ent.attributes == {"placeholder": True}
    assert has_blocking_signal(session, org_id=dealer.id)
    with pytest.raises(BusinessRuleViolation) as exc:
        ensure_no_blocking_signal(session, dealer.id)
    assert exc.value.code == "disbursement_blocked_by_risk"
    assert exc.value.details["signals"][0]["rule_id"] in (
        "INT-OUT-OF-TRUST",
        "INT-REPORTED-CRITICAL",
    )
    assert live.sent and live.sent[0][1]["blocking"]
    for s in session.scalars(
        select(RiskSignal).where(RiskSignal.enterprise_id == ent.id, RiskSignal.level == "hard")
    ):
        decide(session, p["approver1"], s.id, "dismiss", "car found in the second yard")
        check(session, p["approver2"], s.id, True, "photo evidence checked")
    session.commit()
    ensure_no_blocking_signal(session, dealer.id)


def test_the_registry_code_attaches_to_a_placeholder_enterprise(lite):
    people(lite)
    dealer = lite.scalar(select(Org).where(Org.code == "DEALER2"))
    record_internal_event(
        lite, SYSTEM, org_id=dealer.id, kind="margin_shortfall", data={"shortfall": "1.00"}
    )
    code2 = code(12)
    ingest_records(
        lite,
        SYSTEM,
        "registry",
        [
            {
                "record_id": "p2",
                "type": "profile",
                "credit_code": code2,
                "name": dealer.name,
                "time": "2024-01-01",
                "data": {"registered_capital": "20000000.00"},
            }
        ],
    )
    lite.commit()
    ents = list(lite.scalars(select(Enterprise).where(Enterprise.org_id == dealer.id)))
    assert len(ents) == 1 and ents[0].credit_code == code2
    assert (
        lite.scalar(select(func.count(Enterprise.id)).where(Enterprise.credit_code == code2)) == 1
    )


def test_internal_event_validation(lite):
    people(lite)
    dealer = lite.scalar(select(Org).where(Org.code == "DEALER1"))
    with pytest.raises(ValidationFailed):
        record_internal_event(lite, SYSTEM, org_id=dealer.id, kind="news", data={})
    with pytest.raises(ValidationFailed):
        record_internal_event(
            lite, SYSTEM, org_id=dealer.id, credit_code=A, kind="margin_shortfall"
        )
    with pytest.raises(ValidationFailed):
        record_internal_event(
            lite, SYSTEM, org_id=dealer.id, kind="overdue_loan", data={"days_overdue": -1}
        )
    with pytest.raises(NotFound):
        record_internal_event(lite, SYSTEM, credit_code=code(99), kind="overdue_loan")
    overdue = record_internal_event(
        lite,
        SYSTEM,
        credit_code=A,
        kind="overdue_loan",
        severity="strong",
        data={"what": "curtailment"},
    )
    assert overdue.data == {"what": "curtailment", "days_overdue": 0} and overdue.severity == 3
    assert {s.rule_id for s in signals(lite)} == {"INT-OVERDUE"}
