"""What happens to each enterprise: the distress process (weaker enterprises more likely;
guarantors of a defaulter too), and the events every source reports over the years: the
registry profile and the rating agency's view of it, background noise, rising warning signs in
distress, and what follows a default; ratings and annual statements follow latent health."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from backend.risk import catalog
from backend.risk.synthetic import stories
from backend.risk.synthetic.builder import Builder
from backend.risk.synthetic.population import INDUSTRIES
from backend.risk.synthetic.world import SyntheticEnterprise, iso, money, sigmoid


def distress(
    b: Builder, ents: list[SyntheticEnterprise], guarantors_of: dict[int, list[int]]
) -> None:
    """Who enters distress, when, and whether (75%) it ends in default."""
    window_lo = b.start + timedelta(days=150)
    window_hi = b.end + timedelta(days=200)
    for e in ents:
        industry_risk = next(r for _zh, name, r in INDUSTRIES if name == e.industry)
        p = sigmoid(-2.6 - 1.3 * e.health + industry_risk)
        if e.index == 1:
            p = 0.0  # DEALER2's trouble is planted by the demo seeder, not here
        if e.index != 0 and b.rng.random() < p:
            _start_distress(b, e, b.moment(window_lo, window_hi))
    for e in sorted((e for e in ents if e.default_date), key=lambda e: e.default_date):
        for g in guarantors_of.get(e.index, []):
            guarantor = ents[g]
            if guarantor.distress_start is None and guarantor.index > 1 and b.rng.random() < 0.3:
                onset = e.default_date + timedelta(days=b.rng.randint(20, 120))
                _start_distress(b, guarantor, onset, "contagion")


def _start_distress(
    b: Builder, e: SyntheticEnterprise, onset: datetime, kind: str = "stressed"
) -> None:
    e.distress_start = onset
    if b.rng.random() < 0.75:
        e.default_date = onset + timedelta(days=b.rng.randint(90, 330))
        e.default_kind = kind


def history(b: Builder, e: SyntheticEnterprise) -> None:
    """Every source's records about one enterprise (the order of the draws is the world's;
    the simple style's draws are the original generator's)."""
    _profile(b, e)
    _background(b, e)
    if e.default_kind == "quiet":
        stories.quiet_warnings(b, e)
    elif e.default_kind == "sudden":
        stories.sudden_warnings(b, e)
    else:
        _distress_events(b, e, 0.5 if e.default_kind == "contagion" and not b.style.simple else 1)
    _aftermath(b, e)
    _ratings(b, e)
    _financials(b, e)
    if not b.style.simple:
        stories.routine_noise(b, e)


def _profile(b: Builder, e: SyntheticEnterprise) -> None:
    """The registry profile (master data), the rating agency's own (sometimes stale) view of
    it, a capital change now and then, and qualifications."""
    rng = b.rng
    capital = e.registered_capital
    if rng.random() < 0.08:
        cut = b.moment(b.start, b.end)
        new = (capital * Decimal(rng.choice(("0.5", "0.6", "1.5", "2")))).quantize(Decimal("0.01"))
        b.event(e, "registry", "capital_change", cut, data={"old": str(capital), "new": str(new)})
    profile = {
        "registered_capital": str(capital),
        "established_on": e.established_on.isoformat(),
        "status": "in_business",
        "industry": e.industry,
        "region": e.region,
        "legal_representative": "",
        "flags": e.flags,
    }
    profile.pop("legal_representative")
    b.records["registry"].append(
        {
            "record_id": f"profile-{e.credit_code}",
            "type": "profile",
            "credit_code": e.credit_code,
            "name": e.name,
            "time": iso(b.start - timedelta(days=30)),
            "data": profile,
        }
    )
    if e.rated:
        stale = str(capital if rng.random() < 0.97 else capital * 10)
        b.records["rating_agency"].append(
            {
                "record_id": f"rating-profile-{e.credit_code}",
                "type": "profile",
                "credit_code": e.credit_code,
                "name": e.alias.strip(),
                "time": iso(b.start),
                "data": {"registered_capital": stale, "industry": e.industry},
            }
        )
    for flag, title in (("srdi", "专精特新中小企业"), ("high_tech", "高新技术企业")):
        if e.flags[flag]:
            b.event(e, "registry", "honor", b.moment(b.start, b.end), data={"title": title})


def _background(b: Builder, e: SyntheticEnterprise) -> None:
    """Noise everybody emits: news of mixed sentiment, the odd lawsuit, penalty, tax issue,
    executive change, pledge or move; alerts of a dealer's vehicles."""
    rng = b.rng
    lo, hi = b.start - timedelta(days=365), b.end
    scale = (1.0 + max(e.size, 0)) * b.style.background_scale
    risk = math.exp(-0.4 * e.health)
    for t in b.poisson_times(3.0 * scale, lo, hi):
        s = max(-1.0, min(1.0, rng.gauss(0.2 + 0.08 * e.health, 0.35)))
        _news(b, e, t, s)
    for t in b.poisson_times(0.2 * risk * scale, lo, hi):
        b.event(
            e,
            "court",
            "lawsuit_defendant",
            t,
            data={"amount": money(10 ** rng.uniform(4.5, 6.8))},
        )
    for t in b.poisson_times(0.15 * risk, lo, hi):
        b.event(
            e,
            "regulator",
            "administrative_penalty",
            t,
            data={"amount": money(10 ** rng.uniform(3.5, 5.5))},
        )
    for t in b.poisson_times(0.03 * risk, lo, hi):
        b.event(
            e,
            "tax_bureau",
            "tax_violation",
            t,
            data={"amount": money(10 ** rng.uniform(4, 6))},
        )
    for t in b.poisson_times(0.3, lo, hi):
        b.event(
            e,
            "registry",
            "executive_change",
            t,
            data={"role": rng.choice(("director", "manager", "supervisor"))},
        )
    for t in b.poisson_times(0.15, lo, hi):
        b.event(
            e,
            "pledge_registry",
            "equity_pledge",
            t,
            data={"share": round(rng.uniform(0.05, 0.3), 3)},
        )
    for t in b.poisson_times(0.08, lo, hi):
        b.event(e, "registry", "address_change", t)
    if e.dealer:
        for t in b.poisson_times(1.0 * risk, lo, hi):
            b.event(
                e,
                "floorplan",
                "vehicle_alert",
                t,
                data={"vin": f"LSV{rng.randrange(10**13):013d}"},
            )


