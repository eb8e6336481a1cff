"""Evaluating a randomised campaign (pure numpy; docs/marketing.md "Evaluation").

Every function takes plain arrays: ``y`` the outcome (0/1 converted, or a number), ``t`` the
arm (True/1 treated, False/0 control), ``score`` a ranking score (higher: target first).

- ``arm_rates``: clients, conversions and the conversion rate per arm;
- ``uplift_interval``: the difference of the rates (treated minus control) with a confidence
  interval by **Newcombe's hybrid score method** (his method 10: Wilson score intervals of the
  two rates combined; good coverage for small counts and rates near 0, never outside [-1, 1]);
- ``qini_curve``: incremental conversions when the top fraction x of the clients (by score) is
  targeted, per client of the whole population: ``Q(x) = (Y_t(x) - Y_c(x) * N_t(x) / N_c(x)) /
  N``, sampled at up to 101 fractions; ``auuc`` is its area (the trapezoid over every distinct
  score, ties taken together), the random-targeting baseline the straight line from (0, 0) to
  (1, Q(1)), i.e. ``Q(1) / 2``; ``qini_coefficient`` the difference of the two areas;
- ``uplift_at_k``: the uplift (with its interval) among the top k fraction by score;
- ``mean_difference``: a difference of means (treated minus control) with **Welch's**
  interval (unequal variances, Welch–Satterthwaite degrees of freedom), used for AUM growth;
- ``ratio_interval``: the ratio of two rates with the Katz log interval (tier-up per arm).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

Z95 = NormalDist().inv_cdf(0.975)


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError("level is a probability between 0 and 1")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _arrays(y, t) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    t = np.asarray(t).astype(bool)
    if y.shape != t.shape or y.ndim != 1:
        raise ValueError("y and t are 1-d arrays of one length")
    if not np.all(np.isfinite(y)):
        raise ValueError("y has a value that is not finite")
    return y, t


def _clean(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def wilson(successes: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a proportion (``(nan, nan)`` for n = 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = _z(level)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def arm_rates(y, t) -> dict:
    """``{"treatment": {n, conversions, rate}, "control": {...}}`` (rate None for an empty arm)."""
    y, t = _arrays(y, t)
    out = {}
    for arm, mask in (("treatment", t), ("control", ~t)):
        n = int(mask.sum())
        conv = float(y[mask].sum())
        out[arm] = {
            "n": n,
            "conversions": round(conv) if float(conv).is_integer() else conv,
            "rate": conv / n if n else None,
        }
    return out


def newcombe(x1: float, n1: float, x2: float, n2: float, level: float = 0.95) -> dict:
    """Newcombe's hybrid score interval for p1 - p2 (method 10)."""
    if n1 <= 0 or n2 <= 0:
        return {"uplift": None, "low": None, "high": None, "level": level, "method": "newcombe"}
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, level)
    l2, u2 = wilson(x2, n2, level)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return {
        "uplift": d,
        "low": max(-1.0, low),
        "high": min(1.0, high),
        "level": level,
        "method": "newcombe",
    }


def uplift_interval(y, t, level: float = 0.95) -> dict:
    """The conversion uplift (treated rate minus control rate) with Newcombe's interval; the
    outcome must be 0/1."""
    y, t = _arrays(y, t)
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("a conversion outcome is 0 or 1")
    return newcombe(y[t].sum(), t.sum(), y[~t].sum(), (~t).sum(), level)


