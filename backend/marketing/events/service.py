"""Marketing events written to ``mkt_events``: the streaming detector over the transaction
feed (after a cursor, in chunks), and the sweeps that need no transaction (maturities ahead,
loans closed before they were due, clients gone dormant, VIPs arriving at a branch's door).

Every event is inserted with "insert or ignore" on ``(client, kind, window_key)``, so a rerun,
a replay or two detectors at once store each event once. The feed cursor row is locked for the
run (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one writer), so a second detector
waits and then resumes after the first one's rows: no row is read twice in two runs.

The detector's state between runs lives in the database: the running day sums of a client's
day are summed from the rows already read (``id <= cursor``) the first time a chunk meets
that client-day, and each client's last transaction is ``Client.last_txn_at`` (``dormant``
when the core or the sweep said so).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.marketing.events import detect
from backend.marketing.events.policy import POLICY, EventPolicy
from backend.marketing.models import Client, Cursor, Holding, MarketingEvent, Transaction
from backend.platform.clock import ensure_utc
from backend.platform.ports import HallArrivals
from backend.platform.wiring import port

FEED_CURSOR = "events.transactions"
HALL_CURSOR = "events.hall"
DAILY_CURSOR = "events.daily"  # position: the day (ordinal) the daily sweeps last ran
CLOSED_LOANS_DAYS = 30  # loans closed within this many days are looked at
IN_BATCH = 2000  # ids per IN (...) list
MAX_CHUNK = 20_000


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def store_events(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert events, ignoring any already there (same client, kind and window); the count of
    new ones."""
    if not rows:
        return 0
    table = MarketingEvent.__table__
    stmt = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=["client_id", "kind", "window_key"])
        .returning(table.c.id)
    )
    return len(session.execute(stmt, rows).scalars().all())


