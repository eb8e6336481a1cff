"""Benchmark rows for ``finedge bench marketing``: the time to build a segment over a million
synthetic clients (100 thousand with ``quick``) through the compiled pandas path (validate the
definition, compile, evaluate: tags and events included), against a hand-written numpy boolean
mask of the same rule on the same arrays in the same run. ``ratio`` is the baseline's time over
ours (higher is better; 1.0 means the compiler costs nothing). The two masks must agree, else
the benchmark fails rather than report a time for a wrong answer.

``rows(quick)`` returns the rows in docs/CONTRACT.md's format (section 4); progress goes to
standard error."""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from backend.marketing import synth
from backend.marketing.segments import rules

AS_OF = date(2026, 6, 1)
RULE = {
    "all": [
        {"field": "tier", "op": "in", "value": ["affluent", "wealth"]},
        {"field": "digital_active", "op": "==", "value": True},
        {"any": [{"tag": "maturing_soon"}, {"event": "maturity", "within_days": 30}]},
        {"not": {"field": "dormant", "op": "==", "value": True}},
        {"field": "age", "op": "between", "value": [25, 65]},
        {"field": "aum", "op": ">=", "value": "50000.00"},
    ]
}
REPEATS = 3


def population(n: int, seed: int = 0) -> rules.Population:
    """``n`` synthetic clients (index: row position as client id), the ``maturing_soon`` tag
    on those whose product matures within 30 days, and maturity events of the last 60 days
    for a tenth of the clients."""
    frame = synth.clients(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    tags = pd.DataFrame(
        {"client": np.flatnonzero(frame["maturing_30d"].to_numpy()), "tag": "maturing_soon"}
    )
    who = rng.choice(n, size=n // 10, replace=False)
    start = datetime.combine(AS_OF, datetime.min.time(), UTC) - timedelta(days=59)
    at = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 60 * 86_400, len(who)), unit="s")
    events = pd.DataFrame({"client": who, "kind": "maturity", "occurred_at": at})
    return rules.Population(frame=frame, tags=tags, events=events)


def compiled(pop: rules.Population) -> np.ndarray:
    return rules.to_mask(rules.parse_rule(RULE), pop, AS_OF)


def baseline(pop: rules.Population) -> np.ndarray:
    """The same rule written by hand with numpy."""
    f = pop.frame
    ids = f.index.to_numpy()
    tier = f["tier"].to_numpy()
    tagged = np.isin(
        ids, pop.tags["client"].to_numpy()[pop.tags["tag"].to_numpy() == "maturing_soon"]
    )
    ev = pop.events
    since = np.datetime64(datetime.combine(AS_OF - timedelta(days=29), datetime.min.time()))
    at = ev["occurred_at"].dt.tz_convert(None).to_numpy()
    recent = np.isin(
        ids, ev["client"].to_numpy()[(ev["kind"].to_numpy() == "maturity") & (at >= since)]
    )
    age = f["age"].to_numpy()
    return (
        ((tier == "affluent") | (tier == "wealth"))
        & f["digital_active"].to_numpy()
        & (tagged | recent)
        & ~f["dormant"].to_numpy()
        & (age >= 25)
        & (age <= 65)
        & (f["aum"].to_numpy() >= 50000.0)
    )


def _best(fn, pop) -> tuple[float, np.ndarray]:
    best, out = float("inf"), None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        out = fn(pop)
        best = min(best, time.perf_counter() - t0)
    return best, out


def rows(quick: bool) -> list[dict]:
    n = 100_000 if quick else 1_000_000
    print(f"segments: generating {n} clients", file=sys.stderr)
    pop = population(n)
    ours, mask = _best(compiled, pop)
    theirs, expected = _best(baseline, pop)
    if not np.array_equal(mask, expected):
        raise RuntimeError("the compiled segment and the hand-written mask disagree")
    print(f"segments: {int(mask.sum())} members, {ours:.4f} s vs {theirs:.4f} s", file=sys.stderr)
    return [
        {
            "bench": "marketing",
            "metric": "segment_build_s",
            "value": round(ours, 6),
            "unit": "s",
            "baseline": "hand-written numpy boolean mask of the same rule",
            "baseline_value": round(theirs, 6),
            "ratio": round(theirs / ours, 4),
            "params": {
                "clients": n,
                "members": int(mask.sum()),
                "leaves": len(rules.leaves(rules.parse_rule(RULE))),
                "repeats": REPEATS,
                "timing": "best of repeats",
                "quick": quick,
            },
        }
    ]