def _distress_events(b: Builder, e: SyntheticEnterprise, intensity: float = 1) -> None:
    """Warning signs with rising intensity from the onset of distress to default (or
    recovery): negative news, lawsuits, tax arrears, pledges and freezes, executive churn,
    overdue loans and margin shortfalls before a default (``intensity`` scales the rates: a
    guarantor dragged down by a partner shows fewer signs of its own)."""
    rng, k = b.rng, intensity
    onset, default = e.distress_start, e.default_date
    stop = default or (onset + timedelta(days=rng.randint(90, 200)) if onset else None)
    if onset and onset < b.end:
        span = max((stop - onset).days, 30)
        for t in b.poisson_times(14.0 * k, onset, stop):
            _news(b, e, t, max(-1.0, min(1.0, rng.gauss(-0.6, 0.25))))
        late = onset + timedelta(days=span * 0.4)
        for t in b.poisson_times(3.0 * k, onset, late) + b.poisson_times(7.0 * k, late, stop):
            b.event(
                e,
                "court",
                "lawsuit_defendant",
                t,
                data={"amount": money(10 ** rng.uniform(5, 7.3))},
            )
        for t in b.poisson_times(2.0 * k, onset, stop):
            b.event(
                e,
                "tax_bureau",
                "tax_arrears",
                t,
                data={"amount": money(10 ** rng.uniform(4.5, 6.5))},
            )
        for t in b.poisson_times(2.0 * k, onset, stop):
            b.event(
                e,
                "pledge_registry",
                "equity_pledge",
                t,
                data={"share": round(rng.uniform(0.1, 0.5), 3)},
            )
        for t in b.poisson_times(1.5 * k, late, stop):
            b.event(
                e,
                "pledge_registry",
                "equity_freeze",
                t,
                data={"share": round(rng.uniform(0.1, 0.6), 3)},
            )
        for t in b.poisson_times(2.0 * k, onset, stop):
            b.event(e, "registry", "executive_change", t, data={"role": "legal_representative"})
        if rng.random() < 0.3:
            b.event(e, "tax_bureau", "tax_violation", b.moment(late, stop), data={"major": True})
        if default:
            for days, lo_d, hi_d in ((55, 10, 29), (25, 31, 80)):
                if rng.random() < 0.8:
                    b.event(
                        e,
                        "core_banking",
                        "overdue_loan",
                        default - timedelta(days=days + rng.randint(-10, 10)),
                        data={
                            "days_overdue": rng.randint(lo_d, hi_d),
                            "amount": money(10 ** rng.uniform(5.5, 7.5)),
                        },
                    )
            if e.dealer:
                for _ in range(rng.randint(1, 3)):
                    b.event(
                        e,
                        "floorplan",
                        "margin_shortfall",
                        b.moment(late, default),
                        data={"amount": money(10 ** rng.uniform(5, 6.5))},
                    )


