"""Floor-plan demo and benchmark data: ``finedge seed --dealers N --cars M``.

Always (demo and test): OEM1's programme, and DEALER1 and DEALER2 each with a yard watched by
SUP1, an approved credit line (maker rm1, checker approver1) and at least eight financed cars in
realistic states (in stock, some aged past 90 and 120 days, redeemed, released, in transit).
With ``--dealers N --cars M``: dealers DEALER3..DEALER<N> of OEM1 and M cars across all dealers,
issued over the last six months in bills of 5 to 15 cars: mostly in stock, a third repaid and
mostly released, some on their way, a few released before repayment by trusted dealers, plus a
few bills requested or issued and not yet shipped.

Idempotent: a dealer that already has its share of cars gets nothing new. Fast: rows are
bulk-inserted and the money goes through the ledger in batches of up to 1000 legs, replaying the
real flows (margin top-up and hold at issuance, per-car holds at shipment, redemption).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from backend import ledger
from backend.floorplan import accounts, rules
from backend.floorplan.models import Bill, CreditLine, Programme, Shipment, Vehicle, Warehouse
from backend.floorplan.service import credit
from backend.floorplan.service.aging import scan_aging
from backend.identity import service as identity
from backend.identity.models import Org, User
from backend.ledger.service import TransferSpec
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM, Actor
from backend.platform.money import quantize

ZERO = Decimal("0.00")
PROGRAMME_CODE = "OEM1-FLOORPLAN"
DEMO_DEALERS = ("DEALER1", "DEALER2")
DEMO_MIN_CARS = 8
MODELS = [
    ("Demo Compact 1.5T", Decimal("86800")),
    ("Demo Sedan S", Decimal("128000")),
    ("Demo EV 7", Decimal("189900")),
    ("Demo SUV X", Decimal("236000")),
    ("Demo MPV 8", Decimal("312000")),
    ("Demo Premium L", Decimal("458000")),
]
LEDGER_CHUNK = 1000


@dataclass
class CarPlan:
    vin: str
    certificate_no: str
    model: str
    price: Decimal
    status: str
    shipped_at: datetime
    arrived_at: datetime | None = None
    pledged_at: datetime | None = None
    redeemed_at: datetime | None = None
    released_at: datetime | None = None
    rbr_due_at: datetime | None = None
    margin: Decimal = ZERO


@dataclass
class BillPlan:
    status: str  # requested | issued | shipped
    issued_at: datetime
    term_months: int
    cars: list[CarPlan] = field(default_factory=list)
    amount: Decimal = ZERO
    id: int | None = None
    account_id: int | None = None
    margin: Decimal = ZERO


def _actor(session: Session, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    return identity.actor_for(user) if user is not None else SYSTEM


def _price(rng: random.Random) -> tuple[str, Decimal]:
    model, base = rng.choice(MODELS)
    return model, (base * rng.randint(9500, 10500) / 10000).quantize(Decimal("100"))


def _car(rng, dealer_no: int, seq: int, status: str, shipped: datetime, **kw):
    model, price = _price(rng)
    car = CarPlan(
        vin=f"LDM{dealer_no:03d}{seq:011d}",
        certificate_no=f"WDZ{dealer_no:03d}{seq:08d}",
        model=model,
        price=price,
        status=status,
        shipped_at=shipped,
    )
    if status != "in_transit":
        car.arrived_at = shipped + timedelta(days=3)
    if status not in ("in_transit", "arrived"):
        car.pledged_at = shipped + timedelta(days=3, hours=4)
    for key, value in kw.items():
        setattr(car, key, value)
    return car


def demo_plan(dealer_no: int, start: int, now: datetime, trusted: bool) -> list[BillPlan]:
    """Eight cars in every state a demo should show."""
    rng = random.Random(f"demo-{dealer_no}")
    seq = iter(range(start, start + 100))
    a_at, b_at, c_at = now - timedelta(days=130), now - timedelta(days=40), now - timedelta(days=2)
    bill_a = BillPlan("shipped", a_at, 6)
    ship_a = a_at + timedelta(days=2)
    bill_a.cars = [
        _car(rng, dealer_no, next(seq), "in_stock", ship_a),
        _car(rng, dealer_no, next(seq), "in_stock", ship_a),
        _car(rng, dealer_no, next(seq), "redeemed", ship_a, redeemed_at=now - timedelta(days=3)),
        _car(
            rng,
            dealer_no,
            next(seq),
            "released",
            ship_a,
            redeemed_at=now - timedelta(days=30),
            released_at=now - timedelta(days=29),
        ),
    ]
    bill_b = BillPlan("shipped", b_at, 3)
    ship_b = b_at + timedelta(days=2)
    bill_b.cars = [_car(rng, dealer_no, next(seq), "in_stock", ship_b) for _ in range(3)]
    if trusted:
        bill_b.cars[2].status = "released_unpaid"
        bill_b.cars[2].released_at = now - timedelta(days=1)
        bill_b.cars[2].rbr_due_at = now + timedelta(days=5)
    bill_c = BillPlan("shipped", c_at, 3)
    bill_c.cars = [_car(rng, dealer_no, next(seq), "in_transit", c_at + timedelta(hours=6))]
    return [bill_a, bill_b, bill_c]


def random_plan(
    dealer_no: int, start: int, count: int, now: datetime, trusted: bool
) -> list[BillPlan]:
    rng = random.Random(f"fp-{dealer_no}-{start}")
    bills, seq, left = [], start, count
    while left > 0:
        size = min(left, rng.randint(5, 15))
        age = rng.uniform(0, 175)
        issued = now - timedelta(days=age)
        term = 6 if age >= 80 else rng.choice((3, 6))
        bill = BillPlan("shipped", issued, term)
        shipped = issued + timedelta(days=min(age, 2) * 0.5)
        for _ in range(size):
            if age < 3:
                status = "in_transit"
            elif age < 5:
                status = "arrived"
            else:
                status = "in_stock"
            car = _car(rng, dealer_no, seq, status, shipped)
            seq += 1
            if status == "in_stock":
                days_held = (now - car.pledged_at).days
                if rng.random() < min(0.7, days_held / 250):
                    car.redeemed_at = car.pledged_at + timedelta(days=rng.uniform(0, days_held))
                    car.status = "redeemed"
                    if rng.random() < 0.85:
                        car.released_at = min(now, car.redeemed_at + timedelta(hours=20))
                        car.status = "released"
                elif trusted and rng.random() < 0.03:
                    car.status = "released_unpaid"
                    car.released_at = now - timedelta(days=rng.uniform(0, 3))
                    car.rbr_due_at = car.released_at + timedelta(days=7)
            bill.cars.append(car)
        bills.append(bill)
        left -= size
    if count >= 50:  # a few bills waiting for the bank or the OEM
        bills.append(BillPlan("requested", now - timedelta(hours=5), 6))
        bills.append(BillPlan("issued", now - timedelta(days=1), 3))
    for bill in bills:
        if not bill.cars:
            _, price = _price(rng)
            bill.amount = price * rng.randint(5, 10)
    return bills


def _ensure_dealer(session: Session, code: str, index: int, oem: Org, sup: Org, now) -> Org:
    dealer = identity.get_or_create_org(session, code, f"Dealer {index} Auto Sales", "dealer", oem)
    if session.scalar(select(Warehouse.id).where(Warehouse.dealer_org_id == dealer.id)) is None:
        credit.create_warehouse(
            session,
            SYSTEM,
            code=f"WH-{code}",
            name=f"{dealer.name} yard",
            dealer_org_id=dealer.id,
            supervisor_org_id=sup.id,
            address=f"{index} Auto Park Road",
            now=now,
        )
    return dealer


def _ensure_line(session, rm, approver, dealer: Org, need: Decimal, trusted: bool, now):
    line = session.scalar(select(CreditLine).where(CreditLine.dealer_org_id == dealer.id))
    if line is not None and line.limit_amount - line.used_amount >= need:
        return line
    used = line.used_amount if line else ZERO
    limit = ((used + need) * Decimal("1.3") / 1_000_000).to_integral_value() * 1_000_000
    limit = max(limit + 1_000_000, Decimal(5_000_000))
    request = credit.propose_credit_line(
        session,
        rm,
        dealer_org_id=dealer.id,
        limit=quantize(limit),
        trusted=trusted,
        rbr_limit=quantize(limit / 10) if trusted else "0.00",
        note="seed",
        now=now,
    )
    return credit.approve_credit_line(session, approver, request.id, note="seed", now=now)


def _run_ledger(session: Session, specs: list[TransferSpec], now: datetime) -> None:
    for i in range(0, len(specs), LEDGER_CHUNK):
        ledger.execute_batch(session, SYSTEM, specs[i : i + LEDGER_CHUNK], now=now)


def seed_floorplan(session: Session, options) -> dict:
    started = time.perf_counter()
    now = utcnow()
    progress = getattr(options, "progress", False)
    oem = session.scalar(select(Org).where(Org.code == "OEM1"))
    sup = session.scalar(select(Org).where(Org.code == "SUP1"))
    rm, approver = _actor(session, "rm1"), _actor(session, "approver1")
    programme = session.scalar(select(Programme).where(Programme.code == PROGRAMME_CODE))
    if programme is None:
        programme = credit.create_programme(
            session, SYSTEM, code=PROGRAMME_CODE, name="Demo Motors floor plan", oem_org_id=oem.id
        )
    n_dealers = max(2, int(getattr(options, "dealers", 2) or 2))
    total = max(0, int(getattr(options, "cars", 0) or 0))
    codes = [*DEMO_DEALERS, *(f"DEALER{i}" for i in range(3, n_dealers + 1))]
    dealers = [_ensure_dealer(session, c, i + 1, oem, sup, now) for i, c in enumerate(codes)]
    existing = dict(
        session.execute(
            select(Vehicle.dealer_org_id, func.count())
            .where(Vehicle.dealer_org_id.in_([d.id for d in dealers]))
            .group_by(Vehicle.dealer_org_id)
        ).all()
    )
    work = []
    for i, dealer in enumerate(dealers):
        target = total // n_dealers + (1 if i < total % n_dealers else 0)
        if dealer.code in DEMO_DEALERS:
            target = max(target, DEMO_MIN_CARS)
        have = existing.get(dealer.id, 0)
        if have >= target:
            continue
        trusted = i % 5 == 0
        plans = []
        if have == 0 and dealer.code in DEMO_DEALERS:
            plans = demo_plan(i + 1, 0, now, trusted)
            have = DEMO_MIN_CARS
        if target > have:
            plans += random_plan(i + 1, have, target - have, now, trusted)
        work.append((dealer, trusted, plans))
    cars_total = sum(len(b.cars) for _, _, plans in work for b in plans)
    bar = tqdm(
        total=cars_total,
        desc="floor-plan seed",
        unit="car",
        disable=not progress or not cars_total,
        leave=False,
    )
    created_cars = 0
    try:
        for chunk_start in range(0, len(work), 10):
            created_cars += _seed_dealers(
                session, work[chunk_start : chunk_start + 10], programme, rm, approver, now, bar
            )
    finally:
        bar.close()
    demo_ids = [d.id for d in dealers if d.code in DEMO_DEALERS]
    aging = scan_aging(session, SYSTEM, None, now=now, dealer_ids=demo_ids)
    seconds = round(time.perf_counter() - started, 2)
    if created_cars:
        audit.record(
            session,
            SYSTEM,
            "floorplan.seeded",
            "fp_programme",
            programme.id,
            after={"dealers": len(dealers), "cars_created": created_cars, "seconds": seconds},
        )
    return {
        "floorplan": {
            "dealers": len(dealers),
            "cars_created": created_cars,
            "aging_alerts": aging["raised"],
            "seconds": seconds,
        }
    }


def _seed_dealers(session, work, programme, rm, approver, now, bar) -> int:
    """Seed up to ten dealers: rows in bulk, money through the ledger in three phases."""
    issue, ship, redeem = [], [], []
    car_rows, cash = [], []
    bill_count = 0
    for dealer, trusted, plans in work:
        warehouse = session.scalar(select(Warehouse).where(Warehouse.dealer_org_id == dealer.id))
        for bill in plans:
            if bill.cars:
                bill.amount = sum((c.price for c in bill.cars), ZERO)
        drawn = sum(
            (sum((c.price for c in b.cars if c.redeemed_at is None), ZERO) if b.cars else b.amount)
            for b in plans
            if b.status != "requested"
        )
        line = _ensure_line(session, rm, approver, dealer, drawn, trusted, now)
        _within_rbr_limit(plans, line.rbr_limit - line.rbr_used)
        funds = ZERO
        first_bill_id = None
        for bill in plans:
            row = Bill(
                bill_no=f"SEED-{dealer.id}-{bill_count}-{bill.issued_at:%y%m%d%H%M%S%f}",
                dealer_org_id=dealer.id,
                oem_org_id=line.oem_org_id,
                credit_line_id=line.id,
                amount=bill.amount,
                margin_ratio_bp=line.margin_ratio_bp,
                margin_amount=rules.share(bill.amount, line.margin_ratio_bp),
                term_months=bill.term_months,
                status=bill.status,
                requested_at=bill.issued_at - timedelta(hours=3),
                requested_by_user_id=None,
                outstanding=ZERO,
                advance_outstanding=ZERO,
                shortfall=ZERO,
            )
            bill_count += 1
            session.add(row)
            session.flush()
            row.bill_no = f"BA{bill.issued_at:%Y%m%d}{row.id:08d}"
            first_bill_id = first_bill_id or row.id
            bill.id, bill.margin = row.id, row.margin_amount
            if bill.status == "requested":
                continue
            acct = accounts.open_bill_account(session, SYSTEM, row.id, row.bill_no, now)
            bill.account_id = acct.id
            row.issued_at = bill.issued_at
            row.issue_date = bill.issued_at.date()
            row.maturity_date = rules.add_months(row.issue_date, bill.term_months)
            row.ledger_account_id = acct.id
            unpaid = [c for c in bill.cars if c.redeemed_at is None]
            row.outstanding = sum((c.price for c in unpaid), ZERO) if bill.cars else bill.amount
            funds += bill.margin
            issue.append(
                TransferSpec.single(
                    f"fp:bill{row.id}:topup",
                    line.deposit_account_id,
                    line.margin_account_id,
                    bill.margin,
                    "fp_margin_topup",
                    reference=row.bill_no,
                )
            )
            issue.append(
                TransferSpec.hold(
                    accounts.bill_margin_hold_id(row.id),
                    line.margin_account_id,
                    acct.id,
                    bill.margin,
                    "fp_bill_margin",
                    reference=row.bill_no,
                )
            )
            if not bill.cars:
                continue
            shipment = Shipment(
                bill_id=row.id,
                oem_org_id=row.oem_org_id,
                dealer_org_id=dealer.id,
                supervisor_org_id=warehouse.supervisor_org_id,
                warehouse_id=warehouse.id,
                status=_shipment_status(bill.cars),
                vehicle_count=len(bill.cars),
                total_amount=bill.amount,
                shipped_at=bill.cars[0].shipped_at,
                arrived_at=bill.cars[0].arrived_at,
            )
            session.add(shipment)
            session.flush()
            ship.append(TransferSpec.void(accounts.bill_margin_hold_id(row.id)))
            margins = rules.allocate(bill.margin, [c.price for c in bill.cars])
            for car, margin in zip(bill.cars, margins, strict=True):
                car.margin = margin
                ship.append(
                    TransferSpec.hold(
                        accounts.car_margin_hold_id(car.vin),
                        line.margin_account_id,
                        acct.id,
                        margin,
                        "fp_car_margin",
                        reference=row.bill_no,
                    )
                )
                paid = car.redeemed_at is not None
                if paid:
                    redeem.append(TransferSpec.void(accounts.car_margin_hold_id(car.vin)))
                    redeem.append(
                        TransferSpec.single(
                            accounts.redeem_transfer_id(car.vin),
                            line.deposit_account_id,
                            acct.id,
                            car.price,
                            "fp_redeem_full",
                            reference=car.vin,
                        )
                    )
                    funds += car.price
                else:
                    funds += car.price  # room to redeem it later (demo, benchmark)
                car_rows.append(_vehicle_row(car, row, shipment, warehouse, now))
        if trusted:
            line.rbr_used += sum(
                (c.price for b in plans for c in b.cars if c.status == "released_unpaid"), ZERO
            )
        line.used_amount += drawn
        line.version += 1
        cash.append(
            TransferSpec.single(
                f"fp:seedcash:{dealer.id}:{first_bill_id}",
                accounts.cash_account(session, SYSTEM).id,
                line.deposit_account_id,
                quantize(funds * Decimal("1.1") + 1_000_000),
                "fp_cash_deposit",
                reference="seed",
            )
        )
    _run_ledger(session, cash + issue, now)
    _run_ledger(session, ship, now)
    for i in range(0, len(car_rows), 2000):
        session.execute(insert(Vehicle), car_rows[i : i + 2000])
    _run_ledger(session, redeem, now)
    bar.update(len(car_rows))
    return len(car_rows)


def _within_rbr_limit(plans: list[BillPlan], room: Decimal) -> None:
    """Cars released before repayment stay within the line's separate limit; the rest stay in
    the yard."""
    for car in (c for b in plans for c in b.cars if c.status == "released_unpaid"):
        if car.price <= room:
            room -= car.price
        else:
            car.status, car.released_at, car.rbr_due_at = "in_stock", None, None


def _shipment_status(cars: list[CarPlan]) -> str:
    statuses = {c.status for c in cars}
    if statuses <= {"in_transit"}:
        return "in_transit"
    if statuses & {"in_transit", "arrived"}:
        return "arrived"
    return "received"


def _vehicle_row(car: CarPlan, bill: Bill, shipment: Shipment, warehouse: Warehouse, now) -> dict:
    paid = car.redeemed_at is not None
    return {
        "vin": car.vin,
        "model": car.model,
        "price": car.price,
        "certificate_no": car.certificate_no,
        "dealer_org_id": bill.dealer_org_id,
        "oem_org_id": bill.oem_org_id,
        "supervisor_org_id": warehouse.supervisor_org_id,
        "warehouse_id": warehouse.id,
        "bill_id": bill.id,
        "shipment_id": shipment.id,
        "status": car.status,
        "certificate_status": (
            "released" if car.released_at else "in_custody" if car.pledged_at else "in_transit"
        ),
        "location": f"row {car.vin[-2:]}" if car.pledged_at else None,
        "outstanding": ZERO if paid else car.price,
        "repaid": car.price if paid else ZERO,
        "margin_held": ZERO if paid else car.margin,
        "margin_applied": ZERO,
        "advanced": ZERO,
        "shipped_at": car.shipped_at,
        "arrived_at": car.arrived_at,
        "pledged_at": car.pledged_at,
        "redeemed_at": car.redeemed_at,
        "released_at": car.released_at,
        "redeem_mode": "full" if paid else None,
        "redemption_id": None,
        "rbr_due_at": car.rbr_due_at,
        "rbr_amount": car.price if car.status == "released_unpaid" else ZERO,
        "curtailment_status": None,
        "aging_level": 0,
        "updated_at": now,
    }