def lock_cursor(session: Session, name: str, now: datetime) -> Cursor:
    """The feed cursor, created at 0 if new, locked until the transaction ends."""
    table = Cursor.__table__
    session.execute(
        _insert(session, table)
        .values(name=name, position=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return session.scalars(
        select(Cursor)
        .where(Cursor.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 10**9, UTC).replace(microsecond=(ns // 1000) % 10**6)


def _naive_ns(value: datetime) -> int:
    value = ensure_utc(value).astimezone(UTC).replace(tzinfo=None)
    return int(np.datetime64(value, "ns").view(np.int64))


def _rows(events: pd.DataFrame, now: datetime, policy: EventPolicy) -> list[dict[str, Any]]:
    out = []
    for e in events.itertuples(index=False):
        amount = None if pd.isna(e.amount_fen) else Decimal(int(e.amount_fen)) / 100
        out.append(
            {
                "client_id": int(e.client_id),
                "kind": e.kind,
                "window_key": e.window_key,
                "occurred_at": _utc(int(pd.Timestamp(e.occurred_at).value)),
                "detected_at": now,
                "amount": amount,
                "ref": e.ref,
                "details": {"policy": policy.version, "source": "transactions"},
            }
        )
    return out


def _batches(values: list[int]):
    for start in range(0, len(values), IN_BATCH):
        yield values[start : start + IN_BATCH]


def _prime(session: Session, detector: detect.StreamDetector, chunk: pd.DataFrame, upto: int):
    """Fill in the state the chunk needs that this run has not built: the clients' tiers and
    last transactions, the running sums of client-days met for the first time (summed from the
    rows already read, ``id <= upto``)."""
    clients = np.unique(chunk["client_id"].to_numpy(dtype=np.int64))
    new_clients = clients[~detector.known(clients)].tolist()
    tiers, last = {}, {}
    for ids in _batches(new_clients):
        for cid, tier, last_at, dormant in session.execute(
            select(Client.id, Client.tier, Client.last_txn_at, Client.dormant).where(
                Client.id.in_(ids)
            )
        ):
            tiers[cid] = tier
            if last_at is not None:
                last[cid] = _naive_ns(last_at)
            else:
                last[cid] = int(detect.DORMANT if dormant else detect.NONE)
    if tiers:
        detector.tiers = pd.Series(tiers)
        detector.prime_last(pd.Series(last, dtype=np.int64))
    at = chunk["at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    need_c, need_d = detector.unprimed(
        chunk["client_id"].to_numpy(dtype=np.int64), at // detect.NS_PER_DAY
    )
    if not len(need_c):
        return
    lo = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=int(need_d.min()))
    hi = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=int(need_d.max()) + 1)
    seen = []
    for ids in _batches(sorted(set(need_c.tolist()))):
        seen += session.execute(
            select(Transaction.client_id, Transaction.at, Transaction.amount).where(
                Transaction.client_id.in_(ids),
                Transaction.at >= lo,
                Transaction.at < hi,
                Transaction.id <= upto,
            )
        ).all()
    inflow = np.zeros(len(need_c), np.int64)
    outflow = np.zeros(len(need_c), np.int64)
    if seen:
        fen = np.array([int(r.amount * 100) for r in seen], dtype=np.int64)
        day = np.array([_naive_ns(r.at) for r in seen], dtype=np.int64) // detect.NS_PER_DAY
        got = (
            pd.DataFrame(
                {
                    "c": [r.client_id for r in seen],
                    "d": day,
                    "i": np.where(fen > 0, fen, 0),
                    "o": np.where(fen < 0, -fen, 0),
                }
            )
            .groupby(["c", "d"])[["i", "o"]]
            .sum()
        )
        want = pd.MultiIndex.from_arrays([need_c, need_d])
        got = got.reindex(want, fill_value=0)
        inflow, outflow = got["i"].to_numpy(np.int64), got["o"].to_numpy(np.int64)
    detector.prime_sums(need_c, need_d, inflow, outflow)


def detect_transactions(
    session: Session,
    now: datetime,
    *,
    chunk_size: int = 5000,
    max_rows: int | None = None,
    policy: EventPolicy = POLICY,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Read the feed after the cursor in chunks (at most ``max_rows`` rows), store the events,
    move the cursor and the clients' last transaction. Returns rows read, events new, and
    the cursor."""
    chunk_size = max(1, min(chunk_size, MAX_CHUNK))
    cursor = lock_cursor(session, FEED_CURSOR, now)
    detector = detect.StreamDetector(pd.Series(dtype=object), policy)
    read = new = 0
    period = timedelta(days=policy.dormancy_days)
    while max_rows is None or read < max_rows:
        size = chunk_size if max_rows is None else min(chunk_size, max_rows - read)
        rows = session.execute(
            select(
                Transaction.id,
                Transaction.client_id,
                Transaction.at,
                Transaction.amount,
                Transaction.kind,
                Transaction.ref,
            )
            .where(Transaction.id > cursor.position)
            .order_by(Transaction.id)
            .limit(size)
        ).all()
        if not rows:
            break
        chunk = pd.DataFrame(
            {
                "client_id": np.array([r.client_id for r in rows], dtype=np.int64),
                "at": np.array([_naive_ns(r.at) for r in rows], dtype=np.int64).view(
                    "datetime64[ns]"
                ),
                "amount_fen": np.array([int(r.amount * 100) for r in rows], dtype=np.int64),
                "kind": [r.kind for r in rows],
                "ref": [r.ref for r in rows],
            }
        )
        _prime(session, detector, chunk, cursor.position)
        events = detector.feed(chunk)
        new += store_events(session, _rows(events, now, policy))
        # the clients' last transaction (the later of the known one and this chunk's)
        touched = np.unique(chunk["client_id"].to_numpy(dtype=np.int64))
        last = detector.state.last[detector.state.ids.get_indexer(touched)]
        updates = []
        for cid, ns in zip(touched.tolist(), last.tolist(), strict=True):
            when = _utc(int(ns))
            updates.append({"id": int(cid), "last_txn_at": when, "dormant": now - when >= period})
        session.execute(update(Client), updates)
        cursor.position = int(rows[-1].id)
        cursor.updated_at = now
        session.flush()
        read += len(rows)
        if progress is not None:
            progress(len(rows))
    return {"rows": read, "events": new, "cursor": int(cursor.position)}


def detect_maturities(session: Session, now: datetime, policy: EventPolicy = POLICY) -> int:
    """One event per holding and lead (e.g. 30 and 7 days): the holding matures within the
    lead and not within the next shorter one (a product found 5 days ahead gets the 7-day
    event only)."""
    today = now.date()
    horizon = today + timedelta(days=policy.maturity_days[0])
    found = session.execute(
        select(Holding.id, Holding.client_id, Holding.ref, Holding.amount, Holding.matures_on)
        .where(
            Holding.status == "active",
            Holding.kind.in_(policy.maturity_kinds),
            Holding.matures_on.is_not(None),
            Holding.matures_on >= today,
            Holding.matures_on <= horizon,
        )
        .order_by(Holding.id)
    ).all()
    rows = []
    for hid, client_id, ref, amount, matures in found:
        left = (matures - today).days
        lead = min(d for d in policy.maturity_days if left <= d)
        rows.append(
            {
                "client_id": client_id,
                "kind": "maturity",
                "window_key": f"{lead}d:{hid}",
                "occurred_at": now,
                "detected_at": now,
                "amount": amount,
                "ref": ref,
                "details": {
                    "policy": policy.version,
                    "lead_days": lead,
                    "days_left": left,
                    "matures_on": matures.isoformat(),
                },
            }
        )
    return store_events(session, rows)


def detect_closed_loans(session: Session, now: datetime, policy: EventPolicy = POLICY) -> int:
    """A loan closed (repaid) before its maturity within the last ``CLOSED_LOANS_DAYS``: one
    early-repayment event per loan."""
    found = session.execute(
        select(
            Holding.id,
            Holding.client_id,
            Holding.ref,
            Holding.amount,
            Holding.closed_on,
            Holding.matures_on,
        ).where(
            Holding.kind == "loan",
            Holding.status.in_(("closed", "repaid")),
            Holding.closed_on.is_not(None),
            Holding.matures_on.is_not(None),
            Holding.closed_on < Holding.matures_on,
            Holding.closed_on >= now.date() - timedelta(days=CLOSED_LOANS_DAYS),
        )
    ).all()
    rows = [
        {
            "client_id": client_id,
            "kind": "early_repayment",
            "window_key": f"loan:{hid}",
            "occurred_at": datetime.combine(closed, time(0), UTC),
            "detected_at": now,
            "amount": amount,
            "ref": ref,
            "details": {
                "policy": policy.version,
                "closed_on": closed.isoformat(),
                "matures_on": matures.isoformat(),
            },
        }
        for hid, client_id, ref, amount, closed, matures in found
    ]
    return store_events(session, rows)


def detect_dormancy(session: Session, now: datetime, policy: EventPolicy = POLICY) -> int:
    """Clients with no transaction for the dormancy period become dormant (one event per
    period of inactivity, keyed by the last day seen active)."""
    period = timedelta(days=policy.dormancy_days)
    found = session.execute(
        select(Client.id, Client.last_txn_at).where(
            Client.dormant.is_(False),
            Client.last_txn_at.is_not(None),
            Client.last_txn_at <= now - period,
        )
    ).all()
    rows = []
    for cid, last in found:
        last = ensure_utc(last)
        rows.append(
            {
                "client_id": cid,
                "kind": "dormancy",
                "window_key": f"{last:%Y-%m-%d}",
                "occurred_at": last + period,
                "detected_at": now,
                "amount": None,
                "ref": None,
                "details": {"policy": policy.version, "source": "sweep"},
            }
        )
    for ids in _batches([r["client_id"] for r in rows]):
        session.execute(update(Client).where(Client.id.in_(ids)).values(dormant=True))
    return store_events(session, rows)


def detect_arrivals(
    session: Session, now: datetime, policy: EventPolicy = POLICY, limit: int = 1000
) -> int:
    """VIPs (clients of the policy's tiers with a FinEdge login) recognised at a branch's door,
    from the hall through the ``HallArrivals`` port: one event per client, branch and day."""
    cursor = lock_cursor(session, HALL_CURSOR, now)
    arrivals = port(session, HallArrivals).arrivals_after(session, cursor.position, limit)
    if not arrivals:
        return 0
    users = sorted({a.user_id for a in arrivals})
    vips = dict(
        session.execute(
            select(Client.user_id, Client.id).where(
                Client.user_id.in_(users), Client.tier.in_(policy.vip_tiers)
            )
        ).all()
    )
    rows = [
        {
            "client_id": vips[a.user_id],
            "kind": "vip_arrival",
            "window_key": f"{ensure_utc(a.at):%Y-%m-%d}:{a.branch_id}"[:40],
            "occurred_at": ensure_utc(a.at),
            "detected_at": now,
            "amount": None,
            "ref": f"sighting:{a.id}",
            "details": {"policy": policy.version, "branch_id": a.branch_id},
        }
        for a in arrivals
        if a.user_id in vips
    ]
    cursor.position = max(a.id for a in arrivals)
    cursor.updated_at = now
    return store_events(session, rows)


def detect_all(
    session: Session, now: datetime, *, max_rows: int | None = 200_000, chunk_size: int = 5000
) -> dict[str, int]:
    """Everything the minute job does: the feed (at most ``max_rows`` rows a run), then the
    sweeps (maturities and closed loans on the first run of a day, dormancy, arrivals)."""
    result = detect_transactions(session, now, max_rows=max_rows, chunk_size=chunk_size)
    # maturity leads and loan closures change by the day: their sweeps run once a day
    daily = lock_cursor(session, DAILY_CURSOR, now)
    today = now.date().toordinal()
    if daily.position < today:
        result["maturity"] = detect_maturities(session, now)
        result["closed_loans"] = detect_closed_loans(session, now)
        daily.position, daily.updated_at = today, now
    else:
        result["maturity"] = result["closed_loans"] = 0
    result["dormancy"] = detect_dormancy(session, now)
    result["vip_arrival"] = detect_arrivals(session, now)
    return result
