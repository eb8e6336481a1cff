"""Marketing events from the transaction feed, vectorised: the streaming detector (chunks in
feed order, per-client state carried across chunks) and one reference pass over the whole
frame. Both see the same rows and must find the same events whatever the chunking
(tests/unit/test_marketing_detect.py); the benchmark compares their speed.

A feed frame has the columns ``client_id`` (int64), ``at`` (datetime64[ns], UTC without a
zone), ``amount_fen`` (int64, signed: positive into the client's accounts), ``kind`` and
``ref``, in feed order (the transaction ids' order). Money is whole fen here, so sums and
comparisons are exact.

Events (``EVENT_COLUMNS``; ``window_key`` makes them unique per client and kind):

- ``large_in`` / ``large_out``: the client's cumulative inflow (outflow) within one UTC day
  reaches the threshold of the client's tier; window: the day; amount: the running sum then;
- ``early_repayment``: the first prepayment transaction of a client in a day; window: the day;
- ``dormancy`` and ``reactivation``: a transaction after ``dormancy_days`` or more without one
  (the later of all earlier transactions counts, so a late row cannot fake a gap): dormancy
  (window: the last day seen active; at: that day plus the period) and reactivation (window:
  its day). A client the core marked dormant without a known last transaction (``DORMANT``)
  is reactivated by their first transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backend.marketing.events.policy import EventPolicy

NS_PER_DAY = 86_400 * 10**9
DAY_BITS = 17  # days since 1970 fit below 2**17 until the year 2328
NONE = np.int64(-1)  # last transaction unknown: no reactivation
DORMANT = np.int64(0)  # marked dormant with no known last transaction
EVENT_COLUMNS = ("client_id", "kind", "window_key", "occurred_at", "amount_fen", "ref")
FEED_COLUMNS = ("client_id", "at", "amount_fen", "kind", "ref")
KEEP_DAYS = 2  # day sums kept behind the newest day seen (a late row older than it starts anew)


def _day_keys(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def _events(
    client: np.ndarray,
    kind: str,
    window: np.ndarray,
    at_ns: np.ndarray,
    amount: np.ndarray | None,
    ref: np.ndarray | None,
) -> pd.DataFrame | None:
    n = len(client)
    if n == 0:  # most chunks find few events: no frame for none
        return None
    return pd.DataFrame(
        {
            "client_id": client.astype(np.int64),
            "kind": np.full(n, kind, dtype=object),
            "window_key": window.astype(object),
            "occurred_at": at_ns.astype("datetime64[ns]"),
            "amount_fen": (
                pd.array(amount, dtype="Int64")
                if amount is not None
                else pd.array([None] * n, "Int64")
            ),
            "ref": ref.astype(object) if ref is not None else np.full(n, None, dtype=object),
        }
    )


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": np.zeros(0, np.int64),
            "kind": np.zeros(0, object),
            "window_key": np.zeros(0, object),
            "occurred_at": np.zeros(0, "datetime64[ns]"),
            "amount_fen": pd.array([], dtype="Int64"),
            "ref": np.zeros(0, object),
        }
    )


def thresholds_for(client: np.ndarray, tiers: pd.Series, policy: EventPolicy) -> np.ndarray:
    """Each row's threshold in fen from its client's tier (``tiers``: client id -> tier); a
    client with no known tier is held to the mass threshold."""
    fen = policy.threshold_fen()
    by_client = tiers.map(fen)
    pos = by_client.index.get_indexer(client)
    values = by_client.to_numpy(dtype=np.int64)
    return np.where(pos >= 0, values[np.maximum(pos, 0)], fen["mass"])


def _feed_arrays(frame: pd.DataFrame, policy: EventPolicy):
    client = frame["client_id"].to_numpy(dtype=np.int64)
    at = frame["at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    amount = frame["amount_fen"].to_numpy(dtype=np.int64)
    prepay = frame["kind"].isin(policy.prepay_kinds).to_numpy()
    ref = frame["ref"].to_numpy(dtype=object) if "ref" in frame else None
    return client, at, amount, prepay, ref


def _previous(at: np.ndarray, client: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The latest earlier transaction time of each row's client within the frame, or the
    state before the frame (``start``) when later."""
    if len(at) < 2 or (np.diff(at) >= 0).all():  # in time order: the latest is the previous
        latest = pd.Series(at)
    else:
        latest = pd.Series(at).groupby(client).cummax()
    before = latest.groupby(client).shift(fill_value=NONE).to_numpy(dtype=np.int64)
    return np.maximum(before, start)


# --------------------------------------------------------------------------- reference


