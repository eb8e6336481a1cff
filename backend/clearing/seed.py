"""Demo clearing (demo and test only; ``finedge seed`` refuses production): CCH1 registered
with a demo secret, traders TRD01..TRD10 with agreements and a gold account each (TRD01 also a
copper one), funded from their main deposit accounts; a day of instructions applied through the
service (trader1's order O-DEMO-1 frozen, bargained and delivered to TRD02; O-DEMO-2 still
frozen) and the day reconciled. Idempotent: a house that already has instructions is left as
it is."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from backend.clearing import queries, service
from backend.clearing.models import Agreement, ClearingHouse, Instruction, TraderAccount
from backend.clearing.secretbox import SecretBox
from backend.clearing.sim import Opening, plan_day, reconciliation_csv
from backend.identity.models import Org
from backend.platform.clock import utcnow
from backend.platform.config import Config
from backend.platform.context import SYSTEM

HOUSE = "CCH1"
DEMO_SECRET = "cch1-demo-hmac-secret"  # noqa: S105  demo and test only (seed refuses production)
TRADERS = [f"TRD{i:02d}" for i in range(1, 11)]
PAID_IN = Decimal("1200000.00")
FUNDED = Decimal("500000.00")
DAY_INSTRUCTIONS = 20


def _open_accounts(session, house, now) -> dict[str, TraderAccount]:
    out = {}
    for code in TRADERS:
        org = session.scalar(select(Org).where(Org.code == code))
        if org is None:
            continue
        agreement = service.create_agreement(
            session, SYSTEM, house_id=house.id, trader_org_id=org.id, now=now
        )
        subs = [("AU", "gold")] + ([("CU", "copper")] if code == "TRD01" else [])
        for suffix, label in subs:
            number = f"{code}-{suffix}"
            account = service.open_trader_account(
                session, SYSTEM, agreement_id=agreement.id, account_no=number, label=label, now=now
            )
            out[number] = account
        service.pay_in(session, SYSTEM, agreement_id=agreement.id, amount=PAID_IN, reference="seed")
    for account in out.values():
        service.fund_account(
            session, SYSTEM, account_id=account.id, amount=FUNDED, reference="seed", now=now
        )
    return out


def _demo_trades(day: str) -> list[dict]:
    a, b = "TRD01-AU", "TRD02-AU"
    return [
        {
            "id": "DEMO-1",
            "account": a,
            "seq": 1,
            "kind": "order",
            "order": "O-DEMO-1",
            "amount": "120000.00",
            "fee": "120.00",
            "trade_date": day,
        },
        {
            "id": "DEMO-2",
            "account": a,
            "seq": 2,
            "kind": "bargain",
            "order": "O-DEMO-1",
            "amount": "120000.00",
            "fee": "0.00",
            "trade_date": day,
        },
        {
            "id": "DEMO-3",
            "account": a,
            "seq": 3,
            "kind": "delivery",
            "order": "O-DEMO-1",
            "amount": "120000.00",
            "fee": "120.00",
            "clearing_fee": "60.00",
            "counterparty": b,
            "trade_date": day,
        },
        {
            "id": "DEMO-4",
            "account": a,
            "seq": 4,
            "kind": "order",
            "order": "O-DEMO-2",
            "amount": "35000.00",
            "fee": "35.00",
            "trade_date": day,
        },
    ]


def seed_clearing(session, options) -> dict:
    now = utcnow()
    org = session.scalar(select(Org).where(Org.code == HOUSE))
    if org is None:
        return {}
    house = session.scalar(select(ClearingHouse).where(ClearingHouse.org_id == org.id))
    if house is None:
        box = SecretBox(Config.from_env().secret_key)
        house = service.register_house(
            session, SYSTEM, box, org_id=org.id, secret=DEMO_SECRET, now=now
        ).house
    done = session.scalar(select(func.count()).where(Instruction.clearing_house_id == house.id))
    if done:
        return {"clearing_instructions": done}
    _open_accounts(session, house, now)
    day = now.date()
    answers = service.submit(session, house, _demo_trades(day.isoformat()), now=now)
    openings = {n: Opening(*v) for n, v in queries.openings(session, house.id, day).items()}
    bodies, expected = plan_day(
        openings, DAY_INSTRUCTIONS, seed=16, trade_date=day, prefix=f"SEED{day:%Y%m%d}"
    )
    answers += service.submit(session, house, bodies, now=now)
    run = service.reconcile(
        session,
        SYSTEM,
        house,
        reconciliation_csv(expected),
        business_date=day,
        source="file",
        filename="seed.csv",
        now=now,
    )
    applied = sum(1 for a in answers if a.status == "applied")
    agreements = session.scalar(select(func.count()).where(Agreement.clearing_house_id == house.id))
    return {
        "clearing_agreements": agreements,
        "clearing_instructions": applied,
        "clearing_reconciliation": run.status,
    }
