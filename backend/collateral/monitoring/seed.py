"""Demo monitoring data (runs after the AVM's and the registry's seeders):

- market sales of the last four complete quarters from the AVM's generated market (the same
  communities the champion was trained on; a few hundred a quarter with the demo's seed, 60
  otherwise), the last quarter with a planted market move (+12 % on every price) so that the
  drift alarm shows; the quarters before follow the market's own slow trend;
- the ratio study of each of those quarters by the champion;
- a revaluation run of the book (run key ``demo-seed``), which recomputes every LTV;
- where no credit is over a threshold yet, reported outstanding on a few loans so that the
  screens show warn and alarm levels: alarm only on retail clients' loans (no enterprise to
  flag), warn elsewhere, never block (a demo org must not be barred from disbursement).

Idempotent: sales by ``source_ref``, a study only where its quarter has none by the champion,
the run by its key (a finished run does nothing), loans only while none is over a threshold.
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
PER_QUARTER_DEMO = 300
PER_QUARTER_SMALL = 60
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
    """Reported outstanding on a few loans so that the screens show warn and alarm."""
    over = session.scalar(
        select(CreditLink.id).where(CreditLink.ltv_level.in_(("warn", "alarm", "block")))
    )
    if over is not None:
        return 0
    from backend.identity.models import Org

    retail = set(session.scalars(select(Org.id).where(Org.code.in_(tuple(ltv.RETAIL_ORG_CODES)))))
    loans = session.scalars(
        select(CreditLink)
        .where(
            CreditLink.credit_kind == "loan",
            CreditLink.status == "active",
            CreditLink.ltv_bp.is_not(None),
            CreditLink.ltv_bp > 0,
        )
        .order_by(CreditLink.id)
    )
    planted, seen = 0, set()
    for link in loans:
        if link.credit_ref in seen or planted >= 3:
            continue
        seen.add(link.credit_ref)
        target = 8500 if link.borrower_org_id in retail else 7500  # bp: alarm / warn
        value = Decimal(link.outstanding) * target / link.ltv_bp
        ltv.report_outstanding(session, SYSTEM, link.id, value.quantize(Decimal("0.01")), now=now)
        planted += 1
    return planted


def seed_monitoring(session: Session, options) -> dict:
    from backend.collateral import modelstore
    from backend.collateral.monitoring.ratio import run_ratio_study

    found = modelstore.champion(session)
    if found is None:
        return {"monitoring": "no champion model: nothing seeded"}
    model, _trained = found
    now = utcnow()
    demo = bool(getattr(options, "enterprises", 0) or getattr(options, "cars", 0))
    quarters = last_quarters(now.date())
    rows = market_sales(quarters, PER_QUARTER_DEMO if demo else PER_QUARTER_SMALL)
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
