"""The quarterly IAAO ratio study: the quarter's market sales valued by the champion (from
their facts; the sale price never enters), the study's figures, and its alarms.

Alarms (kept in the row, audited, listed on the console):

- ``iaao_<figure>``: a figure outside IAAO's range (the study's own pass/fail);
- ``drift_<figure>``: the figure moved from the model's own held-out figure (what it scored
  when trained) by more than ``DRIFT``: median ratio more than 5 points, COD up more than 50 %,
  PPE10 down more than 10 points; a market that moved since training shows here first;
- ``few_sales``: fewer than ``MIN_SALES`` sales (the figures are weak evidence).

One row per quarter and model (``uq_col_ratio_study``): a rerun updates it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collateral.models import AvmModel, MarketSale, RatioStudy
from backend.platform.audit import record
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, ValidationFailed

QUARTER_RE = re.compile(r"^([0-9]{4})Q([1-4])$")
MIN_SALES = 30
# drift limits versus the model's held-out figures
DRIFT_MEDIAN_RATIO = 0.05  # 5 points of ratio
DRIFT_COD_RISE = 0.50  # COD up by more than half
DRIFT_PPE10_DROP = 10.0  # percentage points


def check_quarter(quarter: str) -> tuple[date, date]:
    """``YYYYQn`` → its first and last day; else 400."""
    m = QUARTER_RE.fullmatch(quarter or "")
    if not m or not 2000 <= int(m.group(1)) <= 2100:
        raise ValidationFailed(
            "quarter: YYYYQn, e.g. 2026Q3",
            code="validation_error",
            details={"quarter": ["YYYYQn, e.g. 2026Q3"]},
        )
    year, q = int(m.group(1)), int(m.group(2))
    first = date(year, 3 * q - 2, 1)
    last = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return first, date.fromordinal(last.toordinal() - 1)


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def previous_quarter(day: date) -> str:
    year, q = day.year, (day.month - 1) // 3 + 1
    return f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}"


@dataclass
class Assessor:
    """The champion and the study function (the AVM's; tests may inject their own)."""

    champion: Callable[[Session], tuple[AvmModel, Any] | None]
    value_many: Callable[[Any, list[dict]], Sequence[float]]
    study: Callable[[Sequence[float], Sequence[float]], dict]


def avm_assessor() -> Assessor:
    from backend.collateral.avm import ratio_study
    from backend.collateral.modelstore import champion

    return Assessor(
        champion=champion,
        value_many=lambda trained, rows: [float(r.value) for r in trained.value_many(rows)],
        study=ratio_study,
    )


SALE_FACTS = (
    "city",
    "district",
    "community",
    "floor",
    "total_floors",
    "build_year",
    "orientation",
    "decoration",
    "rooms",
    "property_type",
)


def facts_of_sale(sale: MarketSale) -> dict:
    """What the model sees of a sale, under the AVM's keys: its facts, never its price or
    date (valued as of the model's latest level, as a property is revalued)."""
    facts = {name: getattr(sale, name) for name in SALE_FACTS}
    facts["area"] = float(sale.area_m2)
    return facts


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) != float("inf") else None


def held_out_of(model: AvmModel) -> dict:
    """The model's own held-out ratio study, as the AVM stored it in ``metrics``."""
    metrics = model.metrics or {}
    for key in ("held_out", "ensemble", "champion", "model"):
        if isinstance(metrics.get(key), dict):
            return metrics[key]
    return metrics


def _pct(value: float | None) -> float | None:
    """PPE figures as percentages whether a study gives 0.61 or 61.0."""
    if value is None:
        return None
    return value * 100 if abs(value) <= 1.0 else value


NAMES = {"median_ratio": "median ratio", "cod": "COD", "prd": "PRD", "prb": "PRB"}


def _range(figure: str) -> str:
    from backend.collateral.avm import IAAO

    low, high = IAAO.get(figure, (None, None))
    return "" if low is None else f"{low}..{high}"


def iaao_failures(metrics: dict) -> list[dict]:
    """The figures the study itself marks as failing IAAO's standard."""
    out = []
    verdicts = metrics.get("iaao")
    if isinstance(verdicts, dict):
        for figure, verdict in sorted(verdicts.items()):
            if isinstance(verdict, dict):
                verdict = verdict.get("pass", verdict.get("ok", verdict.get("verdict")))
            failed = verdict is False or (isinstance(verdict, str) and verdict.lower() == "fail")
            if failed:
                out.append(
                    {
                        "code": f"iaao_{figure}",
                        "figure": figure,
                        "value": _num(metrics.get(figure)),
                        "message": f"{NAMES.get(figure, figure)} {metrics.get(figure)} "
                        f"outside IAAO's range {_range(figure)}",
                    }
                )
    return out