def reference(
    frame: pd.DataFrame, tiers: pd.Series, policy: EventPolicy, last: pd.Series | None = None
) -> pd.DataFrame:
    """Every event of ``frame`` in one vectorised pass (no state but the clients' last
    transaction before the frame: ``last``, client id -> ns since 1970, ``DORMANT`` or
    ``NONE``)."""
    client, at, amount, prepay_mask, ref = _feed_arrays(frame, policy)
    day = at // NS_PER_DAY
    thr = thresholds_for(client, tiers, policy)
    parts = []
    for name, mask in (("large_in", amount > 0), ("large_out", amount < 0)):
        rows = np.flatnonzero(mask)
        size = np.abs(amount[rows])
        key = (client[rows] << DAY_BITS) | day[rows]  # one int64 key per client-day
        running = pd.Series(size).groupby(key).cumsum().to_numpy()
        hit = (running >= thr[rows]) & (running - size < thr[rows])
        r = rows[hit]
        parts.append(
            _events(client[r], name, _day_keys(day[r]), at[r], running[hit], _take(ref, r))
        )
    prepay = np.flatnonzero(prepay_mask)
    first = ~pd.DataFrame({"c": client[prepay], "d": day[prepay]}).duplicated().to_numpy()
    r = prepay[first]
    parts.append(
        _events(client[r], "early_repayment", _day_keys(day[r]), at[r], -amount[r], _take(ref, r))
    )
    start = (last if last is not None else pd.Series(dtype=np.int64)).reindex(client)
    prev = _previous(at, client, start.fillna(NONE).to_numpy(dtype=np.int64))
    parts += _gaps(client, at, prev, ref, policy)
    return _concat(parts)


