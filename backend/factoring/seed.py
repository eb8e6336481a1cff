"""Demo factoring: agreements for CORE1 and CORE2, SUPP01..SUPP10 admitted to CORE1 and
SUPP11..SUPP20 to CORE2, and 300 payables in mixed states, all through the services.

How many: 300 with the demo's seed (``make demo``: ``finedge seed --enterprises N``, the
industrial demo), 30 otherwise (plain ``finedge seed`` and every test app, which seeds the demo
data: 300 there would cost each of them about half a second). Both sets hold every state.

Idempotent: the agreements are found by code and the payables by their invoice numbers
(``DEMO-CORE1-0001`` ...); a second run changes nothing. The payables are registered in one
batch per core enterprise (``register_many``); a few dozen are then financed, split and
transferred, paid and settled one by one through the same use cases the API calls.

Mix (of 300): every 10th registered by its supplier and not yet confirmed, every 10th financed,
every 30th split with a part transferred to a tier-2 supplier, every 20th financed and then
paid early by the core enterprise and settled; the rest confirmed. supplier1 (SUPP01) always
has confirmed payables to finance.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.factoring import service
from backend.factoring.models import Agreement, Payable
from backend.factoring.service.payables import register_many
from backend.identity import service as identity
from backend.identity.models import Org, User
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM, Actor

N_PAYABLES = 300
N_SMALL = 30
TERMS = {
    "CORE1": ("FA-CORE1", "50000000.00", "0.90", "0.0435", "0.0020", True, range(1, 11)),
    "CORE2": ("FA-CORE2", "30000000.00", "0.85", "0.0480", "0.0030", False, range(11, 21)),
}
SUPPLIER_LIMIT = "5000000.00"
CORE_DEPOSIT = "20000000.00"


def _actor_of_org(session: Session, org: Org, cache: dict | None = None) -> Actor:
    """The org's demo user, else a stand-in acting for it (SUPP03.. have no login)."""
    if cache is not None:
        if org.id not in cache:
            cache[org.id] = _actor_of_org(session, org)
        return cache[org.id]
    user = session.scalar(select(User).where(User.org_id == org.id, User.role == "enterprise"))
    if user is not None:
        return identity.actor_for(user)
    return Actor(user_id=None, username=f"seed:{org.code}", role="enterprise", org_id=org.id)


def _user(session: Session, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    return identity.actor_for(user) if user is not None else SYSTEM


def _orgs(session: Session) -> dict[str, Org]:
    codes = [*TERMS, *(f"SUPP{i:02d}" for i in range(1, 21))]
    return {o.code: o for o in session.scalars(select(Org).where(Org.code.in_(codes)))}


def _agreements(session: Session, orgs: dict[str, Org], today: date) -> None:
    rm, teller = _user(session, "rm1"), _user(session, "teller1")
    for core_code, (code, limit, adv, rate, fee, recourse, supps) in TERMS.items():
        if session.scalar(select(Agreement.id).where(Agreement.code == code)) is not None:
            continue
        agreement = service.create_agreement(
            session,
            rm,
            core_org_id=orgs[core_code].id,
            limit=limit,
            advance_rate=adv,
            interest_rate=rate,
            fee_rate=fee,
            with_recourse=recourse,
            valid_from=today - timedelta(days=30),
            valid_to=today + timedelta(days=730),
            code=code,
        )
        for i in supps:
            org = orgs[f"SUPP{i:02d}"]
            service.admit_supplier(
                session, rm, agreement.id, org_id=org.id, counterparty_limit=SUPPLIER_LIMIT
            )
        service.deposit(
            session,
            teller,
            orgs[core_code].id,
            CORE_DEPOSIT,
            transfer_id=f"fct:seed:dep:{core_code}",
            reference="demo seed",
        )


def _plan(i: int, orgs: dict[str, Org], today: date) -> dict:
    core = "CORE1" if (i // 7) % 2 == 0 else "CORE2"  # runs of 7: both get every state
    base = 1 if core == "CORE1" else 11
    supplier = orgs[f"SUPP{base + (i // 2) % 10:02d}"]
    amount = Decimal(50_000 + (i * 7919) % 950_000).quantize(Decimal("0.01"))
    return {
        "core": core,
        "invoice_no": f"DEMO-{core}-{i:04d}",
        "creditor_org_id": supplier.id,
        "amount": amount,
        "issue_date": today - timedelta(days=i % 60),
        "maturity_date": today + timedelta(days=30 + (i * 37) % 150),
    }


def seed_factoring(session: Session, options) -> dict:
    started = time.perf_counter()
    now = utcnow()
    today = now.date()
    orgs = _orgs(session)
    if any(c not in orgs for c in TERMS):
        return {"factoring_payables": 0}
    _agreements(session, orgs, today)
    n = N_PAYABLES if getattr(options, "enterprises", 0) else N_SMALL
    plans = [_plan(i, orgs, today) for i in range(n)]
    have = set(
        session.scalars(
            select(Payable.invoice_no).where(
                Payable.invoice_no.in_([p["invoice_no"] for p in plans])
            )
        )
    )
    todo = [(i, p) for i, p in enumerate(plans) if p["invoice_no"] not in have]
    actors: dict[int, Actor] = {}
    by_core: dict[str, list] = {}
    for i, plan in todo:
        if i % 10 != 7:  # every 10th is left for its supplier to register
            by_core.setdefault(plan["core"], []).append(plan)
    payables: dict[str, Payable] = {}
    for core, items in by_core.items():
        actor = _actor_of_org(session, orgs[core], actors)
        for p in register_many(session, actor, items, now=now):
            payables[p.invoice_no] = p
    for i, plan in todo:
        if i % 10 == 7:
            supplier = session.get(Org, plan["creditor_org_id"])
            service.register_payable(
                session,
                _actor_of_org(session, supplier, actors),
                invoice_no=plan["invoice_no"],
                amount=plan["amount"],
                issue_date=plan["issue_date"],
                maturity_date=plan["maturity_date"],
                debtor_org_id=orgs[plan["core"]].id,
                now=now,
            )
    _lifecycle(session, orgs, todo, payables, actors, now)
    return {
        "factoring_payables": n,
        "factoring_seed_s": round(time.perf_counter() - started, 2),
    }


def _lifecycle(session, orgs, todo, payables, actors, now) -> None:
    """Split and transfer, finance, pay early and settle a share of the payables."""
    for i, plan in todo:
        payable = payables.get(plan["invoice_no"])
        if payable is None:
            continue
        holder = _actor_of_org(session, session.get(Org, payable.holder_org_id), actors)
        if holder.org_id == orgs["SUPP01"].id and i < 40:
            continue  # supplier1 keeps confirmed payables for the demo
        if i % 30 == 3:
            # to a supplier of the other chain: admitted here at tier 2
            other = 11 if plan["core"] == "CORE1" else 1
            code = f"SUPP{other + (i // 2) % 10:02d}"
            part = service.transfer_part(
                session,
                holder,
                payable.id,
                to_org_id=orgs[code].id,
                amount=(payable.amount / 3).quantize(Decimal("0.01")),
                now=now,
            )
            if i % 60 == 3:
                service.apply_for_financing(
                    session, _actor_of_org(session, orgs[code], actors), part.id, now=now
                )
        elif i % 10 == 1 or i % 20 == 5:
            service.apply_for_financing(session, holder, payable.id, now=now)
            if i % 20 == 5:
                core = _actor_of_org(session, orgs[plan["core"]], actors)
                service.pay_payable(session, core, payable.id, now=now)
