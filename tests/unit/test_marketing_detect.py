"""The streaming event detector finds exactly the events of the one-pass reference, whatever
the chunking (1 row, a size that splits a client's day, bigger than the feed), and the events
are the ones the policy means (thresholds by tier, one per client/direction/day)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from backend.marketing import synth
from backend.marketing.events import detect
from backend.marketing.events.policy import POLICY, POLICY_FILE, PolicyError, parse_policy

DAY = date(2026, 11, 2)


def _world(n_clients: int = 300, n_txn: int = 4000, seed: int = 5):
    frame = synth.clients(n_clients, seed=seed)
    ids = np.arange(1, n_clients + 1, dtype=np.int64) * 7  # ids are not row positions
    tiers = pd.Series(frame["tier"].to_numpy(), index=ids)
    feed = detect.feed_frame(synth.transactions(frame, n_txn, day=DAY, seed=seed), ids)
    # a second day (so days end), and old activity: a few clients seen 200 and 10 days ago
    nxt = detect.feed_frame(
        synth.transactions(frame, n_txn // 2, day=DAY + timedelta(days=1), seed=seed + 1), ids
    )
    old = feed.iloc[:40].copy()
    old["at"] = old["at"] - pd.Timedelta(days=200)
    old["ref"] = [f"OLD{i}" for i in range(len(old))]
    recent = feed.iloc[40:60].copy()
    recent["at"] = recent["at"] - pd.Timedelta(days=10)
    recent["ref"] = [f"REC{i}" for i in range(len(recent))]
    whole = pd.concat([old, recent, feed, nxt], ignore_index=True)
    # the state before the feed: core-dormant clients, some with a known last transaction
    last = pd.Series(detect.NONE, index=ids)
    dormant = frame["dormant"].to_numpy()
    last[ids[dormant]] = detect.DORMANT
    long_ago = np.datetime64(datetime(2026, 3, 1)).astype("datetime64[ns]").view(np.int64)
    last[ids[100:130]] = long_ago
    return whole, tiers, last


def _key(events: pd.DataFrame) -> set:
    return {
        (
            int(r.client_id),
            r.kind,
            r.window_key,
            pd.Timestamp(r.occurred_at),
            _n(r.amount_fen),
            r.ref,
        )
        for r in events.itertuples(index=False)
    }


def _n(v):
    return None if pd.isna(v) else int(v)


@pytest.mark.parametrize("chunk", [1, 7, 333, 1000, 10**6])
def test_stream_equals_reference_whatever_the_chunking(chunk):
    # one row a chunk costs a pandas pass per row: a smaller world that still has every kind
    whole, tiers, last = _world(200, 600) if chunk < 100 else _world()
    ref = detect.reference(whole, tiers, POLICY, last)
    got = detect.stream(whole, tiers, POLICY, chunk, last)
    assert len(got) == len(ref)
    assert _key(got) == _key(ref)
    kinds = set(ref["kind"])
    assert {"large_in", "large_out", "early_repayment", "dormancy", "reactivation"} <= kinds
    # one event per client, kind and window
    assert not ref.duplicated(["client_id", "kind", "window_key"]).any()


def test_a_chunk_that_splits_a_clients_day_keeps_the_running_sum():
    tiers = pd.Series(["mass", "wealth"], index=[1, 2])
    at = pd.Timestamp("2026-11-02 09:00")
    rows = pd.DataFrame(
        {
            "client_id": [1, 1, 1, 2, 1, 2],
            "at": [at + pd.Timedelta(minutes=i) for i in range(6)],
            # mass: 50,000.00 CNY; 20k + 20k + 9,999.99 stays under, then 0.01 crosses
            "amount_fen": [2_000_000, 2_000_000, 999_999, 90_000_000, 1, 10_000_001],
            "kind": ["deposit"] * 6,
            "ref": list("abcdef"),
        }
    )
    for chunk in (1, 2, 3, 4, 6):
        got = detect.stream(rows, tiers, POLICY, chunk)
        assert list(got["ref"]) == ["e", "f"]
        assert list(got["amount_fen"]) == [5_000_000, 100_000_001]
        assert set(got["window_key"]) == {"2026-11-02"}


def test_outflows_and_the_next_day_count_apart():
    tiers = pd.Series(["mass"], index=[1])
    rows = pd.DataFrame(
        {
            "client_id": [1, 1, 1, 1],
            "at": pd.to_datetime(
                ["2026-11-02 10:00", "2026-11-02 23:59", "2026-11-03 00:01", "2026-11-03 08:00"]
            ),
            "amount_fen": [-3_000_000, -3_000_000, -3_000_000, 6_000_000],
            "kind": ["withdrawal", "transfer_out", "withdrawal", "deposit"],
            "ref": list("abcd"),
        }
    )
    got = detect.stream(rows, tiers, POLICY, 1)
    assert sorted(zip(got["kind"], got["window_key"], strict=True)) == [
        ("large_in", "2026-11-03"),
        ("large_out", "2026-11-02"),
    ]


def test_reactivation_after_the_dormancy_period_and_a_late_row_fakes_no_gap():
    tiers = pd.Series(["mass", "mass"], index=[1, 2])
    rows = pd.DataFrame(
        {
            "client_id": [1, 1, 2, 2],
            "at": pd.to_datetime(
                ["2026-01-01 10:00", "2026-07-01 10:00", "2026-07-01 10:00", "2026-01-01 10:00"]
            ),
            "amount_fen": [100, 100, 100, 100],
            "kind": ["card"] * 4,
            "ref": list("abcd"),
        }
    )
    got = detect.stream(rows, tiers, POLICY, 1)
    # 181 days for client 1: dormant from the 180th day, reactivated by the July row
    assert sorted(zip(got["client_id"], got["kind"], got["window_key"], strict=True)) == [
        (1, "dormancy", "2026-01-01"),
        (1, "reactivation", "2026-07-01"),
    ]
    assert pd.Timestamp(got.loc[got["kind"] == "dormancy", "occurred_at"].iloc[0]) == (
        pd.Timestamp("2026-06-30 10:00")
    )


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"colour": 1}, "unknown key 'colour'"),
        ({"dormancy": {"days": 0}}, "dormancy.days"),
        ({"maturity": {"days_ahead": [30, 30], "kinds": ["time"]}}, "distinct"),
        ({"maturity": {"days_ahead": [30], "kinds": ["bond"]}}, "unknown 'bond'"),
        ({"large_movement": {"thresholds": {"mass": 1}}}, "thresholds needs"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_key(patch, message):
    import yaml

    doc = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    doc.update(patch)
    with pytest.raises(PolicyError, match=message):
        parse_policy(doc)
