"""The hall on both databases (SQLite and PostgreSQL): concurrent counters never call the same
ticket, ticket numbers never repeat, and a cash task's ledger booking balances; on PostgreSQL,
two simultaneous first vein enrolment requests give one 409."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.branch.models import HallCounter, ServiceLeg, Ticket, VeinEnrolment
from backend.branch.queue import service as queue
from backend.branch.veins import service as veins
from backend.platform.db import run_in_transaction
from backend.platform.errors import Conflict
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import actor, make_hall

B = "BR001"


def test_concurrent_counters_never_share_a_ticket(make_app, db_url):
    app = make_app(db_url)
    factory = app.extensions["finedge"].session_factory
    hall = make_hall()
    hall.clock = support.Clock(support.T0 + timedelta(days=400))

    def clear(s):
        s.query(HallCounter).update({"current_ticket_id": None, "status": "open"})
        s.query(ServiceLeg).delete()
        s.query(Ticket).delete()

    run_in_transaction(factory, clear)
    issued = []
    errors = []

    def issue(n):
        for _ in range(n):
            view = run_in_transaction(
                factory,
                lambda s: queue.issue_ticket(s, actor(s, "teller1"), hall, B, "cash"),
            )
            issued.append(view["ticket_no"])

    def work(counter):
        try:
            for _ in range(8):
                run_in_transaction(
                    factory,
                    lambda s: queue.call_next(s, actor(s, "teller2"), hall, B, counter),
                )
        except Exception as exc:  # reported below
            errors.append(exc)

    writers = [threading.Thread(target=issue, args=(6,)) for _ in range(2)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    callers = [threading.Thread(target=work, args=(c,)) for c in ("1", "2", "9")]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert errors == []
    assert len(issued) == len(set(issued)) == 12
    with factory() as s:
        legs = s.execute(select(ServiceLeg.ticket_id, func.count()).group_by(ServiceLeg.ticket_id))
        assert all(count == 1 for _tid, count in legs)
        assert s.scalar(select(func.count(ServiceLeg.id))) == 12
        assert s.scalar(select(func.count()).where(Ticket.status == "waiting")) == 0


def test_cash_booking_balances_on_both_databases(make_app, db_url):
    from backend.branch.cash import booking

    app = make_app(db_url)
    factory = app.extensions["finedge"].session_factory

    def book(s):
        booking.book_loading(
            s,
            4242,
            B,
            "BR001-ATM-02",
            {"100.00": Decimal("30000.00"), "20.00": Decimal("2000.00")},
            support.T0,
        )

    run_in_transaction(factory, book)
    run_in_transaction(factory, book)  # a replay books nothing more
    with factory() as s:
        assert booking.machine_balance(s, B, "BR001-ATM-02") == Decimal("32000.00")
        report = ledger.verify(s)
        assert not report.differences


def test_two_first_enrolment_requests_at_once_give_one_409(make_app, db_url):
    """Two tellers ask one lock to enrol one loader at the same moment: both find no row (there
    is nothing to lock yet) and both insert; the later insert waits on the unique (lock, loader)
    and, once the first commits, fails inside a SAVEPOINT: 409, not 500."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite takes the write lock at BEGIN: the race is simulated in test_veins")
    app = make_app(db_url)
    factory = app.extensions["finedge"].session_factory
    hall = make_hall()
    lock = "BR001-LCK-01"

    def prepare(s):
        support.ready_devices(s)
        veins.grant_consent(s, actor(s, "loader1"), now=support.T0)

    run_in_transaction(factory, prepare)
    outcome: dict[str, object] = {}

    def second():
        with factory() as s:
            try:
                loader = support.user_id(s, "loader1")
                veins.request_enrolment(s, actor(s, "teller2"), hall, lock, loader)
                s.commit()
                outcome["second"] = "202"
            except Conflict as exc:
                outcome["second"] = exc.code
            except Exception as exc:  # reported below
                outcome["second"] = repr(exc)

    with factory() as first:
        loader = support.user_id(first, "loader1")
        started = veins.request_enrolment(first, actor(first, "teller1"), hall, lock, loader)
        assert started["status"] == "capturing"  # inserted, not committed yet
        racer = threading.Thread(target=second)
        racer.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        waiting += "AND wait_event_type = 'Lock'"
        connection = first.connection()
        for _ in range(3000):  # until the second insert waits on the first one's row
            # pg_stat_activity is a snapshot per transaction unless cleared
            connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            if connection.exec_driver_sql(waiting).scalar() or not racer.is_alive():
                break
            time.sleep(0.01)
        assert racer.is_alive(), outcome
        first.commit()
    racer.join(60)
    assert outcome == {"second": "enrolment_in_progress"}
    with factory() as s:
        rows = s.scalars(select(VeinEnrolment)).all()
        assert [(r.username, r.status) for r in rows] == [("loader1", "capturing")]
    assert len(hall.send_command.named("lock.enroll")) == 1
