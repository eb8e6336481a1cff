"""The built-in robots (robots/*) doing their work on the demo seed: produce and process called
through backend/rpa/testing.py contexts with a real, wired session, on SQLite (a copy of one
seeded file) and on PostgreSQL (a copy of one seeded template)."""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.platform.config import Config
from backend.platform.context import SYSTEM
from backend.platform.db import make_engine
from backend.rpa.robot import BusinessFailure
from backend.rpa.testing import item_context, run_context
from tests.wiring import wired_factory


def seed_robots(url: str) -> None:
    """The demo seed on a migrated, empty database."""
    from backend.platform.db import session_scope
    from backend.seed import SeedOptions, seed

    engine = make_engine(url)
    with session_scope(wired_factory(engine)) as session:
        seed(session, Config.from_env(database_url=url), SeedOptions(progress=False))
    engine.dispose()


@pytest.fixture(scope="session")
def robots_seeded_db(sqlite_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("robots-seeded") / "seeded.db"
    shutil.copy(sqlite_template, path)
    seed_robots(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def robots_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "robots.db"
        shutil.copy(request.getfixturevalue("robots_seeded_db"), path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("pg_templates").clone(request, "robots", seed_robots)


@pytest.fixture
def world(robots_url):
    """(session factory, config) on this test's seeded database."""
    engine = make_engine(robots_url)
    yield wired_factory(engine), Config.from_env(database_url=robots_url)
    engine.dispose()


def produced(factory, config, robot, **kw) -> list[dict]:
    with factory() as session:
        ctx, _ = run_context(session, config, **kw)
        items = list(robot.produce(ctx))
        session.commit()
    return items


def run_item(factory, config, robot, payload, *, item_id=1, **kw):
    """One item in its own transaction, as a worker does: committed when it returns, rolled
    back when it raises. Returns (result, collected)."""
    with factory() as session:
        ctx, got = item_context(session, config, item_id=item_id, **kw)
        try:
            result = robot.process(ctx, payload)
        except BaseException:
            session.rollback()
            raise
        session.commit()
    return result, got


# --------------------------------------------------------------------- margin reconciliation


def _line(session, code="dealer1"):
    from backend.floorplan.models import CreditLine
    from backend.identity.models import Org

    org = session.scalar(select(Org).where(Org.code.ilike(f"%{code}%"), Org.kind == "dealer"))
    if org is None:
        org = session.scalar(select(Org).where(Org.kind == "dealer").order_by(Org.id))
    return session.scalar(select(CreditLine).where(CreditLine.dealer_org_id == org.id))


def _margin(session, line):
    from backend.floorplan.queries.dealers import dealer_summary

    s = dealer_summary(session, SYSTEM, line.dealer_org_id)
    return s.required_margin, s.frozen, s.free_margin, s.deposit_available


def _pending_car_hold(session, line):
    from backend.floorplan.models import Vehicle
    from backend.floorplan.rules import UNPAID

    return session.scalar(
        select(Vehicle)
        .where(
            Vehicle.dealer_org_id == line.dealer_org_id,
            Vehicle.status.in_(UNPAID),
            Vehicle.margin_held > 0,
        )
        .order_by(Vehicle.id)
    )


def test_margin_matched_on_the_seed_and_one_item_per_line(world):
    from backend.floorplan.models import CreditLine
    from robots.margin_reconciliation import ROBOT

    factory, config = world
    items = produced(factory, config, ROBOT)
    with factory() as s:
        assert len(items) == s.scalar(select(func.count()).select_from(CreditLine)) >= 2
    for n, payload in enumerate(items, start=1):
        result, _ = run_item(factory, config, ROBOT, payload, item_id=n)
        assert result["status"] == "matched", result
        assert Decimal(result["required"]) == Decimal(result["held"])


def test_margin_shortfall_frozen_once_across_retries_and_books_verify(world, monkeypatch):
    """A car's hold released by mistake (and the freed margin moved back to the deposit): the
    robot freezes the gap from the deposit. Attempts 1 and 2 fail right after the ledger call
    (rolled back); attempt 3 moves the money; a 4th run of the same item (as after a crash
    between the commit and DONE) moves nothing more."""
    from robots import margin_reconciliation as robot_module
    from robots.margin_reconciliation import ROBOT

    factory, config = world
    with factory() as s:
        line = _line(s)
        car = _pending_car_hold(s, line)
        gap = car.margin_held
        ledger.void_hold(s, SYSTEM, hold_transfer_id=f"fp:m:{car.vin}")
        ledger.transfer(
            s,
            SYSTEM,
            transfer_id="test:margin-back",
            debit_account_id=line.margin_account_id,
            credit_account_id=line.deposit_account_id,
            amount=ledger.balance_of(
                ledger.get_account(s, SYSTEM, line.margin_account_id)
            ).available,
            code="fp_margin_withdrawal",
        )
        s.commit()
        payload = {"credit_line_id": line.id, "dealer_org_id": line.dealer_org_id}
        required, held, free, deposit_before = _margin(s, line)
        assert required - held == gap and free == 0

    real = ledger.execute_batch
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        out = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ConnectionError("the worker lost its database after the ledger call")
        return out

    monkeypatch.setattr(robot_module.ledger, "execute_batch", flaky)
    for attempt in (1, 2):
        with pytest.raises(ConnectionError):
            run_item(factory, config, ROBOT, payload, item_id=77, attempt=attempt)
    result, _ = run_item(factory, config, ROBOT, payload, item_id=77, attempt=3)
    assert result["status"] == "shortfall_frozen"
    assert Decimal(result["frozen"]) == gap == Decimal(result["topped_up"])
    again, _ = run_item(factory, config, ROBOT, payload, item_id=77, attempt=4)
    assert again["status"] == "already_applied"
    assert calls["n"] == 3
    with factory() as s:
        line = _line(s)
        required, held, _, deposit_after = _margin(s, line)
        assert required == held
        assert deposit_before - deposit_after == gap  # moved once, not three times
        assert ledger.verify(s).ok
    # the next day's run of the same line (a new item) finds it matched
    result, _ = run_item(factory, config, ROBOT, payload, item_id=78)
    assert result["status"] == "matched"


def test_margin_uncovered_shortfall_and_excess_go_to_review(world):
    from backend.floorplan.models import Vehicle
    from robots.margin_reconciliation import ROBOT

    factory, config = world
    with factory() as s:
        line = _line(s)
        payload = {"credit_line_id": line.id, "dealer_org_id": line.dealer_org_id}
        car = _pending_car_hold(s, line)
        s.get(Vehicle, car.id).margin_held += Decimal("999999999.00")  # rules ask far more
        s.commit()
    with pytest.raises(BusinessFailure) as raised:
        run_item(factory, config, ROBOT, payload, item_id=5)
    assert raised.value.code == "difference"
    assert raised.value.details["kind"] == "uncovered_shortfall"
    with factory() as s:
        s.get(Vehicle, car.id).margin_held -= Decimal("999999999.00")
        line = _line(s)
        ledger.hold(  # a hold nobody's rule explains
            s,
            SYSTEM,
            transfer_id="test:stray-hold",
            debit_account_id=line.margin_account_id,
            credit_account_id=line.deposit_account_id,
            amount=Decimal("0.01"),
            code="fp_margin_reconcile",
        )
        s.commit()
    with pytest.raises(BusinessFailure) as raised:
        run_item(factory, config, ROBOT, payload, item_id=6)
    assert raised.value.details["kind"] == "excess"
    assert raised.value.details["amount"] == "0.01"


# --------------------------------------------------------------------------- bill reminders


def test_bill_reminders_once_per_bill_and_milestone(robots_url):
    from datetime import UTC, datetime, time, timedelta

    from backend.assetpool.models import PoolBill
    from backend.floorplan.models import Bill
    from backend.floorplan.rules import OPEN_BILL
    from backend.identity.models import User
    from backend.platform.notifier import FakeNotifier, InboxNotifier, Notifier
    from robots.bill_reminders import ROBOT

    fake = FakeNotifier()
    engine = make_engine(robots_url)
    factory = wired_factory(engine, ports={Notifier: InboxNotifier(fake)})
    config = Config.from_env(database_url=robots_url)
    try:
        with factory() as s:
            bill = s.scalar(
                select(Bill).where(Bill.status.in_(OPEN_BILL)).order_by(Bill.maturity_date)
            )
            maturity, bill_id = bill.maturity_date, bill.id
        five_before = datetime.combine(maturity - timedelta(days=5), time(1), tzinfo=UTC)
        items = produced(factory, config, ROBOT, now=five_before)
        mine = [i for i in items if i["kind"] == "floorplan" and i["bill_id"] == bill_id]
        assert mine == [{"kind": "floorplan", "bill_id": bill_id, "milestone": "d7"}]
        assert all(i["milestone"] in ("d7", "d3", "d1", "overdue") for i in items)
        recipients = 0
        for n, payload in enumerate(items, start=1):
            result, _ = run_item(factory, config, ROBOT, payload, item_id=n, now=five_before)
            assert result["status"] == "sent", result
            recipients += result["recipients"]
        assert len(fake.sent) == recipients >= len(items)
        sent = [m for m in fake.sent if m["meta"]["bill_no"] == bill.bill_no]
        assert sent and "in 5 days" in sent[0]["body"] and sent[0]["channel"] == "miniapp"
        # a second run the same day sends nothing new, and a replayed item neither
        assert produced(factory, config, ROBOT, now=five_before) == []
        again, _ = run_item(factory, config, ROBOT, mine[0], item_id=99, now=five_before)
        assert again == {"status": "already_sent"} and len(fake.sent) == recipients
        # two days later the bill reaches its next milestone; after maturity, overdue
        later = produced(factory, config, ROBOT, now=five_before + timedelta(days=3))
        assert {"kind": "floorplan", "bill_id": bill_id, "milestone": "d3"} in later
        after = produced(factory, config, ROBOT, now=five_before + timedelta(days=6))
        assert {"kind": "floorplan", "bill_id": bill_id, "milestone": "overdue"} in after
        # an asset-pool bill two days before its maturity: d3, to the enterprise's users
        with factory() as s:
            pool_bill = s.scalar(
                select(PoolBill).where(PoolBill.status == "outstanding").order_by(PoolBill.id)
            )
            pool_users = s.scalar(
                select(func.count()).where(User.org_id == pool_bill.org_id, User.active.is_(True))
            )
        two_before = datetime.combine(
            pool_bill.maturity_date - timedelta(days=2), time(1), tzinfo=UTC
        )
        wanted = {"kind": "assetpool", "bill_id": pool_bill.id, "milestone": "d3"}
        assert wanted in produced(factory, config, ROBOT, now=two_before)
        result, _ = run_item(factory, config, ROBOT, wanted, item_id=200, now=two_before)
        assert result == {"status": "sent", "bill_no": pool_bill.bill_no, "recipients": pool_users}
        assert "in 2 days" in fake.sent[-1]["body"]
    finally:
        engine.dispose()


# --------------------------------------------------------------------- collateral revaluation


def test_collateral_revaluation_in_chunks_resumable_with_ltv_breaches(world):
    from backend.collateral.models import CreditLink, Property, RevaluationRun, Valuation
    from backend.identity.models import Org
    from robots.collateral_revaluation import ROBOT

    factory, config = world
    with factory() as s:
        active = s.scalar(select(func.count()).where(Property.status == "active"))
        link = s.scalar(
            select(CreditLink)
            .join(Org, Org.id == CreditLink.borrower_org_id)
            .where(CreditLink.status == "active", Org.kind != "retail")
            .order_by(CreditLink.id)
        )
        if link is not None:  # a borrower suddenly owing far more than its property is worth
            link.outstanding = Decimal("9999999999.00")
            link.ltv_level = "ok"
        odd = s.scalar(
            select(Property).where(Property.status == "active").order_by(Property.id.desc())
        )
        odd.city = "Atlantis"  # a city the champion does not cover: refused by the valuer
        odd_id = odd.id
        s.commit()
    items = produced(factory, config, ROBOT, params={"chunk": 15, "run_key": "rpa-test"})
    assert [len(i["property_ids"]) for i in items] == [15] * (active // 15) + (
        [active % 15] if active % 15 else []
    )
    results = [
        run_item(factory, config, ROBOT, payload, item_id=n)[0]
        for n, payload in enumerate(items, start=1)
    ]
    assert sum(r["valued"] for r in results) == active - 1
    assert [f for r in results for f in r["failed"]] == [odd_id]
    assert [r["run_finished"] for r in results] == [False] * (len(items) - 1) + [True]
    if link is not None:
        assert sum(r["ltv_breaches_raised"] for r in results) >= 1
    again, _ = run_item(factory, config, ROBOT, items[0], item_id=99)  # a retried chunk
    assert again["valued"] == 0 and again["skipped"] == 15
    with factory() as s:
        run = s.scalar(select(RevaluationRun).where(RevaluationRun.run_key == "rpa-test"))
        assert run.status == "done" and run.done == active - 1
        assert [f["property_id"] for f in run.summary["failed"]] == [odd_id]
        assert s.scalar(select(func.count()).where(Valuation.run_id == run.id)) == run.done
    assert produced(factory, config, ROBOT, params={"run_key": "rpa-test"}) == []


# ------------------------------------------------------------------------------ risk refresh


def test_risk_refresh_evaluates_every_enterprise_in_chunks(world):
    from backend.risk.intake.ingest import ingest_records
    from backend.risk.models import Enterprise, RiskSignal
    from robots.risk_refresh import ROBOT
    from tests.integration.test_risk_support import code, event

    factory, config = world
    with factory() as s:  # court records loaded by a feed, not yet evaluated
        records = [event(f"c-{i}", code(i), "enforcement", 10) for i in range(5)]
        records.append(event("c-9", code(9), "dishonest_debtor", 5))
        loaded = ingest_records(s, SYSTEM, "court", records, create_unknown=True, evaluate=False)
        assert loaded.enterprises_created == 6
        s.commit()
        total = s.scalar(select(func.count()).select_from(Enterprise))
        signals_before = s.scalar(select(func.count()).select_from(RiskSignal))
    items = produced(factory, config, ROBOT, params={"chunk": 4})
    ids = [i for item in items for i in item["enterprise_ids"]]
    assert len(ids) == len(set(ids)) == total >= 6
    assert all(len(i["enterprise_ids"]) <= 4 for i in items)
    results = [
        run_item(factory, config, ROBOT, payload, item_id=n)[0]
        for n, payload in enumerate(items, start=1)
    ]
    assert sum(r["enterprises"] for r in results) == total
    assert all(r["missing"] == 0 for r in results)
    with factory() as s:
        raised = s.scalar(select(func.count()).select_from(RiskSignal)) - signals_before
    assert raised >= 6  # every enforcement and the dishonest debtor
    assert sum(r["raised"] for r in results) == raised
    assert sum(len(r["new_signals"]) for r in results) == raised
    # a second pass right after finds nothing new to raise
    again = [run_item(factory, config, ROBOT, p, item_id=100 + n)[0] for n, p in enumerate(items)]
    assert sum(r["raised"] for r in again) == 0


# ------------------------------------------------------------------- clearing reconciliation


def test_clearing_reconciliation_per_trader(world):
    from datetime import timedelta

    from backend.clearing import service as clearing
    from backend.clearing.models import ClearingHouse, Reconciliation, TraderAccount
    from backend.clearing.service.reconcile import day_counts
    from backend.clearing.service.setup import balance_of
    from backend.clearing.sim import reconciliation_csv
    from backend.rpa.robot import ApplicationFailure
    from robots.clearing_reconciliation import ROBOT

    factory, config = world
    with factory() as s:
        seeded = s.scalar(select(Reconciliation).order_by(Reconciliation.id))
        day, house_id = seeded.business_date, seeded.clearing_house_id
        traders = set(s.scalars(select(TraderAccount.trader_org_id)))
    params = {"business_date": day.isoformat()}
    items = produced(factory, config, ROBOT, params=params)
    assert {i["trader_org_id"] for i in items} == traders and len(items) == len(traders)
    for n, payload in enumerate(items, start=1):
        result, _ = run_item(factory, config, ROBOT, payload, item_id=n, params=params)
        assert result["status"] == "matched" and result["accounts"], result
    # the next file for the day disagrees on one trader's balance
    with factory() as s:
        house = s.get(ClearingHouse, house_id)
        counts = day_counts(s, house_id, day)
        expected = {}
        for account in s.scalars(select(TraderAccount).order_by(TraderAccount.id)):
            posted, held, _ = balance_of(s, account)
            expected[account.account_no] = (posted, held, counts.get(account.id, 0))
        first = s.scalar(select(TraderAccount).order_by(TraderAccount.id))
        posted, held, count = expected[first.account_no]
        expected[first.account_no] = (posted + Decimal("12.34"), held, count)
        clearing.reconcile(
            s, SYSTEM, house, reconciliation_csv(expected), business_date=day, source="file"
        )
        s.commit()
        odd_trader = first.trader_org_id
    outcomes = {}
    for n, payload in enumerate(produced(factory, config, ROBOT, params=params), start=10):
        try:
            outcomes[payload["trader_org_id"]] = run_item(
                factory, config, ROBOT, payload, item_id=n
            )[0]["status"]
        except BusinessFailure as failure:
            assert failure.code == "difference"
            (diff,) = failure.details["differences"]
            assert (diff["account_no"], diff["field"], diff["amount"]) == (
                first.account_no,
                "balance",
                "12.34",
            )
            outcomes[payload["trader_org_id"]] = "difference"
    assert outcomes.pop(odd_trader) == "difference"
    assert set(outcomes.values()) == {"matched"}
    # no file yet for the next day: an application failure, retried later
    nextday = {"business_date": (day + timedelta(days=1)).isoformat()}
    payload = produced(factory, config, ROBOT, params=nextday)[0]
    with pytest.raises(ApplicationFailure) as raised:
        run_item(factory, config, ROBOT, payload, item_id=50)
    assert raised.value.code == "file_missing"


# ------------------------------------------------------------------------ regulatory export


def test_regulatory_export_xlsx_reads_back_with_the_database_totals(world):
    import io
    from datetime import UTC, date, datetime

    from openpyxl import load_workbook

    from backend.factoring.models import Agreement, Payable
    from backend.floorplan.models import CreditLine
    from robots.regulatory_export import ROBOT, XLSX

    factory, config = world
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    (payload,) = produced(factory, config, ROBOT, now=now)
    assert payload == {"period": "2026-11"}
    result, got = run_item(factory, config, ROBOT, payload, now=now)
    ((name, data, ctype),) = got.artefacts
    assert (name, ctype) == ("regulatory-exposures-2026-11.xlsx", XLSX)
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Header", "Floor-plan", "Factoring"]
    header = {row[0]: row[1] for row in book["Header"].iter_rows(values_only=True)}
    assert header["Period"] == "2026-11" and header["Bank"]
    assert header["Generated at (UTC)"] == datetime(2026, 12, 1, 2, 0)

    def money(value) -> Decimal:
        return Decimal(str(value)).quantize(Decimal("0.01"))

    fp = list(book["Floor-plan"].iter_rows(min_row=2, values_only=True))
    fct = list(book["Factoring"].iter_rows(min_row=2, values_only=True))
    with factory() as s:
        lines = s.scalars(select(CreditLine)).all()
        agreements = s.scalars(select(Agreement)).all()
        overdue = s.scalar(select(func.sum(Payable.amount)).where(Payable.status == "OVERDUE"))
    assert header["Floor-plan rows"] == len(fp) == len(lines) > 0
    assert header["Factoring rows"] == len(fct) == len(agreements) > 0
    exposure = sum((ln.used_amount + ln.rbr_used for ln in lines), Decimal("0.00"))
    assert money(sum(r[5] for r in fp)) == exposure == money(header["Floorplan exposure"])
    assert money(sum(r[4] for r in fp)) == sum(ln.limit_amount for ln in lines)
    factored = sum((a.financed_outstanding for a in agreements), Decimal("0.00"))
    assert money(sum(r[6] for r in fct)) == factored == money(header["Factoring exposure"])
    assert money(sum(r[7] for r in fct)) == money(overdue or 0)
    assert result["totals"]["factoring_exposure"] == str(factored)
    # typed cells: numbers with a money format, dates as dates
    cell = book["Floor-plan"]["F2"]
    assert isinstance(cell.value, int | float) and cell.number_format == "#,##0.00"
    assert isinstance(book["Factoring"]["E2"].value, datetime | date)
    assert book["Factoring"]["E2"].number_format == "yyyy-mm-dd"


def test_regulatory_export_reports_an_over_limit_line_and_refuses_a_broken_book(world):
    import io

    from openpyxl import load_workbook

    from backend.floorplan.models import CreditLine
    from robots.regulatory_export import ROBOT

    factory, config = world
    with factory() as s:  # the limit lowered below what is drawn
        line = s.scalar(
            select(CreditLine).where(CreditLine.used_amount > 0).order_by(CreditLine.id)
        )
        line.limit_amount = line.used_amount - Decimal("100.00") - line.rbr_limit + line.rbr_used
        s.commit()
    result, got = run_item(factory, config, ROBOT, {"period": "2026-11"})
    assert result["totals"]["over_limit"] == "100.00"
    sheet = load_workbook(io.BytesIO(got.artefacts[0][1]))["Floor-plan"]
    over = [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[2] == line.id]
    assert Decimal(str(over[0][10])) == Decimal("100")
    with factory() as s:
        s.get(CreditLine, line.id).limit_amount = Decimal("-1.00")
        s.commit()
    with pytest.raises(BusinessFailure) as raised:
        run_item(factory, config, ROBOT, {"period": "2026-11"})
    assert raised.value.code == "difference"


# ------------------------------------------------------------ through the factory, end to end


def test_the_built_in_robots_deploy_and_run_through_the_factory(make_app, db_url):
    """Each robot deployed by its entry point (the registry checks its manifest), a run started
    by hand and drained by the factory's own executor: every produced item DONE, on both
    databases (the XLSX artefact is kept in the item's own transaction, which on SQLite holds
    the write lock)."""
    from backend.platform.db import session_scope
    from backend.rpa import registry, service
    from backend.rpa.drain import drain
    from backend.rpa.models import Artefact, Run, WorkItem

    app = make_app(db_url, rpa_backoff_s=0.01, rpa_lease_s=5.0, rpa_heartbeat_s=0.5)
    runtime = app.extensions["finedge"].runtime
    params = {
        "margin_reconciliation": {},
        "bill_reminders": {},
        "collateral_revaluation": {"chunk": 25},
        "risk_refresh": {},
        "clearing_reconciliation": {},
        "regulatory_export": {"period": "2026-11"},
    }
    with session_scope(runtime.session_factory) as s:
        for name in params:
            registry.deploy(s, SYSTEM, f"robots.{name}:ROBOT")
    runs = {}
    with session_scope(runtime.session_factory) as s:
        for name, p in params.items():
            run = service.start_run(s, SYSTEM, name, params=p)
            s.flush()
            runs[name] = run.id
    drain(runtime.session_factory, runtime.config, timeout_s=60)
    with runtime.session_factory() as s:
        for name, run_id in runs.items():
            run = s.get(Run, run_id)
            items = s.scalars(select(WorkItem).where(WorkItem.run_id == run_id)).all()
            assert run.status == "done", (
                name,
                run.status,
                run.error,
                [(i.state, i.failure_kind, i.failure_code, i.failure_message) for i in items],
            )
            assert {i.state for i in items} <= {"DONE"}, name
        margin = runs["margin_reconciliation"]
        assert s.scalar(select(Run.items_done).where(Run.id == margin)) >= 2
        assert s.scalar(select(Run.items_done).where(Run.id == runs["clearing_reconciliation"]))
        assert s.scalar(select(Run.items_done).where(Run.id == runs["collateral_revaluation"])) >= 2
        if "regulatory_export" in runs:
            (xlsx,) = s.scalars(
                select(Artefact).where(Artefact.run_id == runs["regulatory_export"])
            )
            assert xlsx.name == "regulatory-exposures-2026-11.xlsx" and xlsx.size > 0
