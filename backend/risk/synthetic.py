"""Synthetic enterprises, knowledge graphs and event histories with planted risk and a
ground truth (which enterprises default, and when), for the demo, tests and benchmarks.

The generative story, so that the figures mean something:

- every enterprise has a latent health (normal), a size, an industry and a region;
- groups (a core holding 51-100% of 2-6 members), persons holding equity and sitting as
  legal representatives, guarantees mostly within a group or region plus planted guarantee
  circles and mutual pairs, and core buyers with many suppliers;
- a distress process: weaker enterprises enter distress with a higher probability; in distress
  they emit warning events with rising intensity (negative news, lawsuits, tax arrears, equity
  pledges and freezes, executive churn, rating downgrades, worse statements, then overdue
  loans); 75% default 90-330 days after onset, the rest recover (false alarms by design);
  after default come enforcement, dishonest-debtor listing and consumption restriction;
- contagion: guarantors of a defaulter enter distress with raised probability;
- everyone emits background noise (news of mixed sentiment, the odd lawsuit or penalty);
- sources spell names differently (full- and half-width brackets, spacing) and news items
  often carry only a name, so that entity resolution is exercised; the rating agency
  sometimes reports a stale registered capital (a source difference).

``generate(n, seed)`` returns a ``World``: feed records per source (the documented feed
format, so that the demo loads through the same ingestion path), ``histories()`` and
``graph()`` for in-memory evaluation, and ``defaults`` (the ground truth).  ``bench_graph``
makes large graphs (millions of nodes) as arrays only.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from backend.risk import catalog
from backend.risk.creditcode import make_credit_code
from backend.risk.graph import GraphData
from backend.risk.history import EnterpriseHistory, EventView

REGIONS = [
    ("上海", "310000"),
    ("北京", "110000"),
    ("深圳", "440300"),
    ("杭州", "330100"),
    ("苏州", "320500"),
    ("广州", "440100"),
    ("成都", "510100"),
    ("武汉", "420100"),
    ("南京", "320100"),
    ("天津", "120000"),
]
SYLLABLES = "华鑫泰达盛恒通宏远佳瑞丰和信安德隆兴源光明新捷海天正元汇博凯百嘉益"
INDUSTRIES = [
    ("科技", "technology", 0.0),
    ("贸易", "trade", 0.3),
    ("实业", "manufacturing", 0.1),
    ("机械", "machinery", 0.1),
    ("汽车销售", "auto_dealer", 0.2),
    ("物流", "logistics", 0.2),
    ("建设", "construction", 0.5),
    ("化工", "chemicals", 0.3),
    ("纺织", "textiles", 0.4),
    ("电子", "electronics", 0.0),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
SOURCES = {
    "registry": "registry",
    "court": "judicial",
    "regulator": "penalty",
    "tax_bureau": "tax",
    "pledge_registry": "equity",
    "news": "sentiment",
    "rating_agency": "rating",
    "annual_reports": "financials",
    "core_banking": "internal",
    "floorplan": "internal",
}
NEWS_POSITIVE = ["签约重大订单", "获评优秀供应商", "完成新一轮融资", "产能扩张", "年报业绩增长"]
NEWS_NEGATIVE = ["被曝拖欠货款", "高管被调查", "资金链紧张", "大额逾期传闻", "员工讨薪", "停产传闻"]


@dataclass
class SyntheticEnterprise:
    index: int
    credit_code: str
    name: str
    alias: str
    industry: str
    region: str
    established_on: date
    registered_capital: Decimal
    health: float
    size: float
    flags: dict[str, bool]
    rated: bool
    dealer: bool = False
    distress_start: datetime | None = None
    default_date: datetime | None = None


@dataclass
class World:
    start: datetime
    end: datetime
    enterprises: list[SyntheticEnterprise]
    persons: list[tuple[str, str]]
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    edges: list[tuple[int, int, str, float | None, float | None]] = field(default_factory=list)
    seed: int = 0

    @property
    def defaults(self) -> dict[str, datetime | None]:
        """Ground truth: credit code -> default date (None: never defaults)."""
        return {e.credit_code: e.default_date for e in self.enterprises}

    def feed(self, until: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
        """Feed records per source with a source time at or before ``until``."""
        until = until or self.end
        out = {}
        for source, records in self.records.items():
            out[source] = [r for r in records if _record_time(r) <= until]
        return out

    def histories(self) -> list[EnterpriseHistory]:
        """In-memory histories with ground-truth default dates (for evaluation)."""
        events: list[list[EventView]] = [[] for _ in self.enterprises]
        by_code = {e.credit_code: e.index for e in self.enterprises}
        by_alias = {e.alias: e.index for e in self.enterprises}
        counter = 0
        for source, records in self.records.items():
            for r in records:
                if r.get("type", "event") != "event":
                    continue
                index = by_code.get(r.get("credit_code")) if r.get("credit_code") else None
                if index is None:
                    index = by_alias[r["name"]]
                counter += 1
                kind = catalog.KINDS[r["kind"]]
                events[index].append(
                    EventView(
                        counter,
                        r["kind"],
                        kind.category,
                        source,
                        catalog.severity_rank(r.get("severity", kind.severity)),
                        _record_time(r),
                        r.get("data", {}),
                        r.get("title"),
                    )
                )
        return [
            EnterpriseHistory(
                key=e.index,
                name=e.name,
                credit_code=e.credit_code,
                status="in_business",
                registered_capital=float(e.registered_capital),
                established_on=e.established_on,
                attributes={"flags": e.flags},
                events=events[e.index],
                default_date=e.default_date,
            )
            for e in self.enterprises
        ]

    def graph(self) -> GraphData:
        ne = len(self.enterprises)
        if not self.edges:
            return GraphData.empty(ne)
        src, dst, kind, share, amount = zip(*self.edges, strict=True)
        return GraphData(
            n_enterprises=ne,
            n_persons=len(self.persons),
            src=np.asarray(src, dtype=np.int64),
            dst=np.asarray(dst, dtype=np.int64),
            kind=np.asarray([catalog.EDGE_KIND_CODE[k] for k in kind], dtype=np.int8),
            share=np.asarray([np.nan if s is None else s for s in share], dtype=float),
            amount=np.asarray([0.0 if a is None else a for a in amount], dtype=float),
        )


def _record_time(record: dict) -> datetime:
    return datetime.fromisoformat(record["time"].replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(amount: float) -> str:
    return str(Decimal(max(amount, 1.0)).quantize(Decimal("0.01")))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Builder:
    def __init__(self, n: int, seed: int, end: datetime, years: float):
        self.n = n
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.end = end
        self.start = end - timedelta(days=round(365 * years))
        self.records: dict[str, list[dict]] = {s: [] for s in SOURCES}
        self.edges: list[tuple[int, int, str, float | None, float | None]] = []
        self.edge_records: list[dict] = []
        self.seq = 0
        self.persons: list[tuple[str, str]] = []

    # --- helpers ---------------------------------------------------------------------------
    def rid(self, source: str) -> str:
        self.seq += 1
        return f"{source}-{self.seq:08d}"

    def moment(self, lo: datetime, hi: datetime) -> datetime:
        span = max((hi - lo).total_seconds(), 1.0)
        return (lo + timedelta(seconds=self.rng.uniform(0, span))).replace(microsecond=0)

    def poisson_times(self, rate_per_year: float, lo: datetime, hi: datetime) -> list[datetime]:
        lo, hi = max(lo, self.start), min(hi, self.end)
        if hi <= lo or rate_per_year <= 0:
            return []
        years = (hi - lo).days / 365.0
        return sorted(self.moment(lo, hi) for _ in range(self.np.poisson(rate_per_year * years)))

    def event(self, ent: SyntheticEnterprise, source: str, kind: str, when: datetime, **kw):
        if when > self.end or when < self.start - timedelta(days=800):
            return
        record = {"record_id": self.rid(source), "kind": kind, "time": _iso(when)}
        if source == "news" and self.rng.random() < 0.5:
            record["name"] = ent.alias  # news often carries only a (differently spelled) name
        else:
            record["credit_code"] = ent.credit_code
            record["name"] = ent.name
        record.update(kw)
        self.records[source].append(record)

    # --- population ------------------------------------------------------------------------
    def enterprises(self) -> list[SyntheticEnterprise]:
        out = []
        used: set[str] = set()
        for i in range(self.n):
            region, region_code = REGIONS[self.rng.randrange(len(REGIONS))]
            industry_zh, industry, _risk = INDUSTRIES[self.rng.randrange(len(INDUSTRIES))]
            if i < 2:
                industry_zh, industry = "汽车销售", "auto_dealer"
            brand = "".join(self.rng.sample(SYLLABLES, 2))
            bracket = self.rng.random() < 0.3
            name = (
                f"{brand}{industry_zh}（{region}）有限公司"
                if bracket
                else f"{region}{brand}{industry_zh}有限公司"
            )
            while name in used:
                brand += SYLLABLES[self.rng.randrange(len(SYLLABLES))]
                name = (
                    f"{brand}{industry_zh}（{region}）有限公司"
                    if bracket
                    else f"{region}{brand}{industry_zh}有限公司"
                )
            used.add(name)
            alias = name.replace("（", "(").replace("）", ")") if bracket else f"{name} "
            if not bracket and self.rng.random() < 0.5:
                alias = f" {region} {name[len(region) :]}"
            size = self.np.normal(0.0, 1.0)
            health = self.np.normal(0.0, 1.0)
            if i == 0:
                health = 2.5  # DEALER1 in the demo: sound
            capital = Decimal(round(10 ** (6.7 + 0.6 * size), -4)).quantize(Decimal("0.01"))
            established = (self.end - timedelta(days=self.rng.randint(200, 25 * 365))).date()
            out.append(
                SyntheticEnterprise(
                    index=i,
                    credit_code=make_credit_code(100_000 + i, region=region_code),
                    name=name,
                    alias=alias,
                    industry=industry,
                    region=region,
                    established_on=established,
                    registered_capital=capital,
                    health=float(health),
                    size=float(size),
                    flags={
                        "srdi": bool(health > 0.5 and self.rng.random() < 0.12),
                        "high_tech": bool(
                            industry in ("technology", "electronics") and self.rng.random() < 0.4
                        ),
                    },
                    rated=self.rng.random() < 0.35 + 0.2 * (size > 0.8),
                    dealer=industry == "auto_dealer",
                )
            )
        return out

    def graph(self, ents: list[SyntheticEnterprise]) -> None:
        n, rng = len(ents), self.rng
        n_persons = max(1, int(n * 0.6))
        self.persons = [
            (
                f"P{i:07d}",
                rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2)))),
            )
            for i in range(n_persons)
        ]

        def add(
            src: int, dst: int, kind: str, share=None, amount=None, role=None, src_person=False
        ):
            node = src + n if src_person else src
            self.edges.append((node, dst, kind, share, amount))
            frm = (
                {"person_key": self.persons[src][0], "name": self.persons[src][1]}
                if src_person
                else {"credit_code": ents[src].credit_code}
            )
            record = {
                "record_id": f"edge-{kind}-{'p' if src_person else 'e'}{src}-{dst}",
                "type": "edge",
                "kind": kind,
                "from": frm,
                "to": {"credit_code": ents[dst].credit_code},
                "time": _iso(self.start),
            }
            if share is not None:
                record["share"] = round(share, 4)
            if amount is not None:
                record["amount"] = _money(amount)
            if role:
                record["role"] = role
            self.edge_records.append(record)

        seen: set[tuple[int, int, str]] = set()

        def once(src, dst, kind, **kw):
            key = (src + (n if kw.get("src_person") else 0), dst, kind)
            if (src == dst and not kw.get("src_person")) or key in seen:
                return
            seen.add(key)
            add(src, dst, kind, **kw)

        # groups: a core holds most of 2-6 members
        self.group_of = [-1] * n
        cores = [i for i in range(n) if rng.random() < 0.08]
        free = [i for i in range(n) if i not in set(cores)]
        rng.shuffle(free)
        for core in cores:
            for _ in range(rng.randint(2, 6)):
                if not free:
                    break
                member = free.pop()
                self.group_of[member] = core
                once(member, core, "group")
                once(core, member, "equity", share=rng.uniform(0.51, 1.0))
        # persons: legal representative and shareholders
        for i in range(n):
            rep = rng.randrange(n_persons)
            once(rep, i, "executive", role="legal_representative", src_person=True)
            if self.group_of[i] < 0:
                left = 1.0
                for _ in range(rng.randint(1, 3)):
                    share = round(rng.uniform(0.1, left), 4) if left > 0.1 else 0
                    if share <= 0:
                        break
                    left -= share
                    once(rng.randrange(n_persons), i, "equity", share=share, src_person=True)
            if rng.random() < 0.05 and n > 1:  # minority investment between enterprises
                once(rng.randrange(n), i, "investment", share=rng.uniform(0.05, 0.3))
        # guarantees: local (same group or nearby index), planted circles and mutual pairs
        for i in range(n):
            if rng.random() < 0.3:
                for _ in range(rng.randint(1, 2)):
                    if self.group_of[i] >= 0 and rng.random() < 0.5:
                        j = self.group_of[i]
                    else:
                        j = min(n - 1, max(0, i + rng.randint(-40, 40)))
                    once(
                        i,
                        j,
                        "guarantee",
                        amount=float(ents[j].registered_capital) * rng.uniform(0.2, 1.5),
                    )
        order = list(range(2, n))
        rng.shuffle(order)
        k = 0
        while k < len(order) * 0.04:
            size = rng.randint(2, 6)
            ring = order[k : k + size]
            k += size
            for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
                once(
                    a,
                    b,
                    "guarantee",
                    amount=float(ents[b].registered_capital) * rng.uniform(0.3, 1.0),
                )
        # trade: core buyers with many suppliers
        for buyer in (i for i in range(n) if rng.random() < 0.04):
            for _ in range(rng.randint(10, 30)):
                once(rng.randrange(n), buyer, "trade", amount=None)
        self.guarantors_of: dict[int, list[int]] = {}
        for src, dst, kind, _s, _a in self.edges:
            if kind == "guarantee":
                self.guarantors_of.setdefault(dst, []).append(src)

    # --- the risk process ---------------------------------------------------------------------
    def distress(self, ents: list[SyntheticEnterprise]) -> None:
        window_lo = self.start + timedelta(days=150)
        window_hi = self.end + timedelta(days=200)
        for e in ents:
            industry_risk = next(r for _zh, name, r in INDUSTRIES if name == e.industry)
            p = _sigmoid(-2.6 - 1.3 * e.health + industry_risk)
            if e.index == 1:
                p = 0.0  # DEALER2's trouble is planted by the demo seeder, not here
            if e.index != 0 and self.rng.random() < p:
                self._start_distress(e, self.moment(window_lo, window_hi))
        for e in sorted((e for e in ents if e.default_date), key=lambda e: e.default_date):
            for g in self.guarantors_of.get(e.index, []):
                guarantor = ents[g]
                if (
                    guarantor.distress_start is None
                    and guarantor.index > 1
                    and self.rng.random() < 0.3
                ):
                    onset = e.default_date + timedelta(days=self.rng.randint(20, 120))
                    self._start_distress(guarantor, onset)

    def _start_distress(self, e: SyntheticEnterprise, onset: datetime) -> None:
        e.distress_start = onset
        if self.rng.random() < 0.75:
            e.default_date = onset + timedelta(days=self.rng.randint(90, 330))

    def history(self, e: SyntheticEnterprise) -> None:
        rng = self.rng
        lo, hi = self.start - timedelta(days=365), self.end
        scale = 1.0 + max(e.size, 0)
        risk = math.exp(-0.4 * e.health)
        # registry profile (master data) and the rating agency's own (sometimes stale) view
        capital = e.registered_capital
        cut = None
        if rng.random() < 0.08:
            cut = self.moment(self.start, self.end)
            new = (capital * Decimal(rng.choice(("0.5", "0.6", "1.5", "2")))).quantize(
                Decimal("0.01")
            )
            self.event(
                e, "registry", "capital_change", cut, data={"old": str(capital), "new": str(new)}
            )
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
        self.records["registry"].append(
            {
                "record_id": f"profile-{e.credit_code}",
                "type": "profile",
                "credit_code": e.credit_code,
                "name": e.name,
                "time": _iso(self.start - timedelta(days=30)),
                "data": profile,
            }
        )
        if e.rated:
            stale = str(capital if rng.random() < 0.97 else capital * 10)
            self.records["rating_agency"].append(
                {
                    "record_id": f"rating-profile-{e.credit_code}",
                    "type": "profile",
                    "credit_code": e.credit_code,
                    "name": e.alias.strip(),
                    "time": _iso(self.start),
                    "data": {"registered_capital": stale, "industry": e.industry},
                }
            )
        for flag, title in (("srdi", "专精特新中小企业"), ("high_tech", "高新技术企业")):
            if e.flags[flag]:
                self.event(
                    e, "registry", "honor", self.moment(self.start, self.end), data={"title": title}
                )
        # background noise
        for t in self.poisson_times(3.0 * scale, lo, hi):
            s = max(-1.0, min(1.0, rng.gauss(0.2 + 0.08 * e.health, 0.35)))
            self._news(e, t, s)
        for t in self.poisson_times(0.2 * risk * scale, lo, hi):
            self.event(
                e,
                "court",
                "lawsuit_defendant",
                t,
                data={"amount": _money(10 ** rng.uniform(4.5, 6.8))},
            )
        for t in self.poisson_times(0.15 * risk, lo, hi):
            self.event(
                e,
                "regulator",
                "administrative_penalty",
                t,
                data={"amount": _money(10 ** rng.uniform(3.5, 5.5))},
            )
        for t in self.poisson_times(0.03 * risk, lo, hi):
            self.event(
                e,
                "tax_bureau",
                "tax_violation",
                t,
                data={"amount": _money(10 ** rng.uniform(4, 6))},
            )
        for t in self.poisson_times(0.3, lo, hi):
            self.event(
                e,
                "registry",
                "executive_change",
                t,
                data={"role": rng.choice(("director", "manager", "supervisor"))},
            )
        for t in self.poisson_times(0.15, lo, hi):
            self.event(
                e,
                "pledge_registry",
                "equity_pledge",
                t,
                data={"share": round(rng.uniform(0.05, 0.3), 3)},
            )
        for t in self.poisson_times(0.08, lo, hi):
            self.event(e, "registry", "address_change", t)
        if e.dealer:
            for t in self.poisson_times(1.0 * risk, lo, hi):
                self.event(
                    e,
                    "floorplan",
                    "vehicle_alert",
                    t,
                    data={"vin": f"LSV{rng.randrange(10**13):013d}"},
                )
        # distress: rising intensity towards default (or recovery)
        onset, default = e.distress_start, e.default_date
        stop = default or (onset + timedelta(days=rng.randint(90, 200)) if onset else None)
        if onset and onset < self.end:
            span = max((stop - onset).days, 30)
            for t in self.poisson_times(14.0, onset, stop):
                self._news(e, t, max(-1.0, min(1.0, rng.gauss(-0.6, 0.25))))
            late = onset + timedelta(days=span * 0.4)
            for t in self.poisson_times(3.0, onset, late) + self.poisson_times(7.0, late, stop):
                self.event(
                    e,
                    "court",
                    "lawsuit_defendant",
                    t,
                    data={"amount": _money(10 ** rng.uniform(5, 7.3))},
                )
            for t in self.poisson_times(2.0, onset, stop):
                self.event(
                    e,
                    "tax_bureau",
                    "tax_arrears",
                    t,
                    data={"amount": _money(10 ** rng.uniform(4.5, 6.5))},
                )
            for t in self.poisson_times(2.0, onset, stop):
                self.event(
                    e,
                    "pledge_registry",
                    "equity_pledge",
                    t,
                    data={"share": round(rng.uniform(0.1, 0.5), 3)},
                )
            for t in self.poisson_times(1.5, late, stop):
                self.event(
                    e,
                    "pledge_registry",
                    "equity_freeze",
                    t,
                    data={"share": round(rng.uniform(0.1, 0.6), 3)},
                )
            for t in self.poisson_times(2.0, onset, stop):
                self.event(
                    e, "registry", "executive_change", t, data={"role": "legal_representative"}
                )
            if rng.random() < 0.3:
                self.event(
                    e, "tax_bureau", "tax_violation", self.moment(late, stop), data={"major": True}
                )
            if default:
                for days, lo_d, hi_d in ((55, 10, 29), (25, 31, 80)):
                    if rng.random() < 0.8:
                        self.event(
                            e,
                            "core_banking",
                            "overdue_loan",
                            default - timedelta(days=days + rng.randint(-10, 10)),
                            data={
                                "days_overdue": rng.randint(lo_d, hi_d),
                                "amount": _money(10 ** rng.uniform(5.5, 7.5)),
                            },
                        )
                if e.dealer:
                    for _ in range(rng.randint(1, 3)):
                        self.event(
                            e,
                            "floorplan",
                            "margin_shortfall",
                            self.moment(late, default),
                            data={"amount": _money(10 ** rng.uniform(5, 6.5))},
                        )
        if default and default <= self.end:
            self.event(
                e,
                "core_banking",
                "loan_default",
                default,
                data={"amount": _money(10 ** rng.uniform(6, 8))},
            )
            self.event(
                e,
                "core_banking",
                "overdue_loan",
                default + timedelta(days=1),
                data={"days_overdue": 91},
            )
            self.event(
                e,
                "court",
                "enforcement",
                default + timedelta(days=rng.randint(30, 90)),
                data={"amount": _money(10 ** rng.uniform(6, 8))},
            )
            self.event(
                e, "court", "dishonest_debtor", default + timedelta(days=rng.randint(60, 200))
            )
            self.event(
                e,
                "court",
                "consumption_restriction",
                default + timedelta(days=rng.randint(60, 220)),
            )
            if rng.random() < 0.4:
                self.event(
                    e,
                    "registry",
                    "abnormal_operation",
                    default + timedelta(days=rng.randint(90, 300)),
                )
            if rng.random() < 0.3:
                self.event(
                    e,
                    "registry",
                    "status_change",
                    default + timedelta(days=rng.randint(200, 400)),
                    data={"status": "liquidation"},
                )
        elif not onset and rng.random() < 0.03:  # a healthy enterprise briefly on the abnormal list
            t = self.moment(self.start, self.end)
            self.event(e, "registry", "abnormal_operation", t)
            self.event(
                e, "registry", "abnormal_operation_removed", t + timedelta(days=rng.randint(20, 90))
            )
        self._ratings(e)
        self._financials(e)

    def _news(self, e: SyntheticEnterprise, when: datetime, sentiment: float) -> None:
        title = self.rng.choice(NEWS_NEGATIVE if sentiment < -0.2 else NEWS_POSITIVE)
        self.event(
            e,
            "news",
            "news",
            when,
            title=f"{e.name[:8]}{title}",
            data={"sentiment": round(sentiment, 3)},
        )

    def _health_at(self, e: SyntheticEnterprise, when: datetime) -> float:
        if e.distress_start and when >= e.distress_start:
            end = e.default_date or e.distress_start + timedelta(days=200)
            progress = min(
                max((when - e.distress_start).days / max((end - e.distress_start).days, 1), 0), 1.5
            )
            if e.default_date or progress < 1:
                return e.health - 1.0 - 2.0 * progress
        return e.health

    def _ratings(self, e: SyntheticEnterprise) -> None:
        if not e.rated:
            return
        previous = None
        t = self.start - timedelta(days=self.rng.randint(0, 300))
        while t <= self.end:
            h = self._health_at(e, t) + self.rng.gauss(0, 0.1)
            index = int(min(max(round(7 - 3.2 * h), 0), len(catalog.RATINGS) - 1))
            rating = catalog.RATINGS[index]
            if rating != previous:
                data = {"rating": rating, "agency": "Demo Ratings"}
                if previous:
                    data["previous"] = previous
                self.event(e, "rating_agency", "rating_change", t, data=data)
                previous = rating
            t += timedelta(days=self.rng.choice((90, 120, 180)) if e.distress_start else 365)

    def _financials(self, e: SyntheticEnterprise) -> None:
        revenue = 10 ** (7.5 + 0.6 * e.size)
        for year in range(self.start.year - 1, self.end.year + 1):
            when = datetime(year, 4, 20, tzinfo=UTC) + timedelta(days=self.rng.randint(0, 20))
            h = self._health_at(e, when) + self.rng.gauss(0, 0.35)
            assets = revenue * self.rng.uniform(0.8, 1.6)
            debt_ratio = min(max(_sigmoid(-0.1 - 0.8 * h), 0.08), 1.3)
            liabilities = assets * debt_ratio
            current_liabilities = liabilities * self.rng.uniform(0.5, 0.8)
            current_assets = current_liabilities * max(1.5 + 0.3 * h + self.rng.gauss(0, 0.15), 0.2)
            revenue *= math.exp(0.05 + 0.08 * h + self.rng.gauss(0, 0.05))
            self.event(
                e,
                "annual_reports",
                "financial_report",
                when,
                data={
                    "period": str(year - 1),
                    "total_assets": _money(assets),
                    "total_liabilities": _money(liabilities),
                    "current_assets": _money(current_assets),
                    "current_liabilities": _money(current_liabilities),
                    "revenue": _money(revenue),
                    "net_profit": str(
                        Decimal(revenue * (0.02 + 0.03 * h)).quantize(Decimal("0.01"))
                    ),
                    "operating_cash_flow": str(
                        Decimal(liabilities * (0.05 + 0.08 * h)).quantize(Decimal("0.01"))
                    ),
                },
            )


def generate(
    n: int = 200, *, seed: int = 7, end: datetime | None = None, years: float = 2.0
) -> World:
    """A world of ``n`` enterprises whose history runs ``years`` up to ``end`` (default: now,
    at midnight UTC)."""
    if end is None:
        now = datetime.now(UTC)
        end = datetime(now.year, now.month, now.day, tzinfo=UTC)
    builder = _Builder(n, seed, end, years)
    ents = builder.enterprises()
    builder.graph(ents)
    builder.distress(ents)
    for e in ents:
        builder.history(e)
    records = {s: r for s, r in builder.records.items() if r}
    records["registry"] = records.get("registry", []) + builder.edge_records
    return World(builder.start, end, ents, builder.persons, records, builder.edges, seed)


def bench_graph(n: int, *, edges_per_node: int = 3, seed: int = 1, block: int = 50) -> GraphData:
    """A large synthetic graph as arrays: ``edges_per_node`` edges per enterprise split between
    guarantees (mostly inside blocks of ``block`` nearby enterprises, which makes realistic
    small circles), equity (holder with a lower index: chains) and trade (anywhere)."""
    rng = np.random.default_rng(seed)
    per_kind = [n * edges_per_node // 3] * 3
    per_kind[0] += n * edges_per_node - sum(per_kind)
    g_src = rng.integers(0, n, per_kind[0])
    g_dst = np.minimum((g_src // block) * block + rng.integers(0, block, per_kind[0]), n - 1)
    e_dst = rng.integers(1, n, per_kind[1])
    e_src = (rng.random(per_kind[1]) * e_dst).astype(np.int64)
    t_src = rng.integers(0, n, per_kind[2])
    t_dst = rng.integers(0, n, per_kind[2])
    src = np.concatenate([g_src, e_src, t_src]).astype(np.int64)
    dst = np.concatenate([g_dst, e_dst, t_dst]).astype(np.int64)
    codes = catalog.EDGE_KIND_CODE
    kind = np.concatenate(
        [
            np.full(per_kind[0], codes["guarantee"], dtype=np.int8),
            np.full(per_kind[1], codes["equity"], dtype=np.int8),
            np.full(per_kind[2], codes["trade"], dtype=np.int8),
        ]
    )
    share = np.full(len(src), np.nan)
    share[per_kind[0] : per_kind[0] + per_kind[1]] = rng.uniform(0.05, 1.0, per_kind[1])
    amount = np.zeros(len(src))
    amount[: per_kind[0]] = rng.lognormal(15, 1, per_kind[0])
    return GraphData(n, 0, src, dst, kind, share, amount)