def _take(ref: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return ref[rows] if ref is not None else None


def _gaps(client, at, prev, ref, policy: EventPolicy) -> list[pd.DataFrame | None]:
    period = np.int64(policy.dormancy_days) * NS_PER_DAY
    back = (prev >= 0) & (at - prev >= period)
    r = np.flatnonzero(back)
    known = r[prev[r] > 0]
    return [
        _events(
            client[known],
            "dormancy",
            _day_keys(prev[known] // NS_PER_DAY),
            prev[known] + period,
            None,
            None,
        ),
        _events(
            client[r], "reactivation", _day_keys(at[r] // NS_PER_DAY), at[r], None, _take(ref, r)
        ),
    ]


def _concat(parts: list[pd.DataFrame | None]) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return _empty()
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- streaming


@dataclass
class StreamState:
    """What the detector carries from one chunk to the next, in dense arrays over the clients
    it has met (``ids``, append-only; a client's position indexes every array): each client's
    threshold and last transaction (ns; ``DORMANT``/``NONE``), and per day still open the
    running in/out sums (fen), which client-days were primed from outside, and which had a
    prepayment."""

    ids: pd.Index = field(default_factory=lambda: pd.Index([], dtype=np.int64))
    thr: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    last: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sums: dict[int, np.ndarray] = field(default_factory=dict)  # day -> (clients, 2)
    primed: dict[int, np.ndarray] = field(default_factory=dict)  # day -> (clients,) bool
    prepaid: dict[int, np.ndarray] = field(default_factory=dict)  # day -> (clients,) bool
    newest_day: int = 0


class StreamDetector:
    """Feed chunks in feed order; ``feed`` returns the chunk's events. ``tiers`` maps client id
    to tier (read when a client is first met); ``last`` (optional) each client's last
    transaction before the feed. A caller that keeps the state elsewhere (the database) fills
    in what a chunk needs with ``prime_*`` before feeding it."""

    def __init__(
        self, tiers: pd.Series, policy: EventPolicy, last: pd.Series | None = None
    ) -> None:
        self.tiers = tiers
        self.policy = policy
        self.state = StreamState()
        if last is not None:
            self.prime_last(last)

    def _positions(self, client: np.ndarray) -> np.ndarray:
        st = self.state
        pos = st.ids.get_indexer(client) if len(st.ids) else np.full(len(client), -1)
        if (pos >= 0).all():
            return pos
        new = np.unique(client[pos < 0])
        fen = self.policy.threshold_fen()
        thr = self.tiers.reindex(new).map(fen).fillna(fen["mass"]).to_numpy(dtype=np.int64)
        st.ids = st.ids.append(pd.Index(new, dtype=np.int64))
        st.thr = np.concatenate([st.thr, thr])
        st.last = np.concatenate([st.last, np.full(len(new), NONE, np.int64)])
        grow = len(new)
        for table in (st.sums,):
            for d, arr in table.items():
                table[d] = np.concatenate([arr, np.zeros((grow, 2), np.int64)])
        for table in (st.primed, st.prepaid):
            for d, arr in table.items():
                table[d] = np.concatenate([arr, np.zeros(grow, bool)])
        return st.ids.get_indexer(client)

    def _day(self, table: dict[int, np.ndarray], day: int, shape: tuple, dtype) -> np.ndarray:
        arr = table.get(day)
        if arr is None:
            arr = table[day] = np.zeros((len(self.state.ids), *shape), dtype)
        return arr

    # -- state from outside (the database keeps it between runs) ---------------------------

    def known(self, client_ids: np.ndarray) -> np.ndarray:
        """Which of these clients the detector has met (a boolean mask)."""
        if not len(self.state.ids):
            return np.zeros(len(client_ids), bool)
        return self.state.ids.get_indexer(client_ids) >= 0

    def prime_last(self, last: pd.Series) -> None:
        """Last transactions of clients not met yet (known ones keep their state)."""
        ids = last.index.to_numpy(dtype=np.int64)
        fresh = ~self.known(ids)
        pos = self._positions(ids[fresh])
        self.state.last[pos] = last.to_numpy(dtype=np.int64)[fresh]

    def unprimed(self, client: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct client-days of a chunk whose running sums are not primed yet."""
        pos = self._positions(client)
        out_c, out_d = [], []
        for d in np.unique(day):
            m = day == d
            primed = self._day(self.state.primed, int(d), (), bool)
            c = np.unique(client[m][~primed[pos[m]]])
            out_c.append(c)
            out_d.append(np.full(len(c), d, np.int64))
        if not out_c:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(out_c), np.concatenate(out_d)

    def prime_sums(
        self, client: np.ndarray, day: np.ndarray, inflow: np.ndarray, outflow: np.ndarray
    ) -> None:
        """The running sums (fen, positive) of client-days before the chunk, marked primed."""
        pos = self._positions(client)
        for d in np.unique(day):
            m = day == d
            sums = self._day(self.state.sums, int(d), (2,), np.int64)
            primed = self._day(self.state.primed, int(d), (), bool)
            p = pos[m]
            sums[p, 0] = inflow[m]
            sums[p, 1] = outflow[m]
            primed[p] = True

    # -- detection -------------------------------------------------------------------------

    def feed(self, chunk: pd.DataFrame) -> pd.DataFrame:
        if chunk.empty:
            return _empty()
        client, at, amount, prepay_mask, ref = _feed_arrays(chunk, self.policy)
        st = self.state
        pos = self._positions(client)
        day = at // NS_PER_DAY
        days = np.unique(day)
        thr = st.thr[pos]
        parts = []
        for out, name, mask in ((0, "large_in", amount > 0), (1, "large_out", amount < 0)):
            rows = np.flatnonzero(mask)
            size = np.abs(amount[rows])
            p, d = pos[rows], day[rows]
            key = p * len(days) + np.searchsorted(days, d) if len(days) > 1 else p
            running = np.array(pd.Series(size).groupby(key).cumsum().to_numpy(), dtype=np.int64)
            for u in days:
                m = d == u if len(days) > 1 else slice(None)
                sums = self._day(st.sums, int(u), (2,), np.int64)
                running[m] += sums[p[m], out]
                np.add.at(sums[:, out], p[m], size[m])
            hit = (running >= thr[rows]) & (running - size < thr[rows])
            r = rows[hit]
            parts.append(
                _events(client[r], name, _day_keys(day[r]), at[r], running[hit], _take(ref, r))
            )

        prepay = np.flatnonzero(prepay_mask)
        if len(prepay):
            pkey = pos[prepay] * len(days) + np.searchsorted(days, day[prepay])
            first = ~pd.Index(pkey).duplicated()
            for u in np.unique(day[prepay]):
                seen = self._day(st.prepaid, int(u), (), bool)
                m = day[prepay] == u
                first[m] &= ~seen[pos[prepay][m]]
                seen[pos[prepay][m]] = True
            r = prepay[first]
            parts.append(
                _events(
                    client[r],
                    "early_repayment",
                    _day_keys(day[r]),
                    at[r],
                    -amount[r],
                    _take(ref, r),
                )
            )

        parts += _gaps(client, at, _previous(at, pos, st.last[pos]), ref, self.policy)
        np.maximum.at(st.last, pos, at)
        self._prune(int(days[-1]))
        return _concat(parts)

    def _prune(self, newest_day: int) -> None:
        st = self.state
        if newest_day <= st.newest_day:
            return
        st.newest_day = newest_day
        for table in (st.sums, st.primed, st.prepaid):
            for d in [d for d in table if d < newest_day - KEEP_DAYS]:
                del table[d]


def stream(
    frame: pd.DataFrame,
    tiers: pd.Series,
    policy: EventPolicy,
    chunk_size: int,
    last: pd.Series | None = None,
) -> pd.DataFrame:
    """The streaming detector over ``frame`` in chunks of ``chunk_size`` rows."""
    detector = StreamDetector(tiers, policy, last)
    parts = [
        detector.feed(frame.iloc[start : start + chunk_size])
        for start in range(0, len(frame), chunk_size)
    ]
    return _concat(parts)


def feed_frame(feed: pd.DataFrame, client_ids: np.ndarray) -> pd.DataFrame:
    """A ``synth.transactions`` frame (``client`` a row position) as a feed frame."""
    return pd.DataFrame(
        {
            "client_id": np.asarray(client_ids, dtype=np.int64)[feed["client"].to_numpy()],
            "at": feed["at"].to_numpy(dtype="datetime64[ns]"),
            "amount_fen": np.round(feed["amount"].to_numpy() * 100).astype(np.int64),
            "kind": feed["kind"].to_numpy()
            if not isinstance(feed["kind"].dtype, pd.CategoricalDtype)
            else feed["kind"].array,
            "ref": feed["ref"].to_numpy(dtype=object) if "ref" in feed else None,
        }
    )
