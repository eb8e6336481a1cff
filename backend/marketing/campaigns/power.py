"""The power of a campaign's test before launch.

The campaign is judged by a two-sided test at 5% of the difference of two proportions (the
treated arm's conversion rate against the control's), with the arms' sizes the stratified
assignment will give (``assign.arm_sizes``). With baseline rate ``p0`` (the control's expected
rate), the rate ``p1 = p0 + delta`` in the treated arm, ``n_t`` treated and ``n_c`` control:

    power = Φ((|delta| − z · sqrt(p̄(1−p̄)(1/n_t + 1/n_c))) / sqrt(p1(1−p1)/n_t + p0(1−p0)/n_c))

with ``z = z_{1−α/2}`` and ``p̄ = (n_t·p1 + n_c·p0)/(n_t + n_c)`` (the pooled rate under the
null): the normal approximation without continuity correction (Fleiss, *Statistical Methods
for Rates and Proportions*, §4.2; with equal arms of 388 clients it gives 80% power for 0.50
against 0.60, the textbook example). The minimum detectable effect (MDE) at 80% power is the
smallest ``delta`` with power ≥ 0.80, found by bisection. Pure Python (``statistics.NormalDist``).
"""

from __future__ import annotations

import math
from statistics import NormalDist

ALPHA = 0.05
TARGET_POWER = 0.80
_N = NormalDist()


def power(n_t: int, n_c: int, p0: float, delta: float, alpha: float = ALPHA) -> float:
    """The probability that the two-sided test at ``alpha`` rejects when the true uplift is
    ``delta`` (0 when an arm is empty)."""
    if n_t <= 0 or n_c <= 0:
        return 0.0
    p1 = min(max(p0 + delta, 0.0), 1.0)
    pbar = (n_t * p1 + n_c * p0) / (n_t + n_c)
    null_sd = math.sqrt(max(pbar * (1 - pbar), 0.0) * (1 / n_t + 1 / n_c))
    alt_sd = math.sqrt(p1 * (1 - p1) / n_t + p0 * (1 - p0) / n_c)
    if alt_sd == 0:
        return 1.0 if abs(p1 - p0) > 0 else alpha
    z = _N.inv_cdf(1 - alpha / 2)
    d = abs(p1 - p0)
    # both tails (the far tail is negligible but included for exactness)
    return _N.cdf((d - z * null_sd) / alt_sd) + _N.cdf((-d - z * null_sd) / alt_sd)


def mde(n_t: int, n_c: int, p0: float, target: float = TARGET_POWER, alpha: float = ALPHA):
    """The smallest uplift (absolute, in rate points) detected with ``target`` power; None when
    even the largest possible uplift (to a rate of 1) is not."""
    if n_t <= 0 or n_c <= 0 or p0 >= 1.0:
        return None
    hi = 1.0 - p0
    if power(n_t, n_c, p0, hi, alpha) < target:
        return None
    lo = 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if power(n_t, n_c, p0, mid, alpha) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def report(
    sizes: dict[str, tuple[int, int]], p0: float, delta: float, *, baseline_source: str
) -> dict:
    """The power report shown on a draft and stored at launch: per tier (in ``sizes``' order)
    and overall, the arms' sizes, the power to detect ``delta`` and the MDE at 80% power;
    ``baseline_source`` says where ``p0`` comes from (``list_scores`` or ``default``)."""

    def row(n_t: int, n_c: int) -> dict:
        m = mde(n_t, n_c, p0)
        return {
            "treatment": n_t,
            "control": n_c,
            "power": round(power(n_t, n_c, p0, delta), 4),
            "mde": None if m is None else round(m, 4),
        }

    n_t = sum(t for t, _ in sizes.values())
    n_c = sum(c for _, c in sizes.values())
    return {
        "test": "two-sided two-proportion z-test",
        "alpha": ALPHA,
        "target_power": TARGET_POWER,
        "baseline_rate": round(p0, 4),
        "baseline_source": baseline_source,
        "target_uplift": delta,
        "overall": row(n_t, n_c),
        "tiers": [{"tier": tier, **row(t, c)} for tier, (t, c) in sizes.items()],
    }