def drift_alarms(metrics: dict, held_out: dict) -> list[dict]:
    out = []
    now_mr, then_mr = _num(metrics.get("median_ratio")), _num(held_out.get("median_ratio"))
    if now_mr is not None and then_mr is not None and abs(now_mr - then_mr) > DRIFT_MEDIAN_RATIO:
        out.append(
            {
                "code": "drift_median_ratio",
                "figure": "median_ratio",
                "value": now_mr,
                "held_out": then_mr,
                "message": f"median ratio {now_mr:.3f} against {then_mr:.3f} held out "
                f"(more than {DRIFT_MEDIAN_RATIO:.2f} apart)",
            }
        )
    now_cod, then_cod = _num(metrics.get("cod")), _num(held_out.get("cod"))
    if now_cod is not None and then_cod and now_cod > then_cod * (1 + DRIFT_COD_RISE):
        out.append(
            {
                "code": "drift_cod",
                "figure": "cod",
                "value": now_cod,
                "held_out": then_cod,
                "message": f"COD {now_cod:.1f} against {then_cod:.1f} held out (up more than "
                f"{DRIFT_COD_RISE:.0%})",
            }
        )
    now_p, then_p = _pct(_num(metrics.get("ppe10"))), _pct(_num(held_out.get("ppe10")))
    if now_p is not None and then_p is not None and then_p - now_p > DRIFT_PPE10_DROP:
        out.append(
            {
                "code": "drift_ppe10",
                "figure": "ppe10",
                "value": now_p,
                "held_out": then_p,
                "message": f"PPE10 {now_p:.1f} % against {then_p:.1f} % held out (down more "
                f"than {DRIFT_PPE10_DROP:.0f} points)",
            }
        )
    return out


def _jsonable(metrics: dict) -> dict:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out[key] = _jsonable(value)
        elif isinstance(value, bool | str | int) or value is None:
            out[key] = value
        else:
            out[key] = _num(value)
    return out


def run_ratio_study(
    session: Session,
    actor: Actor,
    quarter: str,
    *,
    now: datetime | None = None,
    assessor: Assessor | None = None,
) -> RatioStudy:
    """Value the quarter's sales with the champion, store the study (one row per quarter and
    model: a rerun updates it), its alarms, and an audit record. Flushes, never commits."""
    first, last = check_quarter(quarter)
    assessor = assessor or avm_assessor()
    found = assessor.champion(session)
    if found is None:
        raise BusinessRuleViolation("no champion model to study", code="no_champion_model")
    model, trained = found
    sales = list(
        session.scalars(
            select(MarketSale)
            .where(MarketSale.sale_date >= first, MarketSale.sale_date <= last)
            .order_by(MarketSale.id)
        )
    )
    if not sales:
        raise BusinessRuleViolation(
            f"no market sales in {quarter}",
            code="no_sales_in_quarter",
            details={"quarter": quarter},
        )
    predicted = list(assessor.value_many(trained, [facts_of_sale(s) for s in sales]))
    actual = [float(s.price) for s in sales]
    metrics = _jsonable(dict(assessor.study(predicted, actual)))
    alarms = iaao_failures(metrics) + drift_alarms(metrics, held_out_of(model))
    if len(sales) < MIN_SALES:
        alarms.append(
            {
                "code": "few_sales",
                "figure": "n",
                "value": len(sales),
                "message": f"only {len(sales)} sales (fewer than {MIN_SALES})",
            }
        )
    now = now or utcnow()
    row = session.scalar(
        select(RatioStudy).where(RatioStudy.quarter == quarter, RatioStudy.model_id == model.id)
    )
    before = None
    if row is None:
        row = RatioStudy(quarter=quarter, model_id=model.id, created_at=now)
        session.add(row)
    else:
        before = {"sales": row.sales, "alarms": [a["code"] for a in row.alarms or []]}
    row.sales = len(sales)
    row.metrics = {**metrics, "model_version": model.version, "studied_at": now.isoformat()}
    row.alarms = alarms
    session.flush()
    record(
        session,
        actor,
        "collateral.ratio_study",
        "col_ratio_study",
        row.id,
        before,
        {
            "quarter": quarter,
            "model_version": model.version,
            "sales": len(sales),
            "alarms": [a["code"] for a in alarms],
            "median_ratio": metrics.get("median_ratio"),
            "cod": metrics.get("cod"),
        },
    )
    return row
