"""The realistic world's stories (``WorldStyle`` other than ``simple``): who defaults, when
and how, and what a healthy firm does that looks alarming.

- defaults come at a base rate (``style.default_rate`` a year, about 6%), weaker firms and
  riskier industries more likely, spread over the whole window; each firm's own default is of
  one kind: ``stressed`` (months of rising warning signs, the original story), ``quiet``
  (before it only tax arrears and one lawsuit, maybe a late annual report) or ``sudden``
  (little or no warning: perhaps a short overdue, a bad news item);
- ``contagion``: a guarantor of a defaulter defaults in turn (``style.contagion_default``),
  through guarantees that still stand on the day of the default only; some guarantees are
  released during the world (their edges end);
- stressed firms that recover (``survivor``): months of warning signs, then no default;
- routine events of healthy firms: one enforcement case, a late annual report (on the abnormal
  list in July-August, removed weeks later), a burst of negative news, one margin shortfall
  (dealers), one tax arrears, a technical overdue of a few days, statements with high leverage
  year after year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.risk.synthetic.builder import Builder
from backend.risk.synthetic.population import INDUSTRIES
from backend.risk.synthetic.world import SyntheticEnterprise, iso, money, sigmoid

NEWS_POSITIVE = ["签约重大订单", "获评优秀供应商", "完成新一轮融资", "产能扩张", "年报业绩增长"]
NEWS_NEGATIVE = ["被曝拖欠货款", "高管被调查", "资金链紧张", "大额逾期传闻", "员工讨薪", "停产传闻"]
DEFAULT_WINDOW_TAIL = timedelta(days=180)  # own defaults are drawn up to this after the end


def news(b: Builder, e: SyntheticEnterprise, when: datetime, sentiment: float) -> None:
    title = b.rng.choice(NEWS_NEGATIVE if sentiment < -0.2 else NEWS_POSITIVE)
    b.event(
        e,
        "news",
        "news",
        when,
        title=f"{e.name[:8]}{title}",
        data={"sentiment": round(sentiment, 3)},
    )


# --- who defaults, when and how ----------------------------------------------------------------


def release_guarantees(b: Builder) -> None:
    """Some guarantees are released during the world: their edge ends (``b.edge_ends``) and a
    registry edge record with ``ended`` says so."""
    share = b.style.guarantee_release_share
    if share <= 0:
        return
    for i, (_src, _dst, kind, _share, _amount) in enumerate(b.edges):
        if kind != "guarantee" or b.rng.random() >= share:
            continue
        ended = b.moment(b.start + timedelta(days=30), b.end)
        b.edge_ends[i] = ended
        record = dict(b.edge_records[i])
        record.update(record_id=f"{record['record_id']}-released", time=iso(ended))
        record["ended"] = iso(ended)
        b.release_records.append(record)


def _intercept(healths: list[float], risks: list[float], target: float) -> float:
    """The intercept a with mean(sigmoid(a - 1.3 h + r)) = target (bisection; no draws)."""
    lo, hi = -15.0, 5.0
    for _ in range(60):
        mid = (lo + hi) / 2
        mean = sum(sigmoid(mid - 1.3 * h + r) for h, r in zip(healths, risks, strict=True))
        if mean / len(healths) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def distress(b: Builder, ents: list[SyntheticEnterprise]) -> None:
    """Own defaults (kind and date), stressed survivors, traits, then contagion through the
    guarantees standing on each default day."""
    st, rng = b.style, b.rng
    release_guarantees(b)
    guarantors: dict[int, list[int]] = {}  # borrower -> edge indexes of its guarantees
    for i, (src, dst, kind, _s, _a) in enumerate(b.edges):
        if kind == "guarantee" and src < len(ents):
            guarantors.setdefault(dst, []).append(i)
    lo, hi = b.start + timedelta(days=7), b.end + DEFAULT_WINDOW_TAIL
    years = (hi - lo).days / 365.0
    per_firm = sum(len(v) for v in guarantors.values()) / max(len(ents), 1)
    reach = min(per_firm * (1 - st.guarantee_release_share / 2) * st.contagion_default, 0.6)
    own_rate = st.default_rate * (1 - 0.6 * reach)  # contagion: some fall after the end
    industry_risk = {name: r for _zh, name, r in INDUSTRIES}
    risks = [industry_risk[e.industry] for e in ents]
    a = _intercept([e.health for e in ents], risks, min(own_rate * years, 0.9))
    mix = {k: v for k, v in st.kind_mix.items() if v > 0}
    total = sum(mix.values())
    stressed_share = mix.get("stressed", 0) / total
    for e, risk in zip(ents, risks, strict=True):
        p = sigmoid(a - 1.3 * e.health + risk)
        u = rng.random()
        if e.index <= 1:  # the demo's dealers: DEALER1 sound, DEALER2 planted by the seeder
            continue
        if u < p:
            e.default_kind = _pick(rng.random() * total, mix)
            e.default_date = b.moment(lo, hi)
            if e.default_kind == "stressed":
                e.distress_start = e.default_date - timedelta(days=rng.randint(90, 330))
        elif u < p * (1 + stressed_share * st.survivors_per_stressed_default):
            e.distress_start = b.moment(b.start - timedelta(days=60), b.end - timedelta(days=30))
            e.traits.add("survivor")
        if rng.random() < st.noise_high_leverage:
            e.traits.add("high_leverage")
    _contagion(b, ents, guarantors)


def _pick(x: float, mix: dict[str, float]) -> str:
    for kind, weight in mix.items():
        if x < weight:
            return kind
        x -= weight
    return next(reversed(mix))


def _contagion(
    b: Builder, ents: list[SyntheticEnterprise], guarantors: dict[int, list[int]]
) -> None:
    st, rng = b.style, b.rng
    pending = sorted((e.default_date, e.index) for e in ents if e.default_date)
    done: set[int] = set()
    while pending:
        day, index = pending.pop(0)
        if index in done:
            continue
        done.add(index)
        for edge in guarantors.get(index, []):
            ended = b.edge_ends[edge]
            if ended is not None and ended <= day:
                continue  # released before the default: no claim on the guarantor
            g = ents[b.edges[edge][0]]
            if g.index <= 1 or g.default_date is not None or "survivor" in g.traits:
                continue
            u = rng.random()
            if u < st.contagion_default:
                g.default_kind = "contagion"
                g.distress_start = day + timedelta(days=rng.randint(3, 30))
                g.default_date = g.distress_start + timedelta(days=rng.randint(60, 240))
                g.traits.add(f"guarantor_of:{index}")
                pending.append((g.default_date, g.index))
                pending.sort()
            elif u < st.contagion_default + st.contagion_distress and g.distress_start is None:
                g.distress_start = day + timedelta(days=rng.randint(10, 60))
                g.traits.add("survivor")


# --- warnings before quiet and sudden defaults -------------------------------------------------


def quiet_warnings(b: Builder, e: SyntheticEnterprise) -> None:
    """Before a quiet default: one to three tax arrears, one lawsuit, maybe a late report."""
    rng, d = b.rng, e.default_date
    for _ in range(rng.randint(1, 3)):
        b.event(
            e,
            "tax_bureau",
            "tax_arrears",
            b.moment(d - timedelta(days=240), d - timedelta(days=20)),
            data={"amount": money(10 ** rng.uniform(4.5, 6.3))},
        )
    b.event(
        e,
        "court",
        "lawsuit_defendant",
        b.moment(d - timedelta(days=180), d - timedelta(days=10)),
        data={"amount": money(10 ** rng.uniform(5, 7))},
    )
    if rng.random() < 0.4:
        b.event(
            e,
            "registry",
            "abnormal_operation",
            b.moment(d - timedelta(days=200), d - timedelta(days=30)),
        )


def sudden_warnings(b: Builder, e: SyntheticEnterprise) -> None:
    """Before a sudden default: perhaps a short overdue, perhaps one bad news item."""
    rng, d = b.rng, e.default_date
    if rng.random() < 0.5:
        b.event(
            e,
            "core_banking",
            "overdue_loan",
            d - timedelta(days=rng.randint(5, 25)),
            data={"days_overdue": rng.randint(5, 29), "amount": money(10 ** rng.uniform(5.5, 7))},
        )
    if rng.random() < 0.3:
        news(b, e, d - timedelta(days=rng.randint(1, 30)), rng.uniform(-0.9, -0.4))


# --- routine events of (mostly) healthy firms ------------------------------------------------


def routine_noise(b: Builder, e: SyntheticEnterprise) -> None:
    """Events that look alarming on their own but lead nowhere (every firm may have them;
    the demo's dealers none)."""
    st, rng = b.style, b.rng
    if e.index <= 1:
        return
    lo, hi = b.start - timedelta(days=180), b.end
    if e.default_date and e.default_date <= hi:
        hi = e.default_date
    if hi <= lo:
        return
    if rng.random() < st.noise_enforcement:
        b.event(
            e,
            "court",
            "enforcement",
            b.moment(lo, hi),
            data={"amount": money(10 ** rng.uniform(4, 5.5))},
        )
    for year in range(b.start.year, b.end.year + 1):
        if rng.random() < st.noise_late_report_per_year:
            _late_report(b, e, year)
    if rng.random() < st.noise_negative_news:
        t0 = b.moment(lo, hi)
        for _ in range(rng.randint(2, 4)):
            news(b, e, t0 + timedelta(days=rng.uniform(0, 45)), rng.uniform(-0.85, -0.3))
    if e.dealer and rng.random() < st.noise_margin_shortfall:
        b.event(
            e,
            "floorplan",
            "margin_shortfall",
            b.moment(lo, hi),
            data={"amount": money(10 ** rng.uniform(4.5, 5.8))},
        )
    if rng.random() < st.noise_tax_arrears:
        b.event(
            e,
            "tax_bureau",
            "tax_arrears",
            b.moment(lo, hi),
            data={"amount": money(10 ** rng.uniform(3.5, 5))},
        )
    if rng.random() < st.noise_short_overdue:
        b.event(
            e,
            "core_banking",
            "overdue_loan",
            b.moment(lo, hi),
            data={"days_overdue": rng.randint(1, 9), "amount": money(10 ** rng.uniform(4.5, 6))},
        )


def _late_report(b: Builder, e: SyntheticEnterprise, year: int) -> None:
    """The annual report of ``year - 1`` filed late: on the abnormal list in July-August,
    removed 20-60 days later when the report is in (published that day)."""
    rng = b.rng
    listed = datetime(year, 7, 1, tzinfo=UTC) + timedelta(
        days=rng.randint(0, 61), hours=rng.randint(0, 23)
    )
    removed = listed + timedelta(days=rng.randint(20, 60))
    if listed > b.end:
        return
    b.event(e, "registry", "abnormal_operation", listed)
    b.event(e, "registry", "abnormal_operation_removed", removed)
    period = str(year - 1)
    for record in reversed(b.records["annual_reports"][-6:]):
        if record.get("credit_code") == e.credit_code and record["data"]["period"] == period:
            b.pinned[record["record_id"]] = max(removed - timedelta(days=1), listed)
            break
