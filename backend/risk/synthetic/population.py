"""Who is in the world and how they are linked: enterprises (name, alias spellings, industry,
region, size, latent health, flags, rating coverage), persons, and the knowledge graph
(groups, legal representatives and shareholders, minority investments, guarantees with planted
circles and mutual pairs, core buyers with many suppliers)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from backend.risk.creditcode import make_credit_code
from backend.risk.synthetic.builder import Builder
from backend.risk.synthetic.world import SyntheticEnterprise, iso, money

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


def enterprises(b: Builder) -> list[SyntheticEnterprise]:
    """The population; the first two are auto dealers (DEALER1 sound, DEALER2 for the demo)."""
    out = []
    used: set[str] = set()
    for i in range(b.n):
        region, region_code = REGIONS[b.rng.randrange(len(REGIONS))]
        industry_zh, industry, _risk = INDUSTRIES[b.rng.randrange(len(INDUSTRIES))]
        if i < 2:
            industry_zh, industry = "汽车销售", "auto_dealer"
        brand = "".join(b.rng.sample(SYLLABLES, 2))
        bracket = b.rng.random() < 0.3
        name = (
            f"{brand}{industry_zh}（{region}）有限公司"
            if bracket
            else f"{region}{brand}{industry_zh}有限公司"
        )
        while name in used:
            brand += SYLLABLES[b.rng.randrange(len(SYLLABLES))]
            name = (
                f"{brand}{industry_zh}（{region}）有限公司"
                if bracket
                else f"{region}{brand}{industry_zh}有限公司"
            )
        used.add(name)
        alias = name.replace("（", "(").replace("）", ")") if bracket else f"{name} "
        if not bracket and b.rng.random() < 0.5:
            alias = f" {region} {name[len(region) :]}"
        size = b.np.normal(0.0, 1.0)
        health = b.np.normal(0.0, 1.0)
        if i == 0:
            health = 2.5  # DEALER1 in the demo: sound
        capital = Decimal(round(10 ** (6.7 + 0.6 * size), -4)).quantize(Decimal("0.01"))
        established = (b.end - timedelta(days=b.rng.randint(200, 25 * 365))).date()
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
                    "srdi": bool(health > 0.5 and b.rng.random() < 0.12),
                    "high_tech": bool(
                        industry in ("technology", "electronics") and b.rng.random() < 0.4
                    ),
                },
                rated=b.rng.random() < 0.35 + 0.2 * (size > 0.8),
                dealer=industry == "auto_dealer",
            )
        )
    return out


def link(b: Builder, ents: list[SyntheticEnterprise]) -> dict[int, list[int]]:
    """Persons and every edge, into the builder; returns the guarantors of each enterprise."""
    n, rng = len(ents), b.rng
    n_persons = max(1, int(n * 0.6))
    b.persons = [
        (
            f"P{i:07d}",
            rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2)))),
        )
        for i in range(n_persons)
    ]

    def add(src: int, dst: int, kind: str, share=None, amount=None, role=None, src_person=False):
        node = src + n if src_person else src
        b.edges.append((node, dst, kind, share, amount))
        b.edge_ends.append(None)
        frm = (
            {"person_key": b.persons[src][0], "name": b.persons[src][1]}
            if src_person
            else {"credit_code": ents[src].credit_code}
        )
        record = {
            "record_id": f"edge-{kind}-{'p' if src_person else 'e'}{src}-{dst}",
            "type": "edge",
            "kind": kind,
            "from": frm,
            "to": {"credit_code": ents[dst].credit_code},
            "time": iso(b.start),
        }
        if share is not None:
            record["share"] = round(share, 4)
        if amount is not None:
            record["amount"] = money(amount)
        if role:
            record["role"] = role
        b.edge_records.append(record)

    seen: set[tuple[int, int, str]] = set()

    def once(src, dst, kind, **kw):
        key = (src + (n if kw.get("src_person") else 0), dst, kind)
        if (src == dst and not kw.get("src_person")) or key in seen:
            return
        seen.add(key)
        add(src, dst, kind, **kw)

    # groups: a core holds most of 2-6 members
    group_of = [-1] * n
    cores = [i for i in range(n) if rng.random() < 0.08]
    free = [i for i in range(n) if i not in set(cores)]
    rng.shuffle(free)
    for core in cores:
        for _ in range(rng.randint(2, 6)):
            if not free:
                break
            member = free.pop()
            group_of[member] = core
            once(member, core, "group")
            once(core, member, "equity", share=rng.uniform(0.51, 1.0))
    # persons: legal representative and shareholders
    for i in range(n):
        rep = rng.randrange(n_persons)
        once(rep, i, "executive", role="legal_representative", src_person=True)
        if group_of[i] < 0:
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
                if group_of[i] >= 0 and rng.random() < 0.5:
                    j = group_of[i]
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
        for guarantor, borrower in zip(ring, ring[1:] + ring[:1], strict=True):
            once(
                guarantor,
                borrower,
                "guarantee",
                amount=float(ents[borrower].registered_capital) * rng.uniform(0.3, 1.0),
            )
    # trade: core buyers with many suppliers
    for buyer in (i for i in range(n) if rng.random() < 0.04):
        for _ in range(rng.randint(10, 30)):
            once(rng.randrange(n), buyer, "trade", amount=None)
    guarantors_of: dict[int, list[int]] = {}
    for src, dst, kind, _s, _a in b.edges:
        if kind == "guarantee":
            guarantors_of.setdefault(dst, []).append(src)
    return guarantors_of
