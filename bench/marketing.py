"""``finedge bench marketing``: marketing events detected per second by the streaming
detector over a synthetic day of transactions, against one vectorised pass computing the same
events on the same rows; then the rows other parts of marketing contribute (segments, uplift).

Events: ``synth.clients`` (1M clients; ``--quick`` 20,000) and ``synth.transactions`` (10M
rows; quick 200,000) in memory, as feed frames (client id, time, amount in fen, kind). The
baseline is ``backend.marketing.events.detect.reference``, one pandas pass over the whole
frame; ours is ``detect.stream`` in chunks of 250,000 rows (quick 50,000) with its state
carried across chunks, which is what the minute job runs (minus the database). Both start
from the same state (the core's dormant clients), and the run fails unless both find the same
event set. Row ``events_per_s`` (ratio = stream rate / reference rate; the aim is >= 0.5).

Other rows: each module of ``ROW_PROVIDERS`` that exists contributes ``rows(quick)`` (a list
of rows in the contract's format); one that is missing is skipped with a note on stderr.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

TIME_LIMIT_S = {"quick": 180, "full": 1200}
# where the segment and uplift parts add their rows: module paths with rows(quick) -> list[dict]
ROW_PROVIDERS = (
    "backend.marketing.segments.bench",
    "backend.marketing.uplift.bench",
)


def say(message: str) -> None:
    print(f"marketing: {message}", file=sys.stderr, flush=True)


def _world(n_clients: int, n_txn: int, seed: int = 18):
    import numpy as np
    import pandas as pd

    from backend.marketing import synth
    from backend.marketing.events import detect

    clients = synth.clients(n_clients, seed=seed)
    ids = np.arange(1, n_clients + 1, dtype=np.int64)
    feed = synth.transactions(clients, n_txn, seed=seed + 1, with_refs=False)
    frame = detect.feed_frame(feed, ids)
    tiers = pd.Series(clients["tier"].to_numpy(), index=ids)
    last = pd.Series(
        np.where(clients["dormant"].to_numpy(), detect.DORMANT, detect.NONE), index=ids
    ).astype(np.int64)
    return frame, tiers, last


def _events_rows(quick: bool, chunk: int | None) -> list[dict]:
    from backend.marketing.events import detect
    from backend.marketing.events.policy import POLICY

    n_clients, n_txn = (20_000, 200_000) if quick else (1_000_000, 10_000_000)
    chunk = chunk or (50_000 if quick else 250_000)
    started = time.perf_counter()
    frame, tiers, last = _world(n_clients, n_txn)
    took = time.perf_counter() - started
    say(f"{n_txn:,} transactions over {n_clients:,} clients in {took:.1f} s")
    t0 = time.perf_counter()
    ref = detect.reference(frame, tiers, POLICY, last)
    ref_s = time.perf_counter() - t0
    say(f"reference pass: {len(ref):,} events in {ref_s:.2f} s")
    t0 = time.perf_counter()
    got = detect.stream(frame, tiers, POLICY, chunk, last)
    stream_s = time.perf_counter() - t0
    say(f"streaming detector (chunks of {chunk:,}): {len(got):,} events in {stream_s:.2f} s")
    cols = ["client_id", "kind", "window_key", "occurred_at", "amount_fen"]
    same = len(ref) == len(got) and ref[cols].sort_values(cols).reset_index(drop=True).equals(
        got[cols].sort_values(cols).reset_index(drop=True)
    )
    if not same:
        raise RuntimeError("the streaming detector and the reference found different events")
    events = len(ref)
    rate, base = events / stream_s, events / ref_s
    return [
        {
            "bench": "marketing",
            "metric": "events_per_s",
            "value": round(rate, 1),
            "unit": "1/s",
            "baseline": "one vectorised pandas pass over the whole frame (detect.reference), "
            "same rows, same run",
            "baseline_value": round(base, 1),
            "ratio": round(rate / base, 4),
            "params": {
                "quick": quick,
                "transactions": n_txn,
                "clients": n_clients,
                "chunk_rows": chunk,
                "events": events,
                "by_kind": {k: int(v) for k, v in ref["kind"].value_counts().items()},
                "stream_s": round(stream_s, 3),
                "reference_s": round(ref_s, 3),
                "transactions_per_s": round(n_txn / stream_s),
                "same_events": True,
                "aim": "ratio >= 0.5",
                "load_avg_1m": round(os.getloadavg()[0], 2),
            },
        }
    ]


def _provided_rows(quick: bool) -> list[dict]:
    rows = []
    for name in ROW_PROVIDERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                say(f"{name} is not there yet: its rows are left out")
                continue
            raise
        got = module.rows(quick)
        say(f"{name}: {len(got)} rows")
        rows += got
    return rows


def run(options: dict) -> list[dict]:
    quick = bool(options.get("quick"))
    chunk = options.get("chunk")
    rows = _events_rows(quick, int(chunk) if chunk else None)
    rows += _provided_rows(quick)
    return rows
