"""Demo collateral registry: 40 residential properties in the generated market's cities and
communities, split between rm1 and rm2, owned by DEALER1, DEALER2, CORE1, SUPP01 and retail
clients (the CLIENTS org, each with the person's name), securing DEALER1's and DEALER2's
floor-plan lines, CORE1's factoring agreement and core-banking loans; mortgage registrations
in every state (pending, registered, rejected, released) and a title deed per property.

All through the registry's use cases, as the API does them: rm1 or rm2 is the maker,
approver1 the checker. Idempotent: a property is found by its code (``DEMO-COL-001`` ...) and
one already there is left as it is, so a second run changes nothing.
"""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collateral.models import Property
from backend.identity.models import Org, User
from backend.identity.service.users import actor_for
from backend.platform.clock import utcnow
from backend.platform.errors import DomainError
from backend.platform.ports import FloorplanExposure
from backend.platform.wiring import port

N_PROPERTIES = 40
FACTORING_AGREEMENT = "FA-CORE1"

# (owner org, how many, RM); retail clients' names for the CLIENTS org
OWNERS = (
    ("DEALER1", 8, "rm1"),
    ("DEALER2", 8, "rm2"),
    ("CORE1", 6, "rm1"),
    ("SUPP01", 6, "rm2"),
    ("CLIENTS", 12, None),  # alternately rm1's and rm2's clients
)
CLIENT_NAMES = (
    "王芳", "李伟", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强", "周婷", "吴刚", "徐慧", "孙杰",
)  # fmt: skip


def demo_market(count: int = 12) -> list[tuple[str, str, str, int]]:
    """(city, district, community, first build year) of the generated market's busiest
    communities (``avm.market``, the seed the demo champion is trained on), so every demo
    property is one the champion knows well. Imported here: pandas loads only when seeding."""
    from backend.collateral.avm.market import communities
    from backend.collateral.seed import MARKET_SEED

    frame = communities(MARKET_SEED).sort_values("popularity", ascending=False).head(count)
    return [
        (row.city, row.district, row.community, int(row.start_year)) for row in frame.itertuples()
    ]


def seed_registry(session: Session, options) -> dict:
    from backend.collateral import service  # the valuer's checks load the AVM package

    users = {
        u.username: u
        for u in session.scalars(select(User).where(User.username.in_(("rm1", "rm2", "approver1"))))
    }
    orgs = {
        o.code: o for o in session.scalars(select(Org).where(Org.code.in_([c for c, *_ in OWNERS])))
    }
    if len(users) < 3 or len(orgs) < len(OWNERS):
        return {"collateral_properties": 0}
    market = demo_market()
    rng = random.Random(2026)
    now = utcnow()
    checker = actor_for(users["approver1"])
    made = 0
    n = 0
    for owner_code, count, rm_name in OWNERS:
        for k in range(count):
            n += 1
            code = f"DEMO-COL-{n:03d}"
            facts = _facts(rng, market, n)  # drawn for every n, so the run is the same
            if session.scalar(select(Property.id).where(Property.code == code)) is not None:
                continue
            rm = users[rm_name or ("rm1" if k % 2 == 0 else "rm2")]
            maker = actor_for(rm)
            owner = orgs[owner_code]
            prop = service.register_property(
                session,
                maker,
                facts=facts,
                address=_address(facts, n, k),
                owner_org_id=owner.id,
                owner_name=CLIENT_NAMES[k] if owner_code == "CLIENTS" else None,
                code=code,
                now=now,
            )
            service.add_document(
                session,
                maker,
                prop.id,
                kind="title_deed",
                uri=f"docstore:DEED-{code}",
                sha256=hashlib.sha256(code.encode()).hexdigest(),
                now=now,
            )
            link = _link(service, session, maker, prop, owner_code, k, rng)
            _registration(service, session, maker, checker, prop, link, k, now)
            made += 1
    return {"collateral_properties": made}


def _address(facts: dict, n: int, k: int) -> str:
    """Community, building, unit, flat (the flat number carries the floor)."""
    return f"{facts['community']} {1 + n % 12}-{1 + n % 3}-{facts['floor']}0{1 + k % 4}"


def _facts(rng: random.Random, market, n: int) -> dict:
    from backend.collateral.avm.factors import DECORATIONS, ORIENTATIONS

    city, district, community, built = market[n % len(market)]
    total = rng.choice((6, 7, 11, 18, 24, 26, 32, 33))
    area = Decimal(rng.randrange(4500, 18000)) / 100
    return {
        "city": city,
        "district": district,
        "community": community,
        "area_m2": area,
        "floor": rng.randint(1, total),
        "total_floors": total,
        "build_year": max(1985, min(utcnow().year - 1, built + rng.randint(-2, 2))),
        "orientation": rng.choice(ORIENTATIONS[:4] * 3 + ORIENTATIONS[4:]),
        "decoration": rng.choice(DECORATIONS),
        "rooms": max(1, min(6, int(area // 35))),
        "property_type": "apartment" if area < 150 else rng.choice(("apartment", "townhouse")),
    }


def _link(service, session, maker, prop, owner_code: str, k: int, rng: random.Random):
    """DEALER1's and DEALER2's properties secure their floor-plan lines, CORE1's and SUPP01's
    (third-party collateral) CORE1's factoring agreement, the retail clients' their loans;
    every fourth property secures nothing yet."""
    if k % 4 == 3:
        return None
    try:
        if owner_code in ("DEALER1", "DEALER2"):
            lines = port(session, FloorplanExposure).credits_of(session, prop.owner_org_id)
            if not lines:
                return None
            return service.link_credit(
                session,
                maker,
                prop.id,
                credit_kind="floorplan_line",
                credit_ref=lines[0].credit_ref,
            )
        if owner_code in ("CORE1", "SUPP01"):
            return service.link_credit(
                session,
                maker,
                prop.id,
                credit_kind="factoring_agreement",
                credit_ref=FACTORING_AGREEMENT,
            )
        # a loan of 40-75% of a rough value of the home (30,000 CNY/m²)
        rough = prop.area_m2 * 30000
        share = Decimal(rng.randrange(40, 76)) / 100
        return service.link_credit(
            session,
            maker,
            prop.id,
            credit_kind="loan",
            credit_ref=f"LN-DEMO-{prop.code[-3:]}",
            outstanding=(rough * share).quantize(Decimal("1000")).quantize(Decimal("0.01")),
            borrower_org_id=prop.owner_org_id,
        )
    except DomainError:  # the other area's demo data is absent (an area left out): no link
        return None


def _registration(service, session, maker, checker, prop, link, k: int, now) -> None:
    """Registered mostly; every fifth pending, one in seven rejected, one released."""
    if link is None:
        return
    reg = service.record_registration(
        session,
        maker,
        prop.id,
        certificate_no=f"浙(2026)不动产证明第{prop.id:07d}号",
        registered_on=(now - timedelta(days=30 + 7 * k)).date(),
        credit_link_id=link.id,
        now=now,
    )
    if k % 5 == 4:
        return  # pending: waits for a checker
    if k % 7 == 5:
        service.reject_registration(
            session, checker, reg.id, reason="证明号与不动产登记簿不符", now=now
        )
        return
    service.approve_registration(session, checker, reg.id, now=now)
    if k == 6 and link.credit_kind == "loan":  # the loan repaid: link and mortgage released
        service.release_credit(session, maker, link.id, now=now)
        service.release_registration(session, maker, reg.id, now=now)
