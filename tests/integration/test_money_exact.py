"""Money is exact on every database (issue 13, item 3): integer fen on SQLite, NUMERIC on
PostgreSQL; balances are bounded; a float never reaches a money column; the migration that
converts an old SQLite database keeps every fen."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import StatementError

from backend import ledger
from backend.ledger import TransferSpec, rules
from backend.ledger.models import Account, Transfer
from backend.platform import migrate
from backend.platform.context import SYSTEM
from backend.platform.db import MoneyType, make_engine
from tests.ledger_support import make_books, refused, snapshot

MAX = rules.MAX_AMOUNT  # 9,999,999,999,999.99


@pytest.fixture
def books(session):
    return make_books(session)


def _big_move(session, books, tid, debit, credit):
    return ledger.transfer(
        session,
        books.teller,
        transfer_id=tid,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=MAX,
        code="big",
    )


def test_110_and_1000_maximal_transfers_verify_exactly(session, books):
    big = ledger.open_account(session, SYSTEM, code="big:1", name="big", kind="internal")
    other = ledger.open_account(session, SYSTEM, code="fund:2", name="f2", kind="internal")
    for i in range(110):
        _big_move(session, books, f"big-{i}", books.funding, big.id)
    session.commit()
    report = ledger.verify(session)
    assert report.ok, report.differences
    assert ledger.get_balance(session, SYSTEM, big.id).posted == MAX * 110
    assert report.posted_total == MAX * 110 + Decimal("1500.00")
    # SQL aggregates over money come back as exact Decimals
    total = session.scalar(select(func.sum(Transfer.amount)).where(Transfer.code == "big"))
    assert total == Decimal("1099999999999998.90") == MAX * 110
    stored = session.scalar(select(Account.credits_posted).where(Account.id == big.id))
    assert stored == MAX * 110

    # and on to 1,000 of them, in batches: still exact
    for start in range(110, 1000, 178):
        specs = [
            TransferSpec.single(f"big-{i}", (books.funding, other.id)[i % 2], big.id, MAX, "big")
            for i in range(start, min(start + 178, 1000))
        ]
        ledger.execute_batch(session, books.teller, specs, batch_id=f"bb-{start}")
    session.commit()
    report = ledger.verify(session)
    assert report.ok, report.differences
    assert ledger.get_balance(session, SYSTEM, big.id).posted == MAX * 1000
    assert session.scalar(
        select(func.sum(Transfer.amount)).where(Transfer.code == "big")
    ) == Decimal("9999999999999990.00")


def test_a_balance_above_the_bound_is_refused_and_changes_nothing(session, books):
    big = ledger.open_account(session, SYSTEM, code="big:2", name="big", kind="internal")
    other = ledger.open_account(session, SYSTEM, code="fund:2", name="f2", kind="internal")
    for start in range(0, 1000, 250):
        specs = [
            TransferSpec.single(f"fill-{i}", (books.funding, other.id)[i % 2], big.id, MAX, "big")
            for i in range(start, start + 250)
        ]
        ledger.execute_batch(session, books.teller, specs, batch_id=f"fill-{start}")
    session.commit()
    before = snapshot(session)
    with refused("balance_limit_exceeded", "business_rule") as info:
        _big_move(session, books, "one-too-many", books.funding, big.id)
    assert info.value.details == {
        "account_id": big.id,
        "figure": "credit_balance",
        "limit": str(rules.MAX_BALANCE),
    }
    with refused("balance_limit_exceeded"):  # a hold raises the balance with pending too
        ledger.hold(
            session,
            books.teller,
            transfer_id="hold-too-many",
            debit_account_id=books.funding,
            credit_account_id=big.id,
            amount=MAX,
            code="big",
        )
    session.rollback()
    assert snapshot(session) == before
    # money going out of the full account is never refused by the bound
    _big_move(session, books, "out-again", big.id, books.funding)
    session.commit()
    assert ledger.verify(session).ok


def test_a_float_written_to_a_money_column_raises(session, books):
    for dialect in ("sqlite", "postgresql"):
        fake = type("D", (), {"name": dialect})()
        with pytest.raises(TypeError, match="money must be Decimal"):
            MoneyType().process_bind_param(0.1, fake)
        assert MoneyType().process_bind_param(Decimal("0.10"), fake) == (
            10 if dialect == "sqlite" else Decimal("0.10")
        )
    before = snapshot(session)
    row = {
        "transfer_id": "float-1",
        "kind": "single",
        "debit_account_id": books.funding,
        "credit_account_id": books.a,
        "amount": 0.1,
        "currency": "CNY",
        "code": "float",
        "created_at": ledger.get_account(session, SYSTEM, books.a).created_at,
        "created_by": "test",
    }
    with pytest.raises(StatementError) as info:
        session.execute(insert(Transfer), row)
    assert isinstance(info.value.orig, TypeError)
    session.rollback()
    assert snapshot(session) == before


def test_money_beyond_a_64_bit_fen_raises():
    fake = type("D", (), {"name": "sqlite"})()
    assert MoneyType().process_bind_param(rules.MAX_TOTAL, fake) == 9 * 10**18
    with pytest.raises(ValueError, match="beyond the range"):
        MoneyType().process_bind_param(Decimal("92233720368547758.08"), fake)


def test_sqlite_money_is_stored_in_integer_fen(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        from sqlalchemy.orm import Session

        with Session(engine) as session:
            books = make_books(session)
        path = sqlite_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as raw:
            rows = raw.execute(
                "SELECT typeof(credits_posted), credits_posted FROM ledger_accounts WHERE id = ?",
                (books.a,),
            ).fetchall()
            declared = {r[1]: r[2] for r in raw.execute("PRAGMA table_info(ledger_transfers)")}
        assert rows == [("integer", 100000)]
        assert declared["amount"] == "INTEGER"
    finally:
        engine.dispose()


def test_upgrading_an_old_sqlite_database_converts_real_money_to_fen(tmp_path, monkeypatch):
    """A database written before 0012_money_exact: NUMERIC(20, 2) columns holding REAL (and
    TEXT, INTEGER) yuan. After the upgrade every value is integer fen and the books verify."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    from sqlalchemy import Numeric

    # the schema as the old MoneyType made it: NUMERIC(20, 2) on SQLite
    monkeypatch.setattr(
        MoneyType,
        "load_dialect_impl",
        lambda self, dialect: dialect.type_descriptor(Numeric(20, 2)),
    )
    migrate.upgrade(url, "0011_hub_leases")
    monkeypatch.undo()
    with sqlite3.connect(path) as raw:
        declared = {r[1]: r[2] for r in raw.execute("PRAGMA table_info(ledger_accounts)")}
        assert declared["credits_posted"] == "NUMERIC(20, 2)"
        raw.executemany(
            "INSERT INTO ledger_accounts (id, code, name, owner_org_id, kind, currency,"
            " debits_must_not_exceed_credits, credits_must_not_exceed_debits, status,"
            " debits_posted, credits_posted, debits_pending, credits_pending, version,"
            " created_at) VALUES (?, ?, 'x', NULL, ?, 'CNY', ?, 0, 'open', ?, ?, ?, ?, 1,"
            " '2030-01-01 00:00:00')",
            [  # text as the old code bound it; NUMERIC affinity made REAL of most of it
                (1, "fund", "internal", 0, "1099999999999998.90", "0.10", "0", "0.20"),
                (2, "dep", "deposit", 1, "0.10", "1099999999999998.90", "0.20", "0"),
            ],
        )
        raw.executemany(
            "INSERT INTO ledger_transfers (id, transfer_id, kind, debit_account_id,"
            " credit_account_id, amount, currency, code, created_at, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?, 'CNY', 'c', '2030-01-01 00:00:00', 'x')",
            [
                (1, "t1", "single", 1, 2, "1099999999999998.90"),
                (2, "t2", "single", 2, 1, 0.1),
                (3, "t3", "pending", 2, 1, "0.20"),
            ],
        )
        raw.execute(
            "INSERT INTO ledger_holds (id, debit_account_id, credit_account_id, amount, state,"
            " created_at) VALUES (3, 2, 1, 0.2, 'pending', '2030-01-01 00:00:00')"
        )
        types = raw.execute("SELECT typeof(amount) FROM ledger_transfers ORDER BY id").fetchall()
        assert ("real",) in types  # the old storage: REAL
    migrate.upgrade(url)
    with sqlite3.connect(path) as raw:
        declared = {r[1]: r[2] for r in raw.execute("PRAGMA table_info(ledger_transfers)")}
        assert declared["amount"] == "INTEGER"
        assert raw.execute(
            "SELECT typeof(amount), amount FROM ledger_transfers ORDER BY id"
        ).fetchall() == [
            ("integer", 109999999999999890),
            ("integer", 10),
            ("integer", 20),
        ]
        triggers = {
            r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
        assert "ledger_transfers_no_update" in triggers
    engine = make_engine(url)
    try:
        from sqlalchemy.orm import Session

        with Session(engine) as session:
            report = ledger.verify(session)
            assert report.ok, report.differences
            assert report.posted_total == Decimal("1099999999999999.00")
            assert report.pending_total == Decimal("0.20")
            balance = ledger.get_balance(session, SYSTEM, 2)
            assert balance.posted == Decimal("1099999999999998.80")
    finally:
        engine.dispose()


def test_running_totals_are_bounded_and_lowering_a_figure_is_never_refused():
    near = rules.MAX_TOTAL - Decimal("1.00")
    # an account that has turned over almost MAX_TOTAL with a small balance
    b = rules.Balances(1, "CNY", "open", near, near, Decimal(0), Decimal(0))
    other = rules.Balances(2, "CNY", "open", Decimal(0), Decimal(0), Decimal(0), Decimal(0))
    with refused("balance_limit_exceeded") as info:
        rules.apply_single(b, other, Decimal("2.00"), "CNY")
    assert info.value.details["figure"] == "debits_total"
    assert b.totals() == (near, near, 0, 0)  # unchanged
    rules.apply_single(b, other, Decimal("1.00"), "CNY")  # up to the bound: allowed
    # above the balance bound already (e.g. data from before the bound): money out is allowed
    full = rules.Balances(3, "CNY", "open", Decimal(0), rules.MAX_BALANCE + 1, Decimal(0), 0)
    rules.apply_single(full, other, Decimal("5.00"), "CNY")
    with refused("balance_limit_exceeded"):
        rules.apply_single(other, full, Decimal("10.00"), "CNY")
