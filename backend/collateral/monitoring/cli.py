"""``finedge collateral revalue|ratio-study|sales-import``: monitoring's commands, joined to
the ``finedge collateral`` group (backend/cli.py merges groups of one name).

- ``revalue [--run-key K]``: revalue the book (a tqdm bar on standard error), then every LTV;
  a JSON summary on standard output. The same key again resumes or, when done, does nothing.
- ``ratio-study --quarter 2026Q3``: the quarter's IAAO ratio study and its alarms, as JSON.
- ``sales-import --csv FILE``: market sales from a CSV with the API's field names as columns
  (source_ref, city, district, community, area_m2, floor, total_floors, build_year,
  orientation, decoration, rooms, property_type, price, sale_date); all or nothing.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from backend.collateral.monitoring import service
from backend.collateral.monitoring.sales import FIELDS
from backend.identity.cli import command_process, one_line_errors, operator
from backend.platform.clock import utcnow
from backend.platform.db import session_scope
from backend.platform.errors import ValidationFailed


@click.group("collateral")
def monitoring_cli() -> None:
    """Collateral: valuation, registry and LTV monitoring."""


@monitoring_cli.command("revalue")
@click.option("--run-key", default=None, help="Resume this run (default: this month, YYYY-MM).")
@click.option("--chunk", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@one_line_errors
def revalue_command(run_key: str | None, chunk: int, quiet: bool) -> None:
    """Revalue every active property with the champion, then recompute every LTV."""
    from tqdm import tqdm

    key = run_key or f"{utcnow():%Y-%m}"
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if quiet:
            return
        if bar is None:
            bar = tqdm(total=total, desc=f"revalue {key}", unit="prop", file=sys.stderr)
        bar.total = total
        bar.n = done
        bar.refresh()

    with command_process() as runtime:
        try:
            summary = service.revalue_book(
                runtime.session_factory, operator(), run_key=key, progress=progress, chunk=chunk
            )
        finally:
            if bar is not None:
                bar.close()
    click.echo(json.dumps(summary, sort_keys=True, default=str))


@monitoring_cli.command("ratio-study")
@click.option("--quarter", required=True, help="YYYYQn, e.g. 2026Q3.")
@one_line_errors
def ratio_study_command(quarter: str) -> None:
    """The IAAO ratio study of a quarter's market sales by the champion (rerun: updated)."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        row = service.run_ratio_study(session, operator(), quarter)
        out = {
            "quarter": row.quarter,
            "model_id": row.model_id,
            "sales": row.sales,
            "metrics": row.metrics,
            "alarms": row.alarms,
        }
    click.echo(json.dumps(out, sort_keys=True, default=str))


@monitoring_cli.command("sales-import")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@one_line_errors
def sales_import_command(csv_path: Path) -> None:
    """Import market sales from a CSV (source_ref makes a re-import a no-op)."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
            if missing:
                click.echo(
                    f"error: {csv_path.name}: missing columns {', '.join(missing)}", err=True
                )
                sys.exit(2)
            rows = [{k: v for k, v in row.items() if k in FIELDS} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        click.echo(f"error: {csv_path}: {exc}", err=True)
        sys.exit(2)
    try:
        with command_process() as runtime, session_scope(runtime.session_factory) as session:
            result = service.import_sales(session, operator(), rows)
    except ValidationFailed as exc:
        problems = exc.details.get("sales", {})
        first = next(iter(problems.items()), None)
        where = f" (row {int(first[0]) + 2}: {first[1]})" if first and first[0].isdigit() else ""
        click.echo(f"error: {csv_path.name}: {exc}{where}", err=True)
        sys.exit(2)
    click.echo(json.dumps(result, sort_keys=True))
