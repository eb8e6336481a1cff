"""Model levels with meaning: instead of fixed probability thresholds, choose for each level
the lowest threshold at which the level still keeps the ruleset's promise (``targets`` in the
rule file: 12-month precision and an alert budget), measured on out-of-time rows.

The measures count enterprises, not rows, as a risk committee does:

- precision_12m: of the enterprises flagged at the level (probability at or above the
  threshold at some snapshot), the share that default within 365 days of their first flag;
- alerts_per_week_per_1000: enterprises newly reaching the level from one snapshot to the
  next (the first snapshot's flags are the go-live stock, not alerts), per week, per 1,000
  enterprises alive.

``tune_thresholds(scores, data_rows, targets)`` goes from hard down to weak; a level whose
target no threshold meets (too few flagged, precision out of reach) is left out, so the model
never raises it.  ``level_figures`` measures any scoring (a model's probabilities, or the rule
level as a score) the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from backend.risk import catalog

LEVELS_DOWN = tuple(reversed(catalog.LEVELS))  # hard, strong, medium, weak
MIN_FLAGGED = 5  # fewer flagged enterprises than this is no evidence of precision
# A threshold must meet the precision target with some confidence, not just on the rows it was
# tuned on (the lowest threshold that barely meets it overshoots on new data): the Wilson
# lower bound at one standard error, and the alert budget with 20% headroom.
CONFIDENCE_Z = 1.0
BUDGET_HEADROOM = 0.8


def wilson_lower(hits: int, n: int, z: float = CONFIDENCE_Z) -> float:
    if n <= 0:
        return 0.0
    p = hits / n
    centre = p + z * z / (2 * n)
    margin = z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
    return (centre - margin) / (1 + z * z / n)


def flag_figures(
    flagged: np.ndarray,
    groups: np.ndarray,
    snaps: np.ndarray,
    days_to_default: np.ndarray,
    dates: Sequence[datetime],
    *,
    horizon_days: float = 365.0,
) -> dict[str, Any]:
    """Precision, count and alert rate of a boolean flag over rows (enterprise ``groups`` at
    snapshot indices ``snaps``)."""
    flagged = np.asarray(flagged, dtype=bool)
    keys, g = np.unique(np.asarray(groups), return_inverse=True)
    times, t = np.unique(np.asarray(snaps), return_inverse=True)
    on = np.zeros((len(keys), len(times)), dtype=bool)
    alive = np.zeros_like(on)
    on[g, t] = flagged
    alive[g, t] = True
    rows = np.flatnonzero(flagged)
    first_rows = rows[np.lexsort((t[rows], g[rows]))]
    _unique, first_index = np.unique(g[first_rows], return_index=True)
    first = first_rows[first_index]
    dtd = np.asarray(days_to_default, dtype=float)
    hits = int(np.sum(dtd[first] <= horizon_days))
    soonest = np.full(len(keys), np.inf)
    np.minimum.at(soonest, g, dtd)
    never = np.isinf(soonest)  # firms no default is known for, in these rows
    false_alarms = int(np.sum(never[g[first]]))
    alerts = int((on[:, 1:] & ~on[:, :-1]).sum())
    alive_total = int(alive[:, 1:].sum())
    span = len(times)
    weeks = (dates[int(times[-1])] - dates[int(times[0])]).days / 7.0 if span > 1 else 0.0
    mean_alive = alive_total / (span - 1) if span > 1 else 0.0
    rate = alerts / weeks / mean_alive * 1000 if weeks > 0 and mean_alive > 0 else None
    return {
        "flagged": len(first),
        "defaulted_12m": hits,
        "precision_12m": round(hits / len(first), 4) if len(first) else None,
        "alerts_per_week_per_1000": round(rate, 3) if rate is not None else None,
        "false_alarm_rate": round(false_alarms / int(never.sum()), 4) if never.any() else None,
    }


def tune_thresholds(
    scores: np.ndarray,
    groups: np.ndarray,
    snaps: np.ndarray,
    days_to_default: np.ndarray,
    dates: Sequence[datetime],
    targets: Mapping[str, Mapping[str, float]],
    *,
    candidates: int = 200,
    min_flagged: int = MIN_FLAGGED,
    base_ranks: np.ndarray | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Thresholds per level meeting ``targets`` (a ruleset's ``targets``) on these rows, and
    what each level achieved (or why it was left out).

    With ``base_ranks`` (the level the rules and contagion give each row, 0-4) the targets
    are met by the system as a whole: a row is flagged at a level when the rules flag it or
    the model's probability reaches the threshold, since that is what the bank sees; the
    model then only adds what the level's precision and budget still allow."""
    scores = np.asarray(scores, dtype=float)
    grid = np.unique(np.quantile(scores, np.linspace(0.5, 1.0, candidates))) if len(scores) else []
    grid = [float(t) for t in sorted(grid, reverse=True)]  # high to low
    thresholds: dict[str, float] = {}
    report: dict[str, Any] = {}
    ceiling = np.inf
    for level in LEVELS_DOWN:
        target = targets.get(level)
        if not target:
            continue
        best = None
        for t in grid:
            if t > ceiling:
                continue
            flagged = scores >= t
            if base_ranks is not None:
                flagged = flagged | (np.asarray(base_ranks) >= catalog.level_rank(level))
            figures = flag_figures(flagged, groups, snaps, days_to_default, dates)
            if figures["flagged"] < min_flagged:
                continue
            lower = wilson_lower(figures["defaulted_12m"], figures["flagged"])
            precise = lower >= target["precision_12m"]
            within = (figures["alerts_per_week_per_1000"] or 0) <= BUDGET_HEADROOM * target[
                "max_alerts_per_week_per_1000"
            ] and (figures["false_alarm_rate"] or 0) <= BUDGET_HEADROOM * target.get(
                "max_false_alarm_rate", np.inf
            )
            if precise and within:
                best = (t, figures)  # keep going down: the lowest threshold that still holds
        if best is None:
            report[level] = {
                "threshold": None,
                "target": dict(target),
                "reason": f"no threshold flags {min_flagged}+ enterprises with 12-month "
                f"precision >= {target['precision_12m']:.0%} (lower bound) within "
                f"{BUDGET_HEADROOM:.0%} of {target['max_alerts_per_week_per_1000']:g} "
                "alerts/week/1000"
                + (
                    f" and of a {target['max_false_alarm_rate']:.0%} false-alarm rate"
                    if "max_false_alarm_rate" in target
                    else ""
                ),
            }
            continue
        t, figures = best
        thresholds[level] = round(t, 6)
        ceiling = t
        report[level] = {
            "threshold": round(t, 6),
            "target": dict(target),
            **figures,
            "precision_12m_lower_bound": round(
                wilson_lower(figures["defaulted_12m"], figures["flagged"]), 4
            ),
        }
    return thresholds, report


def level_figures(
    levels: Sequence[str | None] | np.ndarray,
    groups: np.ndarray,
    snaps: np.ndarray,
    days_to_default: np.ndarray,
    dates: Sequence[datetime],
) -> dict[str, Any]:
    """The same figures for graded output (level names, or ranks 0-4) at each level and above."""
    ranks = np.asarray(
        [v if isinstance(v, int | float | np.number) else catalog.level_rank(v) for v in levels],
        dtype=float,
    )
    return {
        level: flag_figures(
            ranks >= catalog.level_rank(level), groups, snaps, days_to_default, dates
        )
        for level in LEVELS_DOWN
    }
