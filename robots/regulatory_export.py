"""Monthly regulatory exposure report as an XLSX workbook (openpyxl), kept with the run.

One item per report (``period``: the month reported, ``YYYY-MM``; the scheduled run on the
1st reports the month just ended, as of the run's time). The workbook:

- ``Header``: bank, period, generated at (UTC), the row count and the totals of each sheet;
- ``Floor-plan``: one row per dealer credit line: dealer, line, status, limit, exposure (the
  financed balance not repaid plus release-before-repay, as floor-plan reports it to the
  collateral area), overdue (the dealer's advance account: what the bank paid at maturity for
  it), required margin, margin held (frozen by ledger holds), margin coverage (held /
  exposure), all from ``dealer_summary`` and the line's exposure;
- ``Factoring``: one row per agreement: core enterprise, agreement, status, valid to, limit,
  exposure (financed outstanding), overdue payables (amount and count).

Both sheets end with ``Over limit``: the exposure above the limit (for a line, above limit
plus its release-before-repay allowance). It is reported, not refused: a limit lowered after
drawing is a real state the regulator must see. A row with a negative amount is a broken book:
the report stops as ``BusinessFailure("difference")`` for finance before anything is filed.

Amounts are numbers with a money format (written from ``Decimal``), dates are dates, ratios
are percentages.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import func, select

from backend.factoring.models import Agreement, Payable
from backend.floorplan.exposure import FloorplanExposurePort
from backend.floorplan.models import CreditLine
from backend.floorplan.queries import dealer_summary
from backend.identity.models import Org
from backend.platform.money import format_money
from backend.rpa.robot import BusinessFailure, ItemContext, Manifest, Robot, RunContext, Schedule

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY = "#,##0.00"
DATE = "yyyy-mm-dd"
PERCENT = "0.00%"
ZERO = Decimal("0.00")

FLOORPLAN_COLUMNS = (
    ("Dealer code", None),
    ("Dealer", None),
    ("Credit line", None),
    ("Status", None),
    ("Limit", MONEY),
    ("Exposure", MONEY),
    ("Overdue", MONEY),
    ("Required margin", MONEY),
    ("Margin held", MONEY),
    ("Margin coverage", PERCENT),
    ("Over limit", MONEY),
)
FACTORING_COLUMNS = (
    ("Core enterprise code", None),
    ("Core enterprise", None),
    ("Agreement", None),
    ("Status", None),
    ("Valid to", DATE),
    ("Limit", MONEY),
    ("Exposure", MONEY),
    ("Overdue", MONEY),
    ("Overdue payables", "0"),
    ("Over limit", MONEY),
)


def previous_month(day: date) -> str:
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


def produce(ctx: RunContext):
    yield {"period": str(ctx.params.get("period") or previous_month(ctx.now.date()))}


def _floorplan_rows(ctx: ItemContext) -> list[tuple]:
    rows = []
    port = FloorplanExposurePort()
    lines = ctx.session.scalars(select(CreditLine).order_by(CreditLine.dealer_org_id))
    for line in lines:
        s = dealer_summary(ctx.session, ctx.actor, line.dealer_org_id, now=ctx.now)
        exposure = port.credit_exposure(ctx.session, str(line.id)).outstanding
        coverage = (s.frozen / exposure).quantize(Decimal("0.0001")) if exposure > 0 else None
        rows.append(
            (
                s.dealer_code,
                s.dealer_name,
                line.id,
                line.status,
                line.limit_amount,
                exposure,
                s.advance_outstanding,
                s.required_margin,
                s.frozen,
                coverage,
                max(ZERO, exposure - line.limit_amount - line.rbr_limit),
            )
        )
        _check(s.dealer_code, rows[-1][4:9])
    return rows


def _factoring_rows(ctx: ItemContext) -> list[tuple]:
    session = ctx.session
    overdue = {
        agreement_id: (amount, count)
        for agreement_id, amount, count in session.execute(
            select(Payable.agreement_id, func.sum(Payable.amount), func.count())
            .where(Payable.status == "OVERDUE")
            .group_by(Payable.agreement_id)
        )
    }
    agreements = list(session.scalars(select(Agreement).order_by(Agreement.code)))
    cores = {a.core_org_id for a in agreements}
    orgs = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_(cores)))}
    rows = []
    for a in agreements:
        amount, count = overdue.get(a.id, (ZERO, 0))
        amount = Decimal(str(amount or 0)).quantize(ZERO)
        core = orgs.get(a.core_org_id)
        rows.append(
            (
                core.code if core else str(a.core_org_id),
                core.name if core else "",
                a.code,
                a.status,
                a.valid_to,
                a.limit_amount,
                a.financed_outstanding,
                amount,
                count,
                max(ZERO, a.financed_outstanding - a.limit_amount),
            )
        )
        _check(a.code, (a.limit_amount, a.financed_outstanding, amount))
    return rows


def _check(who: str, amounts) -> None:
    """A negative limit, exposure, overdue or margin is a broken book, not a figure to file."""
    if any(v is not None and v < 0 for v in amounts):
        raise BusinessFailure(
            "difference", f"{who}: a negative amount", {"row": who, "amounts": _money(amounts)}
        )


def _money(values) -> list[str | None]:
    return [None if v is None else format_money(v) for v in values]


def _sheet(book: Workbook, title: str, columns, rows) -> None:
    sheet = book.create_sheet(title)
    sheet.append([name for name, _ in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    for index, (name, fmt) in enumerate(columns, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = max(12, len(name) + 2)
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = fmt
    sheet.freeze_panes = "A2"


def _total(rows, index: int) -> Decimal:
    return sum((r[index] for r in rows), ZERO)


def process(ctx: ItemContext, payload: dict[str, Any]) -> dict[str, Any]:
    period = str(payload["period"])
    try:
        datetime.strptime(period, "%Y-%m")
    except ValueError:
        raise BusinessFailure("bad_period", "period must be YYYY-MM", {"period": period}) from None
    floorplan = _floorplan_rows(ctx)
    factoring = _factoring_rows(ctx)
    bank = ctx.session.scalar(select(Org).where(Org.kind == "bank").order_by(Org.id))
    totals = {
        "floorplan_limit": _total(floorplan, 4),
        "floorplan_exposure": _total(floorplan, 5),
        "floorplan_overdue": _total(floorplan, 6),
        "floorplan_margin_held": _total(floorplan, 8),
        "factoring_limit": _total(factoring, 5),
        "factoring_exposure": _total(factoring, 6),
        "factoring_overdue": _total(factoring, 7),
        "over_limit": _total(floorplan, 10) + _total(factoring, 9),
    }
    book = Workbook()
    header = book.active
    header.title = "Header"
    generated = ctx.now.astimezone(UTC).replace(tzinfo=None)  # Excel has no zones: UTC
    header.append(["Bank", bank.name if bank else ""])
    header.append(["Report", "Credit exposures per counterparty"])
    header.append(["Period", period])
    header.append(["Generated at (UTC)", generated])
    header["B4"].number_format = "yyyy-mm-dd hh:mm:ss"
    header.append(["Floor-plan rows", len(floorplan)])
    header.append(["Factoring rows", len(factoring)])
    for name, value in totals.items():
        header.append([name.replace("_", " ").capitalize(), value])
        header.cell(row=header.max_row, column=2).number_format = MONEY
    header.column_dimensions["A"].width = 26
    header.column_dimensions["B"].width = 36
    for (cell,) in header.iter_rows(min_col=1, max_col=1):
        cell.font = Font(bold=True)
    _sheet(book, "Floor-plan", FLOORPLAN_COLUMNS, floorplan)
    _sheet(book, "Factoring", FACTORING_COLUMNS, factoring)
    out = io.BytesIO()
    book.save(out)
    name = f"regulatory-exposures-{period}.xlsx"
    artefact = ctx.artefact(name, out.getvalue(), XLSX)
    ctx.log(f"{name}: {len(floorplan)} floor-plan and {len(factoring)} factoring rows")
    return {
        "period": period,
        "artefact_id": artefact,
        "file": name,
        "rows": {"floorplan": len(floorplan), "factoring": len(factoring)},
        "totals": {k: format_money(v) for k, v in totals.items()},
    }


ROBOT = Robot(
    manifest=Manifest(
        name="regulatory_export",
        version="1.0.0",
        department="finance",
        title="Monthly regulatory exposure report (XLSX)",
        description=(
            "Floor-plan and factoring exposures per counterparty, overdue and margin coverage, "
            "with a header sheet of totals, as an XLSX kept with the run."
        ),
        input_schema={"period": "str"},
        schedule=Schedule(cron="0 2 1 * *"),
        timeout_s=300,
        max_retries=2,
        manual_minutes=Decimal("240"),
    ),
    produce=produce,
    process=process,
)