def _aftermath(b: Builder, e: SyntheticEnterprise) -> None:
    """What follows a default (enforcement, dishonest-debtor listing, restrictions, the
    abnormal list, liquidation); a healthy enterprise may briefly be on the abnormal list."""
    rng = b.rng
    onset, default = e.distress_start, e.default_date
    if default and default <= b.end:
        b.event(
            e,
            "core_banking",
            "loan_default",
            default,
            data={"amount": money(10 ** rng.uniform(6, 8))},
        )
        b.event(
            e,
            "core_banking",
            "overdue_loan",
            default + timedelta(days=1),
            data={"days_overdue": 91},
        )
        b.event(
            e,
            "court",
            "enforcement",
            default + timedelta(days=rng.randint(30, 90)),
            data={"amount": money(10 ** rng.uniform(6, 8))},
        )
        b.event(e, "court", "dishonest_debtor", default + timedelta(days=rng.randint(60, 200)))
        b.event(
            e,
            "court",
            "consumption_restriction",
            default + timedelta(days=rng.randint(60, 220)),
        )
        if rng.random() < 0.4:
            b.event(
                e,
                "registry",
                "abnormal_operation",
                default + timedelta(days=rng.randint(90, 300)),
            )
        if rng.random() < 0.3:
            b.event(
                e,
                "registry",
                "status_change",
                default + timedelta(days=rng.randint(200, 400)),
                data={"status": "liquidation"},
            )
    elif not onset and rng.random() < 0.03:  # a healthy enterprise briefly on the abnormal list
        t = b.moment(b.start, b.end)
        b.event(e, "registry", "abnormal_operation", t)
        b.event(
            e, "registry", "abnormal_operation_removed", t + timedelta(days=rng.randint(20, 90))
        )


_news = stories.news


def _health_at(b: Builder, e: SyntheticEnterprise, when: datetime) -> float:
    if e.distress_start and when >= e.distress_start:
        end = e.default_date or e.distress_start + timedelta(days=200)
        progress = min(
            max((when - e.distress_start).days / max((end - e.distress_start).days, 1), 0), 1.5
        )
        if e.default_date or progress < 1:
            return e.health - 1.0 - 2.0 * progress
    return e.health


def _ratings(b: Builder, e: SyntheticEnterprise) -> None:
    if not e.rated:
        return
    previous = None
    t = b.start - timedelta(days=b.rng.randint(0, 300))
    while t <= b.end:
        h = _health_at(b, e, t) + b.rng.gauss(0, 0.1)
        index = int(min(max(round(7 - 3.2 * h), 0), len(catalog.RATINGS) - 1))
        rating = catalog.RATINGS[index]
        if rating != previous:
            data = {"rating": rating, "agency": "Demo Ratings"}
            if previous:
                data["previous"] = previous
            b.event(e, "rating_agency", "rating_change", t, data=data)
            previous = rating
        t += timedelta(days=b.rng.choice((90, 120, 180)) if e.distress_start else 365)


def _financials(b: Builder, e: SyntheticEnterprise) -> None:
    revenue = 10 ** (7.5 + 0.6 * e.size)
    for year in range(b.start.year - 1, b.end.year + 1):
        when = datetime(year, 4, 20, tzinfo=UTC) + timedelta(days=b.rng.randint(0, 20))
        h = _health_at(b, e, when) + b.rng.gauss(0, 0.35)
        assets = revenue * b.rng.uniform(0.8, 1.6)
        debt_ratio = min(max(sigmoid(-0.1 - 0.8 * h), 0.08), 1.3)
        liabilities = assets * debt_ratio
        current_liabilities = liabilities * b.rng.uniform(0.5, 0.8)
        current_assets = current_liabilities * max(1.5 + 0.3 * h + b.rng.gauss(0, 0.15), 0.2)
        revenue *= math.exp(0.05 + 0.08 * h + b.rng.gauss(0, 0.05))
        if "high_leverage" in e.traits:  # geared year after year, and never defaults for it
            debt_ratio = max(debt_ratio, 0.82 + 0.1 * b.rng.random())
            liabilities = assets * debt_ratio
            current_liabilities = liabilities * 0.7
            current_assets = current_liabilities * (0.85 + 0.2 * b.rng.random())
        if b.style.reports_at_period_end:  # the period's end; published months later
            when = datetime(year - 1, 12, 31, tzinfo=UTC)
        b.event(
            e,
            "annual_reports",
            "financial_report",
            when,
            data={
                "period": str(year - 1),
                "total_assets": money(assets),
                "total_liabilities": money(liabilities),
                "current_assets": money(current_assets),
                "current_liabilities": money(current_liabilities),
                "revenue": money(revenue),
                "net_profit": str(Decimal(revenue * (0.02 + 0.03 * h)).quantize(Decimal("0.01"))),
                "operating_cash_flow": str(
                    Decimal(liabilities * (0.05 + 0.08 * h)).quantize(Decimal("0.01"))
                ),
            },
        )