def _t_quantile(p: float, df: float) -> float:
    """Student's t quantile (Hill's 1970 expansion of the normal quantile; exact enough for the
    intervals here: off by less than 0.004 at df = 3, 3e-4 at df = 5, 1e-5 at df >= 10; exact at
    df 1 and 2; the normal beyond df 1e6)."""
    z = NormalDist().inv_cdf(p)
    if df > 1e6:
        return z
    if df < 1:
        df = 1.0
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        a = 2 * p - 1
        return a * math.sqrt(2.0 / (1 - a * a))
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def mean_difference(x_t, x_c, level: float = 0.95) -> dict:
    """Mean of ``x_t`` minus mean of ``x_c`` with Welch's interval."""
    a = np.asarray(x_t, dtype=float)
    b = np.asarray(x_c, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    out = {
        "treatment_mean": _clean(a.mean()) if a.size else None,
        "control_mean": _clean(b.mean()) if b.size else None,
        "n_treatment": int(a.size),
        "n_control": int(b.size),
        "difference": None,
        "low": None,
        "high": None,
        "df": None,
        "level": level,
        "method": "welch",
    }
    if a.size < 2 or b.size < 2:
        if a.size and b.size:
            out["difference"] = _clean(a.mean() - b.mean())
        return out
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    d = a.mean() - b.mean()
    se = math.sqrt(va + vb)
    out["difference"] = _clean(d)
    if se == 0:
        out.update(low=_clean(d), high=_clean(d), df=None)
        return out
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    q = _t_quantile(0.5 + level / 2, df)
    out.update(low=_clean(d - q * se), high=_clean(d + q * se), df=_clean(df))
    return out


def ratio_interval(x1: float, n1: float, x2: float, n2: float, level: float = 0.95) -> dict:
    """p1 / p2 with the Katz log interval (None where a count is 0)."""
    out = {"ratio": None, "low": None, "high": None, "level": level, "method": "katz_log"}
    if n1 <= 0 or n2 <= 0 or x2 <= 0:
        return out
    r = (x1 / n1) / (x2 / n2)
    out["ratio"] = r
    if x1 <= 0:
        return out
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    z = _z(level)
    out.update(low=r * math.exp(-z * se), high=r * math.exp(z * se))
    return out


def _ranked(y, t, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, t = _arrays(y, t)
    s = np.asarray(score, dtype=float)
    if s.shape != y.shape:
        raise ValueError("score has the length of y")
    if not np.all(np.isfinite(s)):
        raise ValueError("score has a value that is not finite")
    order = np.argsort(-s, kind="stable")
    return y[order], t[order], s[order]


def _qini_full(y, t, score) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve at every distinct score (ties together): fractions x and Q(x), from
    (0, 0)."""
    y, t, s = _ranked(y, t, score)
    n = y.size
    if n == 0:
        return np.zeros(1), np.zeros(1)
    nt = np.cumsum(t)
    nc = np.cumsum(~t)
    yt = np.cumsum(y * t)
    yc = np.cumsum(y * ~t)
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last position of each tie group
    nt, nc, yt, yc = nt[ends], nc[ends], yt[ends], yc[ends]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(nc > 0, yt - yc * nt / np.maximum(nc, 1), yt)
    x = np.r_[0.0, (ends + 1) / n]
    return x, np.r_[0.0, q / n]


def _area(x: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (q[1:] + q[:-1]) / 2.0))


def qini_curve(y, t, score, points: int = 101) -> dict:
    """The Qini curve sampled at ``points`` fractions (0, 1/(points-1), ..., 1), the random
    line, AUUC, the random AUUC, their ratio and the Qini coefficient (module docstring)."""
    if not 2 <= points <= 1001:
        raise ValueError("points is between 2 and 1001")
    x, q = _qini_full(y, t, score)
    grid = np.linspace(0.0, 1.0, points)
    sampled = np.interp(grid, x, q)
    end = float(q[-1])
    auuc = _area(x, q)
    random_auuc = end / 2.0
    return {
        "x": [round(float(v), 6) for v in grid],
        "qini": [float(v) for v in sampled],
        "random": [float(v) for v in grid * end],
        "auuc": auuc,
        "random_auuc": random_auuc,
        "auuc_ratio": (auuc / random_auuc) if random_auuc > 0 else None,
        "qini_coefficient": auuc - random_auuc,
        "n": int(np.asarray(y).size),
    }


def auuc(y, t, score) -> float:
    """The area under the Qini curve (per client, x from 0 to 1)."""
    return _area(*_qini_full(y, t, score))


def uplift_at_k(y, t, score, k: float = 0.3, level: float = 0.95) -> dict:
    """The conversion uplift among the top ``k`` fraction of the clients by score."""
    if not 0.0 < k <= 1.0:
        raise ValueError("k is a fraction in (0, 1]")
    y, t, _s = _ranked(y, t, score)
    m = max(1, math.ceil(k * y.size)) if y.size else 0
    yk, tk = y[:m], t[:m]
    out = newcombe(yk[tk].sum(), tk.sum(), yk[~tk].sum(), (~tk).sum(), level)
    out.update(k=k, n=int(m), n_treatment=int(tk.sum()), n_control=int((~tk).sum()))
    return out


def tier_up(up, t, level: float = 0.95) -> dict:
    """Tier-up rate per arm and the ratio treated / control (Katz interval)."""
    up, t = _arrays(up, t)
    x1, n1 = float(up[t].sum()), float(t.sum())
    x2, n2 = float(up[~t].sum()), float((~t).sum())
    return {
        "treatment": {"n": int(n1), "tier_ups": int(x1), "rate": x1 / n1 if n1 else None},
        "control": {"n": int(n2), "tier_ups": int(x2), "rate": x2 / n2 if n2 else None},
        "ratio": ratio_interval(x1, n1, x2, n2, level),
    }
