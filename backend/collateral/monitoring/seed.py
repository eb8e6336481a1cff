"""Demo monitoring data (runs after the AVM's and the registry's seeders):

Only with the demo's seed (``make demo``: ``finedge seed --enterprises N`` or ``--cars N``,
whose champion is trained on 4,000 generated sales); plain ``finedge seed`` and the test apps
get none of it.

- market sales of the last four complete quarters from the AVM's generated market (the same
  communities the champion was trained on; 300 a quarter), the last quarter with a planted
  market move (every price 12 % down) so that the drift alarm shows; the quarters before
  follow the market's own slow trend;
- the ratio study of each of those quarters by the champion;
- a revaluation run of the book (run key ``demo-seed``), which recomputes every LTV;
- where no credit is at alarm yet, one retail client's loan reported at 85 % of its value so
  that the screens show an alarm (a retail loan raises no risk event: no demo org is flagged
  or barred from disbursement by the seed).

Idempotent: sales by ``source_ref``, a study only where its quarter has none by the champion,
the run by its key (a finished run does nothing), the loan only while no credit is at alarm.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collateral.models import CreditLink, RatioStudy
from backend.collateral.monitoring import ltv
from backend.collateral.monitoring.ratio import check_quarter, previous_quarter
from backend.collateral.monitoring.revaluation import revalue_book
from backend.collateral.monitoring.sales import import_sales
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM

MARKET_SEED = 2026  # the AVM seed's market: its communities
SALES_SEED = 4711
MOVE = -0.12
PER_QUARTER = 300
RUN_KEY = "demo-seed"


def last_quarters(today: date, n: int = 4) -> list[str]:
    """The ``n`` complete quarters before ``today``'s, oldest first."""
    out, day = [], today
    for _ in range(n):
        q = previous_quarter(day)
        out.append(q)
        day = check_quarter(q)[0]
    return out[::-1]


def market_sales(
    quarters: list[str], per_quarter: int, *, seed: int = SALES_SEED, move_last: float = MOVE
) -> list[dict]:
    """Generated sales of ``quarters`` (consecutive, oldest first), about ``per_quarter`` each,
    as the sales import takes them; the last quarter's prices moved by ``move_last``."""
    from backend.collateral.avm.market import generate_sales

    start = date(2024, 1, 1)  # the generated market's own origin: its trend counts from here
    first, _ = check_quarter(quarters[0])
    _, last = check_quarter(quarters[-1])
    span = (last.year - start.year) * 4 + (last.month - start.month) // 3 + 1
    frame = generate_sales(
        int(per_quarter * span * 1.1) + 10,
        seed=seed,
        start=start,
        quarters=span,
        community_seed=MARKET_SEED,
    )
    out, counts = [], dict.fromkeys(quarters, 0)
    last_q = quarters[-1]
    for row in frame.itertuples(index=False):
        sold = date.fromisoformat(row.sale_date)
        if not first <= sold <= last:
            continue
        q = f"{sold.year}Q{(sold.month - 1) // 3 + 1}"
        if counts[q] >= per_quarter:
            continue
        counts[q] += 1
        price = Decimal(str(row.price)) * (Decimal(1) + Decimal(str(move_last)) * (q == last_q))
        out.append(
            {
                "source_ref": f"demo-{q}-{counts[q]:04d}",
                "city": row.city,
                "district": row.district,
                "community": row.community,
                "area_m2": Decimal(str(row.area)),
                "floor": int(row.floor),
                "total_floors": int(row.total_floors),
                "build_year": int(row.build_year),
                "orientation": row.orientation,
                "decoration": row.decoration,
                "rooms": int(row.rooms),
                "property_type": row.property_type,
                "price": price.quantize(Decimal("0.01")),
                "sale_date": sold,
            }
        )
    return out


def _plant_levels(session: Session, now) -> int:
    """Where no credit is at alarm or block: one retail client's loan (no enterprise, so no
    risk event) reported at 85 % of its property's value, so that the screens show an alarm."""
    over = session.scalar(select(CreditLink.id).where(CreditLink.ltv_level.in_(("alarm", "block"))))
    if over is not None:
        return 0
    from backend.identity.models import Org

    retail = set(session.scalars(select(Org.id).where(Org.code.in_(tuple(ltv.RETAIL_ORG_CODES)))))
    loan = session.scalar(
        select(CreditLink)
        .where(
            CreditLink.credit_kind == "loan",
            CreditLink.status == "active",
            CreditLink.borrower_org_id.in_(retail),
            CreditLink.ltv_bp > 0,
        )
        .order_by(CreditLink.id)
        .limit(1)
    )
    if loan is None:
        return 0
    value = Decimal(loan.outstanding) * 8500 / loan.ltv_bp
    ltv.report_outstanding(session, SYSTEM, loan.id, value.quantize(Decimal("0.01")), now=now)
    return 1


def seed_monitoring(session: Session, options) -> dict:
    from backend.collateral import modelstore
    from backend.collateral.monitoring.ratio import run_ratio_study

    if not (getattr(options, "enterprises", 0) or getattr(options, "cars", 0)):
        # plain ``finedge seed`` and every test app: nothing (a test app must not pay for it,
        # and a study pins the champion's row, which some tests replace)
        return {"monitoring": "seeded with the demo's data only (--enterprises or --cars)"}
    found = modelstore.champion(session)
    if found is None:
        return {"monitoring": "no champion model: nothing seeded"}
    model, _trained = found
    now = utcnow()
    quarters = last_quarters(now.date())
    rows = market_sales(quarters, PER_QUARTER)
    imported = import_sales(session, SYSTEM, rows, now=now)["imported"]
    studies, alarms = 0, []
    for q in quarters:
        done = session.scalar(
            select(RatioStudy.id).where(RatioStudy.quarter == q, RatioStudy.model_id == model.id)
        )
        if done is None:
            row = run_ratio_study(session, SYSTEM, q, now=now)
            studies += 1
            alarms += [f"{q}:{a['code']}" for a in row.alarms]
    session.commit()
    run = revalue_book(session, SYSTEM, run_key=RUN_KEY, now=now)
    planted = _plant_levels(session, now)
    session.commit()
    return {
        "market_sales": imported,
        "ratio_studies": studies,
        "ratio_alarms": alarms,
        "revalued": run["done"],
        "ltv_planted": planted,
    }
