"""The knobs of a synthetic world (``WorldStyle``): how fast each source publishes, how many
firms default and how (the mix of default kinds), how often healthy firms emit routine events
that look alarming, how often guarantees are released.  Two named styles: ``simple`` (the
original generator, draw for draw: slow distress only, no publication lag) and ``realistic``
(the default).  An evaluation world built "independently" of a training world differs from it
in these parameters (``WorldStyle.perturbed``), not only in its seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields, replace


@dataclass(frozen=True)
class Lag:
    """Publication lag of one source (or one kind): log-normal around ``median_days``,
    clipped to [lo_days, hi_days]."""

    median_days: float
    sigma: float
    lo_days: float
    hi_days: float


def _lags() -> dict[str, Lag]:
    return {
        "news": Lag(0.25, 0.8, 0.01, 3),  # hours
        "registry": Lag(4, 0.7, 0.5, 30),  # days
        "court": Lag(12, 0.5, 2, 60),  # enforcement, listings: days to weeks
        "court:lawsuit_defendant": Lag(45, 0.6, 10, 200),  # lawsuits: weeks to months
        "tax_bureau": Lag(21, 0.4, 7, 60),  # weeks
        "regulator": Lag(14, 0.5, 3, 60),
        "pledge_registry": Lag(3, 0.6, 0.5, 20),
        "rating_agency": Lag(2, 0.6, 0.2, 10),  # days
        "annual_reports": Lag(115, 0.12, 80, 150),  # months after the period end (Dec 31)
        "core_banking": Lag(0.05, 0.5, 0, 1),  # the bank's own: the same day
        "floorplan": Lag(0.1, 0.5, 0, 2),
    }


def _mix() -> dict[str, float]:
    return {"stressed": 0.55, "quiet": 0.25, "sudden": 0.20}


@dataclass(frozen=True)
class WorldStyle:
    name: str = "realistic"
    # publication: lags per source ("source" or "source:kind"); False: published = time
    lags: dict[str, Lag] = field(default_factory=_lags)
    publication_lags: bool = True
    # share of the lawsuits filed in the 180 days before a default published only after it
    lawsuits_published_after_default: float = 0.35
    # financial statements carry the period end as their time, published months later
    reports_at_period_end: bool = True
    # defaults: firms defaulting per year (all kinds), the mix of the firms' own defaults
    # (contagion defaults come on top, through guarantees), the contagion probabilities
    default_rate: float = 0.06
    kind_mix: dict[str, float] = field(default_factory=_mix)
    contagion_default: float = 0.35  # a guarantor of a defaulter defaults too
    contagion_distress: float = 0.20  # ... or is stressed for a while and recovers
    # stressed firms that recover, per stressed defaulter (false-alarm traps)
    survivors_per_stressed_default: float = 0.8
    # routine events of healthy firms (each: probability per firm over the world, or per year)
    noise_enforcement: float = 0.06  # one enforcement case
    noise_late_report_per_year: float = 0.07  # abnormal_operation in Jul-Aug, removed weeks later
    noise_negative_news: float = 0.12  # a burst of 2-4 negative news items
    noise_margin_shortfall: float = 0.30  # one margin shortfall (dealers)
    noise_high_leverage: float = 0.10  # statements with high leverage year after year
    noise_tax_arrears: float = 0.05  # one tax arrears, paid
    noise_short_overdue: float = 0.04  # one overdue of a few days (a technical overdue)
    # guarantees released during the world (their edges end)
    guarantee_release_share: float = 0.25
    # background noise scale (news, lawsuits, penalties) relative to the simple world
    background_scale: float = 1.0

    @property
    def simple(self) -> bool:
        return self.name == "simple"

    def perturbed(self, seed: int, spread: float = 0.3, name: str | None = None) -> WorldStyle:
        """Another world's parameters: every rate, lag median and mix weight scaled by a
        factor in [1 - spread, 1 + spread] (seeded), for an evaluation world built differently
        from the training world."""
        rng = random.Random(f"style-{seed}")

        def jiggle(x: float) -> float:
            return x * rng.uniform(1 - spread, 1 + spread)

        changes: dict = {"name": name or f"{self.name}~{seed}"}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "lags":
                changes["lags"] = {
                    k: replace(v, median_days=min(max(jiggle(v.median_days), v.lo_days), v.hi_days))
                    for k, v in value.items()
                }
            elif f.name == "kind_mix":
                changes["kind_mix"] = {k: jiggle(v) for k, v in value.items()}
            elif isinstance(value, float) and f.name != "background_scale":
                limit = 0.95 if f.name != "survivors_per_stressed_default" else 5.0
                changes[f.name] = min(jiggle(value), limit)
        return replace(self, **changes)


REALISTIC = WorldStyle()
SIMPLE = WorldStyle(
    name="simple",
    publication_lags=False,
    lawsuits_published_after_default=0.0,
    reports_at_period_end=False,
    guarantee_release_share=0.0,
)
STYLES = {"realistic": REALISTIC, "simple": SIMPLE}


def resolve_style(style: str | WorldStyle | None) -> WorldStyle:
    if style is None:
        return REALISTIC
    if isinstance(style, WorldStyle):
        return style
    try:
        return STYLES[style]
    except KeyError:
        raise ValueError(f"unknown world style {style!r}; known: {', '.join(STYLES)}") from None
