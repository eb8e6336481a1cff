"""Marketing events in the database, on SQLite and PostgreSQL: the feed detector over several
runs and chunk sizes stores exactly the reference pass's events, once; the sweeps (maturities,
loans closed early, dormancy) and VIP arrivals from the hall; two detectors at once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from backend.branch.models import FaceConsent, FaceSighting
from backend.identity.models import Org, User
from backend.marketing import synth
from backend.marketing.events import detect, service
from backend.marketing.events.policy import POLICY
from backend.marketing.load import load_clients, load_transactions
from backend.marketing.models import Client, Cursor, Holding, MarketingEvent, Transaction

DAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 4, 8, 0, tzinfo=UTC)


def _base(session, n=120, n_txn=2500):
    frame = synth.clients(n, seed=21)
    ids = load_clients(session, frame, as_of=DAY)
    feed = synth.transactions(frame, n_txn, day=DAY, seed=21)
    load_transactions(session, feed, ids)
    session.commit()
    return frame, ids


def _db_feed(session) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rows = session.execute(
        select(
            Transaction.client_id,
            Transaction.at,
            Transaction.amount,
            Transaction.kind,
            Transaction.ref,
        ).order_by(Transaction.id)
    ).all()
    feed = pd.DataFrame(
        {
            "client_id": [r[0] for r in rows],
            "at": pd.to_datetime([r[1].replace(tzinfo=None) for r in rows]),
            "amount_fen": [int(r[2] * 100) for r in rows],
            "kind": [r[3] for r in rows],
            "ref": [r[4] for r in rows],
        }
    )
    clients = session.execute(select(Client.id, Client.tier, Client.dormant)).all()
    tiers = pd.Series({c: t for c, t, _ in clients})
    last = pd.Series({c: (detect.DORMANT if d else detect.NONE) for c, _, d in clients})
    return feed, tiers, last.astype(np.int64)


def _stored(session, kinds=None):
    stmt = select(
        MarketingEvent.client_id,
        MarketingEvent.kind,
        MarketingEvent.window_key,
        MarketingEvent.amount,
        MarketingEvent.ref,
    )
    if kinds:
        stmt = stmt.where(MarketingEvent.kind.in_(kinds))
    return {(c, k, w, a, r) for c, k, w, a, r in session.execute(stmt)}


def _expected(events: pd.DataFrame):
    return {
        (
            int(e.client_id),
            e.kind,
            e.window_key,
            None if pd.isna(e.amount_fen) else Decimal(int(e.amount_fen)) / 100,
            e.ref,
        )
        for e in events.itertuples(index=False)
    }


@pytest.mark.parametrize("chunk", [1, 37, 5000])
def test_feed_runs_store_the_reference_events_once(session, chunk):
    _base(session, n_txn=400 if chunk == 1 else 2500)  # one row a chunk: a query each
    feed, tiers, last = _db_feed(session)
    expected = _expected(detect.reference(feed, tiers, POLICY, last))
    kinds = {k for _, k, *_ in expected}
    assert kinds >= {"early_repayment", "reactivation"}
    assert chunk == 1 or kinds >= {"large_in", "large_out"}
    # several runs (each its own transaction) that stop mid-feed, then a rerun that finds nothing
    step = max(1, len(feed) // 3 + 1)
    total = 0
    while True:
        got = service.detect_transactions(session, NOW, chunk_size=chunk, max_rows=step)
        session.commit()
        total += got["events"]
        if got["rows"] == 0:
            break
    assert total == len(expected)
    assert _stored(session) == expected
    assert session.get(Cursor, service.FEED_CURSOR).position == session.scalar(
        select(func.max(Transaction.id))
    )
    # the clients' last transaction is kept for the next run; reactivated clients not dormant
    react = {c for c, k, *_ in expected if k == "reactivation"}
    for cid in react:
        assert session.get(Client, cid).dormant is False
    # a replay from the start stores nothing new
    session.get(Cursor, service.FEED_CURSOR).position = 0
    session.commit()
    again = service.detect_transactions(session, NOW, chunk_size=max(chunk, 500))
    assert again["events"] == 0


def test_a_day_split_across_runs_crosses_its_threshold_once(session):
    frame = synth.clients(3, seed=1)
    frame["tier"] = "mass"
    ids = load_clients(session, frame, as_of=DAY)
    session.commit()
    at = datetime(2026, 11, 2, 9, 0)
    feed = pd.DataFrame(
        {
            "client": [0, 0, 0],
            "at": [at, at + timedelta(hours=1), at + timedelta(hours=2)],
            "amount": [30_000.0, 19_999.99, 0.01],
            "kind": ["deposit"] * 3,
            "channel": ["counter"] * 3,
            "ref": ["a1", "a2", "a3"],
        }
    )
    load_transactions(session, feed.iloc[:2], ids)
    session.commit()
    assert service.detect_transactions(session, NOW)["events"] == 0
    session.commit()
    load_transactions(session, feed.iloc[2:], ids)
    session.commit()
    assert service.detect_transactions(session, NOW)["events"] == 1
    session.commit()
    event = session.scalars(select(MarketingEvent)).one()
    assert (event.kind, event.window_key, event.amount, event.ref) == (
        "large_in",
        "2026-11-02",
        Decimal("50000.00"),
        "a3",
    )


def test_sweeps_maturity_closed_loans_and_dormancy(session):
    _frame, ids = _base(session, n=60, n_txn=10)
    today = NOW.date()
    h = session.scalars(select(Holding).where(Holding.kind == "demand").limit(3)).all()
    h[0].kind, h[0].matures_on = "time", today + timedelta(days=20)
    h[1].kind, h[1].matures_on = "wealth", today + timedelta(days=5)
    h[2].kind, h[2].matures_on, h[2].status, h[2].closed_on = (
        "loan",
        today + timedelta(days=300),
        "repaid",
        today - timedelta(days=1),
    )
    quiet = session.get(Client, ids[0])
    quiet.last_txn_at, quiet.dormant = NOW - timedelta(days=181), False
    session.execute(
        Holding.__table__.update()
        .where(Holding.kind.in_(("time", "wealth")), Holding.id.not_in([h[0].id, h[1].id]))
        .values(matures_on=today + timedelta(days=400))
    )
    session.commit()
    assert service.detect_maturities(session, NOW) == 2
    assert service.detect_closed_loans(session, NOW) == 1
    assert service.detect_dormancy(session, NOW) == 1
    session.commit()
    keys = {(k, w) for _, k, w, _, _ in _stored(session)}
    assert ("maturity", f"30d:{h[0].id}") in keys and ("maturity", f"7d:{h[1].id}") in keys
    assert ("early_repayment", f"loan:{h[2].id}") in keys
    assert ("dormancy", f"{(NOW - timedelta(days=181)):%Y-%m-%d}") in keys
    assert session.get(Client, ids[0]).dormant is True
    # the same day again: nothing new; 7 days later the 30-day product reaches its 7-day lead
    assert service.detect_maturities(session, NOW) == 0
    assert service.detect_dormancy(session, NOW) == 0
    assert service.detect_maturities(session, NOW + timedelta(days=14)) == 1


def _user(session, username, role="client"):
    org = session.scalar(select(Org).where(Org.code == "RETAIL"))
    if org is None:
        org = Org(code="RETAIL", name="retail", kind="bank", created_at=NOW)
        session.add(org)
        session.flush()
    user = User(username=username, role=role, org_id=org.id, created_at=NOW)
    session.add(user)
    session.flush()
    return user


def test_vip_arrival_from_the_hall_only_with_consent_and_only_for_vips(session):
    frame = synth.clients(40, seed=3)
    rich = int(np.flatnonzero(frame["tier"].isin(["wealth", "private"]).to_numpy())[0])
    poor = int(np.flatnonzero((frame["tier"] == "mass").to_numpy())[0])
    vip, plain, withdrawn = (_user(session, n) for n in ("vip1", "plain1", "gone1"))
    other_rich = int(np.flatnonzero(frame["tier"].isin(["wealth", "private"]).to_numpy())[1])
    ids = load_clients(
        session, frame, as_of=DAY, user_ids={rich: vip.id, poor: plain.id, other_rich: withdrawn.id}
    )
    for user, status in ((vip, "granted"), (plain, "granted"), (withdrawn, "withdrawn")):
        session.add(
            FaceConsent(
                user_id=user.id, status=status, text_version="v1", channel="app", granted_at=NOW
            )
        )
    at = NOW - timedelta(minutes=5)
    for user, branch in (
        (vip, "BR001"),
        (plain, "BR001"),
        (withdrawn, "BR001"),
        (vip, "BR001"),
        (vip, "BR002"),
    ):
        session.add(
            FaceSighting(branch_id=branch, user_id=user.id, device_id="cam1", distance=0.3, at=at)
        )
    session.commit()
    assert service.detect_arrivals(session, NOW) == 2  # BR001 once a day, BR002
    session.commit()
    got = session.scalars(select(MarketingEvent).where(MarketingEvent.kind == "vip_arrival")).all()
    assert {e.client_id for e in got} == {ids[rich]}
    assert {e.details["branch_id"] for e in got} == {"BR001", "BR002"}
    assert service.detect_arrivals(session, NOW) == 0


def test_two_detectors_at_once_store_every_event_once(session_factory):
    with session_factory() as session:
        _base(session, n=80, n_txn=2000)
        feed, tiers, last = _db_feed(session)
        expected = _expected(detect.reference(feed, tiers, POLICY, last))
    errors = []
    go = threading.Barrier(2)

    def run():
        try:
            with session_factory() as s:
                go.wait()
                service.detect_transactions(s, NOW, chunk_size=300)
                s.commit()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with session_factory() as session:
        assert _stored(session) == expected


def test_the_minute_job_runs_the_daily_sweeps_once_a_day(session):
    _base(session, n=40, n_txn=50)
    h = session.scalars(select(Holding).where(Holding.kind == "demand").limit(1)).one()
    h.kind, h.matures_on = "time", NOW.date() + timedelta(days=3)
    session.commit()
    first = service.detect_all(session, NOW)
    session.commit()
    assert first["rows"] == 50 and first["maturity"] >= 1
    h2 = session.scalars(select(Holding).where(Holding.kind == "demand").limit(1)).one()
    h2.kind, h2.matures_on = "time", NOW.date() + timedelta(days=2)
    session.commit()
    assert service.detect_all(session, NOW + timedelta(minutes=1))["maturity"] == 0  # same day
    assert service.detect_all(session, NOW + timedelta(days=1))["maturity"] == 1  # next day
