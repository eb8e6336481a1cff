"""Ledger service on SQLite and PostgreSQL: rules, error codes, idempotency, holds, batches,
reversals, immutability, visibility, statements and verify."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from backend import ledger
from backend.bootstrap import collect_areas, job_registry
from backend.ledger import TransferSpec
from backend.ledger.cli import ledger_cli
from backend.ledger.models import Account, Hold, JournalImmutable, Transfer
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM
from backend.platform.jobs import run_job
from tests.ledger_support import available, make_books, refused, snapshot

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def books(session):
    return make_books(session)


def move(session, books, tid, amount, *, debit=None, credit=None, **kw):
    return ledger.transfer(
        session,
        books.teller,
        transfer_id=tid,
        debit_account_id=debit or books.a,
        credit_account_id=credit or books.b,
        amount=amount,
        code=kw.pop("code", "payment"),
        **kw,
    )


def hold(session, books, tid, amount, **kw):
    return ledger.hold(
        session,
        books.teller,
        transfer_id=tid,
        debit_account_id=kw.pop("debit", books.a),
        credit_account_id=kw.pop("credit", books.margin),
        amount=amount,
        code="margin.freeze",
        **kw,
    )


# --------------------------------------------------------------------------- transfers


def test_transfer_moves_posted_balances_and_is_audited(session, books):
    t = move(session, books, "t-1", "250.50", reference="invoice 7")
    session.commit()
    assert (t.kind, t.amount, t.currency, t.created_by) == (
        "single",
        Decimal("250.50"),
        "CNY",
        "teller1",
    )
    a = ledger.get_balance(session, SYSTEM, books.a)
    b = ledger.get_balance(session, SYSTEM, books.b)
    assert (a.posted, a.pending, a.available) == (Decimal("749.50"), 0, Decimal("749.50"))
    assert b.available == Decimal("750.50")
    funding = ledger.get_balance(session, SYSTEM, books.funding)
    assert funding.posted == Decimal("-1500.00")  # internal: may go below zero
    record = session.scalar(select(AuditRecord).where(AuditRecord.object_id == "t-1"))
    assert record.action == "ledger.transfer" and record.actor_username == "teller1"
    assert record.after["transfer"]["amount"] == "250.50"
    assert record.before["accounts"][str(books.a)]["credits_posted"] == "1000.00"
    assert ledger.verify(session).ok


def test_account_objects_in_the_session_see_new_balances(session, books):
    account = ledger.get_account(session, books.teller, books.a)
    version = account.version
    move(session, books, "t-fresh", "1.00")
    assert account.debits_posted == Decimal("1.00") and account.version == version + 1
    assert ledger.queries.balance_of(account).available == Decimal("999.00")


def test_retry_with_same_id_and_fields_returns_the_original(session, books):
    first = move(session, books, "t-retry", "10.00", reference="r")
    session.commit()
    before = snapshot(session)
    again = move(session, books, "t-retry", Decimal("10"), reference="r")
    session.commit()
    assert again.id == first.id
    assert snapshot(session) == before


def test_retry_is_replayed_even_when_it_could_not_apply_again(session, books):
    """The optimistic path assumes new ids; a refusal sends it to the careful path, where a
    stored transfer replays instead of being refused for funds it no longer needs."""
    first = move(session, books, "t-again", "900.00")
    session.commit()
    before = snapshot(session)
    again = move(session, books, "t-again", "900.00")  # a holds 100.00 now: could not pay 900
    session.commit()
    assert again.id == first.id
    assert snapshot(session) == before


def test_batch_of_stored_and_new_ids_applies_only_the_new(session, books):
    move(session, books, "m-1", "100.00")
    session.commit()
    result = ledger.execute_batch(
        session,
        books.teller,
        [
            TransferSpec.single("m-1", books.a, books.b, "100.00", "payment"),
            TransferSpec.single("m-2", books.a, books.b, "50.00", "payment"),
        ],
    )
    session.commit()
    assert result.replayed == [True, False]
    assert available(session, books.a) == Decimal("850.00")
    assert ledger.verify(session).ok


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "10.01"},
        {"credit": "margin"},
        {"code": "other"},
        {"reference": "another"},
    ],
)
def test_same_id_with_other_fields_is_a_conflict_and_changes_nothing(session, books, change):
    move(session, books, "t-x", "10.00", reference="r")
    session.commit()
    before = snapshot(session)
    kw = {"reference": "r", "code": "payment"}
    amount = change.get("amount", "10.00")
    if "credit" in change:
        kw["credit"] = books.margin
    kw.update({k: v for k, v in change.items() if k in ("code", "reference")})
    with refused("transfer_id_reused", "conflict") as info:
        move(session, books, "t-x", amount, **kw)
    assert info.value.details["transfer_id"] == "t-x"
    assert snapshot(session) == before


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("0", "invalid_amount"),
        ("0.00", "invalid_amount"),
        ("-5.00", "invalid_amount"),
        ("1.005", "invalid_amount"),
        (1.5, "invalid_amount"),
        ("abc", "invalid_amount"),
        ("NaN", "invalid_amount"),
        ("99999999999999.00", "invalid_amount"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(session, books, amount, code):
    before = snapshot(session)
    with refused(code, "validation"):
        move(session, books, "t-bad", amount)
    session.commit()
    assert snapshot(session) == before


def test_bad_input_error_codes(session, books):
    before = snapshot(session)
    with refused("account_not_found", "not_found"):
        move(session, books, "t-1", "1.00", credit=987654)
    with refused("accounts_must_differ", "validation"):
        move(session, books, "t-2", "1.00", credit=books.a)
    with refused("invalid_transfer_id", "validation"):
        move(session, books, "bad id with spaces", "1.00")
    with refused("invalid_transfer_id", "validation"):
        move(session, books, "x~post", "1.00")
    with refused("invalid_currency", "validation"):
        move(session, books, "t-3", "1.00", currency="cny")
    with refused("currency_mismatch", "business_rule"):
        move(session, books, "t-4", "1.00", currency="USD")
    with refused("insufficient_funds", "business_rule") as info:
        move(session, books, "t-5", "1000.01")
    assert info.value.details == {"account_id": books.a, "shortfall": "0.01"}
    with refused("invalid_transfer_code", "validation"):
        move(session, books, "t-6", "1.00", code="")
    with refused("empty_batch", "validation"):
        ledger.execute_batch(session, books.teller, [])
    with refused("invalid_transfer_kind", "validation"):
        ledger.execute_batch(session, books.teller, [TransferSpec("k", "expire_pending")])
    session.commit()
    assert snapshot(session) == before


def test_currency_mismatch_between_accounts(session, books):
    usd = ledger.open_account(
        session, SYSTEM, code="usd:1", name="USD", kind="internal", currency="USD"
    )
    before = snapshot(session)
    with refused("currency_mismatch"):
        move(session, books, "t-usd", "1.00", debit=usd.id, credit=books.b, currency="USD")
    with refused("currency_mismatch"):
        move(session, books, "t-cny", "1.00", debit=usd.id, credit=books.b)
    assert snapshot(session) == before


def test_closed_account_refuses_transfers_and_close_needs_an_empty_account(session, books):
    with refused("account_not_empty"):
        ledger.close_account(session, books.teller, books.a)
    hold(session, books, "h-close", "1.00", debit=books.funding)
    with refused("account_has_holds"):
        ledger.close_account(session, books.teller, books.margin)
    ledger.void_hold(session, books.teller, hold_transfer_id="h-close")
    closed = ledger.close_account(session, books.teller, books.margin)
    session.commit()
    assert closed.status == "closed"
    before = snapshot(session)
    with refused("account_closed", "business_rule"):
        move(session, books, "t-closed", "1.00", credit=books.margin)
    with refused("account_closed"):
        hold(session, books, "h-closed", "1.00")
    assert snapshot(session) == before
    actions = set(session.scalars(select(AuditRecord.action)))
    assert {"ledger.account_opened", "ledger.account_closed"} <= actions


def test_credit_limited_account_cannot_pay_out_more_than_loaded(session, books):
    cash = ledger.open_account(
        session, SYSTEM, code="atm:1:cash", name="ATM cash", kind="cash_in_device"
    )
    move(session, books, "load", "300.00", debit=cash.id, credit=books.funding)
    move(session, books, "withdraw", "200.00", debit=books.funding, credit=cash.id)
    with refused("exceeds_debits"):
        move(session, books, "withdraw-2", "100.01", debit=books.funding, credit=cash.id)
    bal = ledger.get_balance(session, SYSTEM, cash.id)
    assert (bal.normal_side, bal.posted, bal.available) == ("debit", Decimal("100.00"), 100)


def test_open_account_rules(session, books):
    again = ledger.open_account(
        session, SYSTEM, code="dlr1:deposit", name="D1", kind="deposit", owner_org_id=books.org1
    )
    assert again.id == books.a
    with refused("account_code_taken", "conflict"):
        ledger.open_account(
            session, SYSTEM, code="dlr1:deposit", name="x", kind="margin", owner_org_id=books.org1
        )
    with refused("invalid_account_kind"):
        ledger.open_account(session, SYSTEM, code="k", name="k", kind="savings")
    with refused("invalid_account_flags"):
        ledger.open_account(
            session,
            SYSTEM,
            code="f",
            name="f",
            kind="internal",
            debits_must_not_exceed_credits=True,
            credits_must_not_exceed_debits=True,
        )
    with refused("org_not_found", "not_found"):
        ledger.open_account(session, SYSTEM, code="o", name="o", kind="deposit", owner_org_id=999)
    with refused("invalid_currency"):
        ledger.open_account(session, SYSTEM, code="c", name="c", kind="deposit", currency="yuan")


# --------------------------------------------------------------------------- holds


def test_hold_reserves_then_posts_in_full(session, books):
    h = hold(session, books, "h-1", "400.00")
    assert h.kind == "pending"
    a = ledger.get_balance(session, SYSTEM, books.a)
    assert (a.posted, a.pending, a.available) == (Decimal("1000.00"), Decimal("400.00"), 600)
    post = ledger.post_hold(session, books.teller, hold_transfer_id="h-1")
    session.commit()
    assert (post.transfer_id, post.kind, post.amount, post.pending_id) == (
        "h-1~post",
        "post_pending",
        Decimal("400.00"),
        h.id,
    )
    a = ledger.get_balance(session, SYSTEM, books.a)
    assert (a.posted, a.pending, a.available) == (Decimal("600.00"), 0, Decimal("600.00"))
    assert ledger.get_balance(session, SYSTEM, books.margin).available == Decimal("400.00")
    hold_row = ledger.get_hold(session, books.teller, "h-1")
    assert (hold_row.state, hold_row.posted_amount) == ("posted", Decimal("400.00"))
    assert ledger.verify(session).ok


def test_partial_post_releases_the_rest(session, books):
    hold(session, books, "h-2", "400.00")
    ledger.post_hold(session, books.teller, hold_transfer_id="h-2", amount="150.25")
    session.commit()
    a = ledger.get_balance(session, SYSTEM, books.a)
    assert (a.posted, a.pending, a.available) == (Decimal("849.75"), 0, Decimal("849.75"))
    assert ledger.get_hold(session, SYSTEM, "h-2").posted_amount == Decimal("150.25")
    assert ledger.verify(session).ok


def test_void_releases_the_hold(session, books):
    hold(session, books, "h-3", "400.00")
    void = ledger.void_hold(session, books.teller, hold_transfer_id="h-3", reference="cancel")
    session.commit()
    assert (void.kind, void.amount) == ("void_pending", Decimal("400.00"))
    assert available(session, books.a) == Decimal("1000.00")
    assert ledger.get_balance(session, SYSTEM, books.margin).posted == 0
    assert ledger.get_hold(session, SYSTEM, "h-3").state == "voided"


def test_hold_resolves_exactly_once(session, books):
    hold(session, books, "h-4", "100.00")
    ledger.post_hold(session, books.teller, hold_transfer_id="h-4", amount="60.00")
    session.commit()
    before = snapshot(session)
    # the same post again is a replay, not a second posting
    assert ledger.post_hold(session, books.teller, hold_transfer_id="h-4", amount="60.00")
    with refused("transfer_id_reused"):
        ledger.post_hold(session, books.teller, hold_transfer_id="h-4", amount="40.00")
    with refused("hold_already_resolved", "business_rule"):
        ledger.post_hold(session, books.teller, hold_transfer_id="h-4", transfer_id="p2")
    with refused("hold_already_resolved"):
        ledger.void_hold(session, books.teller, hold_transfer_id="h-4")
    assert snapshot(session) == before


def test_hold_errors(session, books):
    before = snapshot(session)
    with refused("insufficient_funds"):
        hold(session, books, "h-big", "1000.01")
    with refused("hold_not_found", "not_found"):
        ledger.post_hold(session, books.teller, hold_transfer_id="nope")
    with refused("not_a_hold"):
        ledger.void_hold(session, books.teller, hold_transfer_id="fund-a")
    with refused("invalid_timeout"):
        hold(session, books, "h-t", "1.00", timeout_s=0)
    with refused("invalid_timeout"):
        hold(session, books, "h-t", "1.00", expires_at=NOW - timedelta(days=99999), now=NOW)
    assert snapshot(session) == before
    hold(session, books, "h-5", "100.00")
    session.commit()
    before = snapshot(session)
    with refused("amount_exceeds_hold", "business_rule"):
        ledger.post_hold(session, books.teller, hold_transfer_id="h-5", amount="100.01")
    with refused("invalid_amount"):
        ledger.post_hold(session, books.teller, hold_transfer_id="h-5", amount="0")
    with refused("currency_mismatch"):
        ledger.execute_batch(
            session, books.teller, [TransferSpec.post("h-5", "1.00", currency="USD")]
        )
    assert snapshot(session) == before
    # a hold larger than *available* (not posted) is refused: 900 is held already
    hold(session, books, "h-6", "800.00")
    with refused("insufficient_funds"):
        hold(session, books, "h-7", "100.01")
    with refused("insufficient_funds"):
        move(session, books, "t-after-hold", "100.01")


def test_holds_expire_once_at_their_deadline(session, session_factory, books):
    hold(session, books, "h-exp", "300.00", timeout_s=60, now=NOW)
    hold(session, books, "h-later", "100.00", expires_at=NOW + timedelta(hours=1), now=NOW)
    session.commit()
    assert ledger.expire_holds(session, SYSTEM, now=NOW + timedelta(seconds=59)) == 0
    with refused("hold_expired", "business_rule"):
        ledger.post_hold(
            session, books.teller, hold_transfer_id="h-exp", now=NOW + timedelta(seconds=60)
        )
    assert ledger.expire_holds(session, SYSTEM, now=NOW + timedelta(seconds=60)) == 1
    session.commit()
    assert ledger.expire_holds(session, SYSTEM, now=NOW + timedelta(seconds=61)) == 0
    assert available(session, books.a) == Decimal("900.00")
    assert ledger.get_hold(session, SYSTEM, "h-exp").state == "expired"
    with refused("hold_already_resolved"):
        ledger.void_hold(session, books.teller, hold_transfer_id="h-exp", now=NOW)
    expiry = ledger.get_transfer(session, SYSTEM, "h-exp~expire")
    assert (expiry.kind, expiry.amount, expiry.created_by) == (
        "expire_pending",
        Decimal("300.00"),
        "system",
    )
    # through the job registry, as the scheduler runs it
    session.commit()
    registry = job_registry(collect_areas())
    run = run_job(
        session_factory,
        "ledger.expire_holds",
        now=lambda: NOW + timedelta(hours=2),
        jobs=registry,
    )
    assert (run.outcome, run.result) == ("ok", {"expired": 1})
    session.expire_all()
    assert ledger.get_hold(session, SYSTEM, "h-later").state == "expired"
    assert available(session, books.a) == Decimal("1000.00")
    assert registry.get("ledger.expire_holds").every_s == 60
    assert ledger.verify(session).ok


# --------------------------------------------------------------------------- batches


def test_linked_batch_succeeds_together(session, books):
    result = ledger.execute_batch(
        session,
        books.teller,
        [
            TransferSpec.single("b-1", books.a, books.b, "100.00", "pay"),
            TransferSpec.hold("b-2", books.a, books.margin, "200.00", "freeze"),
            TransferSpec.single("b-3", books.b, books.a, "50.00", "refund"),
        ],
        batch_id="batch-1",
    )
    session.commit()
    assert result.replayed == [False, False, False] and result.created == 3
    assert [t.batch_id for t in result.transfers] == ["batch-1"] * 3
    assert available(session, books.a) == Decimal("750.00")
    record = session.scalar(select(AuditRecord).where(AuditRecord.action == "ledger.batch"))
    assert record.object_id == "batch-1" and record.after["transfer_ids"] == ["b-1", "b-2", "b-3"]
    assert record.after["amount_total"] == "350.00"
    again = ledger.execute_batch(
        session,
        books.teller,
        [
            TransferSpec.single("b-1", books.a, books.b, "100.00", "pay"),
            TransferSpec.hold("b-2", books.a, books.margin, "200.00", "freeze"),
            TransferSpec.single("b-3", books.b, books.a, "50.00", "refund"),
        ],
        batch_id="batch-1",
    )
    assert again.replayed == [True, True, True]
    assert [t.id for t in again.transfers] == [t.id for t in result.transfers]


def test_batch_whose_last_leg_fails_leaves_nothing(session, books):
    opened = ledger.open_account(session, SYSTEM, code="x:1", name="x", kind="internal")
    before = snapshot(session)
    with refused("insufficient_funds"):
        ledger.execute_batch(
            session,
            books.teller,
            [
                TransferSpec.single("c-1", books.a, books.b, "600.00", "pay"),
                TransferSpec.hold("c-2", books.b, books.margin, "100.00", "freeze"),
                TransferSpec.single("c-3", books.a, books.b, "400.01", "pay"),
            ],
        )
    session.commit()  # the caller's earlier work in the transaction survives the savepoint
    assert snapshot(session) == before
    assert ledger.get_account(session, SYSTEM, opened.id).code == "x:1"
    assert session.scalar(select(func.count()).where(Transfer.transfer_id.like("c-%"))) == 0


def test_crash_in_the_middle_of_a_batch_leaves_nothing(session, books):
    before = snapshot(session)
    engine = session.get_bind()

    def crash(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("UPDATE LEDGER_ACCOUNTS"):
            raise RuntimeError("power cut")

    event.listen(engine, "before_cursor_execute", crash)
    try:
        with pytest.raises(RuntimeError, match="power cut"):
            ledger.execute_batch(
                session,
                books.teller,
                [
                    TransferSpec.single("d-1", books.a, books.b, "1.00", "pay"),
                    TransferSpec.hold("d-2", books.a, books.margin, "2.00", "freeze"),
                ],
            )
    finally:
        event.remove(engine, "before_cursor_execute", crash)
    session.rollback()
    assert snapshot(session) == before
    assert ledger.verify(session).ok


def test_batch_legs_apply_in_order(session, books):
    empty = ledger.open_account(session, SYSTEM, code="e:1", name="e", kind="deposit")
    session.commit()
    with refused("insufficient_funds"):
        ledger.execute_batch(
            session,
            books.teller,
            [
                TransferSpec.single("o-1", empty.id, books.b, "5.00", "pay"),
                TransferSpec.single("o-2", books.a, empty.id, "5.00", "pay"),
            ],
        )
    ledger.execute_batch(
        session,
        books.teller,
        [
            TransferSpec.single("o-2", books.a, empty.id, "5.00", "pay"),
            TransferSpec.single("o-1", empty.id, books.b, "5.00", "pay"),
        ],
    )
    assert ledger.get_balance(session, SYSTEM, empty.id).posted == 0


def test_batch_validation(session, books):
    hold(session, books, "h-b", "10.00")
    with refused("transfer_id_duplicated_in_batch"):
        ledger.execute_batch(
            session,
            books.teller,
            [
                TransferSpec.single("dup", books.a, books.b, "1.00", "pay"),
                TransferSpec.single("dup", books.a, books.b, "1.00", "pay"),
            ],
        )
    with refused("hold_in_same_batch"):
        ledger.execute_batch(
            session,
            books.teller,
            [
                TransferSpec.hold("h-new", books.a, books.margin, "1.00", "freeze"),
                TransferSpec.post("h-new"),
            ],
        )
    with refused("hold_already_resolved"):
        ledger.execute_batch(
            session,
            books.teller,
            [TransferSpec.post("h-b", "1.00"), TransferSpec.void("h-b")],
        )
    with refused("batch_too_large"):
        ledger.execute_batch(
            session,
            books.teller,
            [TransferSpec.single(f"m-{i}", books.a, books.b, "0.01", "p") for i in range(1001)],
        )
    result = ledger.execute_batch(
        session,
        books.teller,
        [TransferSpec.post("h-b", "4.00"), TransferSpec.single("s-1", books.a, books.b, "1", "p")],
    )
    assert [t.kind for t in result.transfers] == ["post_pending", "single"]


# --------------------------------------------------------------------------- corrections


def test_journal_rows_are_immutable(session, books):
    t = ledger.get_transfer(session, SYSTEM, "fund-a")
    t.amount = Decimal("1.00")
    with pytest.raises(JournalImmutable):
        session.flush()
    session.rollback()
    t = ledger.get_transfer(session, SYSTEM, "fund-a")
    session.delete(t)
    with pytest.raises(JournalImmutable):
        session.flush()
    session.rollback()
    # the database refuses too, even when the ORM is bypassed
    for sql in (
        "UPDATE ledger_transfers SET amount = 1 WHERE transfer_id = 'fund-a'",
        "DELETE FROM ledger_transfers WHERE transfer_id = 'fund-a'",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(sql))
        session.rollback()
    hold(session, books, "h-imm", "5.00")
    ledger.void_hold(session, books.teller, hold_transfer_id="h-imm")
    session.commit()
    with pytest.raises(DBAPIError, match="resolve"):
        session.execute(update(Hold).values(state="posted"))
    session.rollback()
    assert ledger.verify(session).ok


def test_database_refuses_an_overdraft_that_bypasses_the_service(session, books):
    with pytest.raises(IntegrityError):
        session.execute(
            update(Account).where(Account.id == books.a).values(debits_posted=Decimal("1000.01"))
        )
    session.rollback()
    # exact money: 0.10 + 0.20 <= 0.30 holds (integer fen on SQLite, NUMERIC on PostgreSQL)
    tiny = ledger.open_account(session, SYSTEM, code="t:1", name="t", kind="deposit")
    move(session, books, "tiny-in", "0.30", debit=books.funding, credit=tiny.id)
    move(session, books, "tiny-1", "0.10", debit=tiny.id, credit=books.funding)
    hold(session, books, "tiny-2", "0.20", debit=tiny.id, credit=books.funding)
    session.commit()
    assert available(session, tiny.id) == 0


def test_reverse_transfer(session, books):
    move(session, books, "t-rev", "300.00")
    rev = ledger.reverse_transfer(session, books.teller, original_transfer_id="t-rev")
    session.commit()
    assert (rev.transfer_id, rev.code, rev.debit_account_id, rev.amount) == (
        "t-rev~reverse",
        "reversal",
        books.b,
        Decimal("300.00"),
    )
    assert available(session, books.a) == Decimal("1000.00")
    assert ledger.reverse_transfer(session, books.teller, original_transfer_id="t-rev").id == rev.id
    with refused("transfer_already_reversed"):
        ledger.reverse_transfer(
            session, books.teller, original_transfer_id="t-rev", transfer_id="rev-2"
        )
    hold(session, books, "h-rev", "1.00")
    with refused("transfer_not_reversible"):
        ledger.reverse_transfer(session, books.teller, original_transfer_id="h-rev")
    with refused("transfer_not_found", "not_found"):
        ledger.reverse_transfer(session, books.teller, original_transfer_id="nope")
    move(session, books, "t-spent", "500.00", debit=books.b, credit=books.funding)
    move(session, books, "t-rev2", "100.00", debit=books.a, credit=books.b)
    move(session, books, "t-spent2", "100.00", debit=books.b, credit=books.funding)
    with refused("insufficient_funds"):
        ledger.reverse_transfer(session, books.teller, original_transfer_id="t-rev2")
    session.commit()
    audit_actions = session.scalars(
        select(AuditRecord.action).where(AuditRecord.object_id == "t-rev~reverse")
    )
    assert list(audit_actions) == ["ledger.transfer_reversed"]
    assert ledger.verify(session).ok


# --------------------------------------------------------------------------- reading


def test_visibility_of_accounts_balances_and_transfers(session, books):
    page = ledger.list_accounts(session, books.dealer1)
    assert sorted(a.id for a in page.items) == sorted([books.a, books.margin])
    assert len(ledger.list_accounts(session, books.teller).items) == 4
    assert ledger.get_balance(session, books.dealer1, books.a).available == Decimal("1000.00")
    with refused("account_not_found", "not_found"):
        ledger.get_balance(session, books.dealer2, books.a)
    with refused("account_not_found"):
        ledger.get_balance(session, books.dealer1, books.funding)
    with refused("account_not_found"):
        ledger.statement(session, books.dealer2, books.a)
    move(session, books, "t-vis", "1.00")
    assert ledger.get_transfer(session, books.dealer2, "t-vis").amount == Decimal("1.00")
    with refused("transfer_not_found"):
        ledger.get_transfer(session, books.dealer2, "fund-a")


def test_statement_pages_with_a_cursor(session, books):
    for i in range(5):
        move(session, books, f"s-{i}", f"{i + 1}.00")
    hold(session, books, "s-h", "10.00")
    ledger.post_hold(session, books.teller, hold_transfer_id="s-h", amount="4.00")
    session.commit()
    lines, cursor = [], None
    while True:
        page = ledger.statement(session, books.dealer1, books.a, limit=3, cursor=cursor)
        lines += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [line.transfer.transfer_id for line in lines] == [
        "fund-a",
        *(f"s-{i}" for i in range(5)),
        "s-h",
        "s-h~post",
    ]
    assert lines[0].posted_change == Decimal("1000.00") and lines[0].side == "credit"
    assert (
        lines[1].posted_change == Decimal("-1.00") and lines[1].counterparty_account_id == books.b
    )
    assert (lines[6].posted_change, lines[6].pending_change) == (0, Decimal("10.00"))
    assert (lines[7].posted_change, lines[7].pending_change) == (Decimal("-4.00"), Decimal("-10"))
    total = sum(line.posted_change for line in lines)
    assert total == ledger.get_balance(session, SYSTEM, books.a).posted
    holds = ledger.list_holds(session, books.dealer1, books.a, state="posted")
    assert [h.transfer.transfer_id for h in holds.items] == ["s-h"]


# --------------------------------------------------------------------------- verify


def test_verify_reports_each_difference_and_the_cli_exits_non_zero(session, books, db_url):
    hold(session, books, "h-v", "10.00")
    session.commit()
    runner = CliRunner()
    ok = runner.invoke(ledger_cli, ["verify", "--database-url", db_url])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().endswith("ok")
    # tamper with a cached balance behind the service's back (still within the CHECKs)
    session.execute(
        update(Account)
        .where(Account.id == books.a)
        .values(credits_posted=Decimal("1000.05"), debits_pending=Decimal(0))
    )
    session.commit()
    report = ledger.verify(session)
    checks = {(d.check, d.expected, d.actual) for d in report.differences}
    assert ("account.credits_posted", "1000.00", "1000.05") in checks
    assert ("account.debits_pending", "10.00", "0.00") in checks
    assert any(d.check == "books.posted" for d in report.differences)
    assert any(d.check == "books.pending" for d in report.differences)
    session.rollback()  # SQLite: even a read holds the write lock until the transaction ends
    bad = runner.invoke(ledger_cli, ["verify", "--json", "--database-url", db_url])
    assert bad.exit_code == 1, bad.exception
    assert json.loads(bad.output)["ok"] is False


def test_a_lost_race_on_the_unique_keys_is_a_clean_error(session, books, monkeypatch):
    """If another transaction wins the same transfer_id between our check and our insert (only
    possible when the two touch other accounts), the unique key decides: 409, nothing kept."""
    move(session, books, "race-1", "1.00")
    session.commit()
    before = snapshot(session)
    monkeypatch.setattr(ledger.service.engine, "_existing", lambda _session, _ids: {})
    with refused("transfer_id_reused", "conflict"):
        move(session, books, "race-1", "2.00", debit=books.b, credit=books.margin)
    session.commit()
    assert snapshot(session) == before
    assert ledger.verify(session).ok
