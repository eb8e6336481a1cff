"""When each source publishes what happened: every record gets ``published`` (RFC 3339 Z,
at or after its ``time``), drawn per source (and per kind where sources differ: a lawsuit
takes weeks to months to appear, an enforcement days to weeks) from ``style.lags``; the
initial profiles and relations are published on the world's first day; a story may pin a
record's publication (a late annual report).  Of the lawsuits filed in the 180 days before a
default, ``style.lawsuits_published_after_default`` (35%) are published only after it.

The draws come from the builder's second random source (``lag_rng``), after the world is
built, so publication never changes what happens."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from backend.risk.synthetic.builder import Builder
from backend.risk.synthetic.style import Lag
from backend.risk.synthetic.world import SyntheticEnterprise, iso, record_time

PRE_DEFAULT_DAYS = 180


def publish(b: Builder, ents: list[SyntheticEnterprise], records: dict[str, list[dict]]) -> None:
    """Set ``published`` on every record (in place)."""
    st, rng = b.style, b.lag_rng
    by_code = {e.credit_code: e for e in ents}
    for source, batch in records.items():
        for r in batch:
            t = record_time(r)
            if r.get("type") in ("profile", "edge") and "ended" not in r:
                published = max(t, b.start)  # the initial population: on the first day
            elif r["record_id"] in b.pinned:
                published = max(b.pinned[r["record_id"]], t)
            elif not st.publication_lags:
                published = t
            else:
                published = t + _lag(rng, st.lags, source, r.get("kind"))
                if r.get("kind") == "lawsuit_defendant":
                    published = _lawsuit(rng, st, by_code.get(r.get("credit_code")), t, published)
            r["published"] = iso(published)


def _lag(rng, lags: dict[str, Lag], source: str, kind: str | None) -> timedelta:
    lag = lags.get(f"{source}:{kind}") or lags.get(source)
    if lag is None:
        return timedelta(0)
    days = rng.lognormvariate(math.log(max(lag.median_days, 1e-6)), lag.sigma)
    return timedelta(days=min(max(days, lag.lo_days), lag.hi_days))


def _lawsuit(rng, st, ent: SyntheticEnterprise | None, t: datetime, published: datetime):
    """A lawsuit filed in the 180 days before its defendant's default is published after the
    default with the style's probability (and before it otherwise)."""
    d = ent.default_date if ent else None
    if d is None or not d - timedelta(days=PRE_DEFAULT_DAYS) <= t < d:
        return published
    if rng.random() < st.lawsuits_published_after_default:
        return max(published, d + timedelta(days=rng.uniform(1, 90)))
    if published >= d:
        return t + (d - t) * rng.uniform(0.1, 0.9)
    return published
