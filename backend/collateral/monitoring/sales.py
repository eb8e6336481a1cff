"""Market sales: the truth the quarterly ratio study values the champion against.

Imported in batches (HTTP JSON or a CSV); ``source_ref`` makes a re-import of the same sale a
no-op. A batch is checked whole first: one bad row refuses the batch (400 with details per row
index and field) and nothing is stored.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collateral.access import STAFF
from backend.collateral.avm import factors
from backend.collateral.models import MarketSale
from backend.platform.audit import record
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.money import parse_money
from backend.platform.permissions import ensure_role

MAX_BATCH = 5000
MAX_AREA = Decimal("10000")
TEXT = {"source_ref": 80, "city": 40, "district": 60, "community": 120}
FIELDS = (
    "source_ref",
    "city",
    "district",
    "community",
    "area_m2",
    "floor",
    "total_floors",
    "build_year",
    "orientation",
    "decoration",
    "rooms",
    "property_type",
    "price",
    "sale_date",
)


def _int(row: dict, name: str, low: int, high: int, errors: dict) -> int | None:
    value = row.get(name)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = ["a whole number"]
        return None
    if not low <= value <= high:
        errors[name] = [f"between {low} and {high}"]
        return None
    return value


def check_sale(row: Any, *, today: date) -> tuple[dict | None, dict]:
    """(the sale's fields, {}) or (None, {field: [problem]})."""
    if not isinstance(row, dict):
        return None, {"_row": ["an object"]}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        errors["_unknown"] = [f"unknown fields: {', '.join(map(str, unknown))}"]
    out: dict[str, Any] = {}
    for name, size in TEXT.items():
        value = row.get(name)
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > size:
            errors[name] = [f"text of 1 to {size} characters"]
        elif not value.isprintable():
            errors[name] = ["printable text"]
        else:
            out[name] = value.strip()
    area = row.get("area_m2")
    try:
        if isinstance(area, bool) or not isinstance(area, int | float | str | Decimal):
            raise InvalidOperation
        area_d = Decimal(str(area).strip())
        if not area_d.is_finite() or not 0 < area_d <= MAX_AREA:
            raise InvalidOperation
        out["area_m2"] = area_d.quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        errors["area_m2"] = [f"square metres, more than 0 and at most {MAX_AREA}"]
    total = _int(row, "total_floors", 1, 200, errors)
    floor = _int(row, "floor", -5, 200, errors)
    if floor is not None and total is not None and floor > total:
        errors["floor"] = ["not above total_floors"]
    out["floor"], out["total_floors"] = floor, total
    sale_date = row.get("sale_date")
    if isinstance(sale_date, str):
        try:
            sale_date = date.fromisoformat(sale_date)
        except ValueError:
            sale_date = None
    if not isinstance(sale_date, date) or isinstance(sale_date, datetime):
        errors["sale_date"] = ["a date YYYY-MM-DD"]
    elif sale_date > today:
        errors["sale_date"] = ["not in the future"]
    else:
        out["sale_date"] = sale_date
    last_year = sale_date.year if isinstance(sale_date, date) else today.year
    out["build_year"] = _int(row, "build_year", 1900, last_year, errors)
    out["rooms"] = _int(row, "rooms", 1, 20, errors)
    for name, allowed in (
        ("orientation", factors.ORIENTATIONS),
        ("decoration", factors.DECORATIONS),
        ("property_type", factors.PROPERTY_TYPES),
    ):
        if row.get(name) not in allowed:
            errors[name] = [f"one of {', '.join(allowed)}"]
        else:
            out[name] = row[name]
    try:
        out["price"] = parse_money(row.get("price"), field="price", positive=True)
    except ValidationFailed as exc:
        errors["price"] = [exc.message]
    return (None, errors) if errors else (out, {})


def import_sales(
    session: Session, actor: Actor, rows: list, *, now: datetime | None = None
) -> dict:
    """Store the sales of a batch not seen before (by ``source_ref``); bank staff only."""
    ensure_role(actor, *STAFF)
    now = now or utcnow()
    if not isinstance(rows, list) or not rows or len(rows) > MAX_BATCH:
        raise ValidationFailed(
            f"sales: 1 to {MAX_BATCH} sales",
            code="validation_error",
            details={"sales": [f"1 to {MAX_BATCH} sales"]},
        )
    checked, problems = [], {}
    for i, row in enumerate(rows):
        sale, errors = check_sale(row, today=now.date())
        if errors:
            problems[str(i)] = errors
        else:
            checked.append(sale)
    refs = [s["source_ref"] for s in checked]
    if len(set(refs)) != len(refs):
        seen, dup = set(), []
        for i, ref in enumerate(refs):
            if ref in seen:
                dup.append(i)
            seen.add(ref)
        problems["_batch"] = {"source_ref": [f"repeated in the batch at {dup[:10]}"]}
    if problems:
        shown = dict(list(problems.items())[:50])
        raise ValidationFailed(
            f"{len(problems)} sale(s) refused; nothing was imported",
            code="validation_error",
            details={"sales": shown},
        )
    known = set()
    for start in range(0, len(refs), 500):
        part = refs[start : start + 500]
        known |= set(
            session.scalars(select(MarketSale.source_ref).where(MarketSale.source_ref.in_(part)))
        )
    new = [s for s in checked if s["source_ref"] not in known]
    for sale in new:
        session.add(MarketSale(**sale, created_at=now))
    session.flush()
    result = {"received": len(rows), "imported": len(new), "already_known": len(rows) - len(new)}
    if new:
        dates = [s["sale_date"] for s in new]
        record(
            session,
            actor,
            "collateral.sales_imported",
            "col_sales",
            f"{min(dates)}..{max(dates)}",
            None,
            result,
        )
    return result
