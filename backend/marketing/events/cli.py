"""``finedge marketing detect|import-transactions``: the events' commands (joined to the
``finedge marketing`` group; backend/cli.py merges groups of one name).

- ``detect [--json] [--chunk N] [--quiet]``: the feed after the cursor (a transaction every
  ``--batch`` rows, a tqdm bar on standard error), then maturities, loans closed early,
  dormancy and VIP arrivals; a summary on standard output.
- ``import-transactions --csv FILE``: the core banking feed from a CSV with the columns ref,
  client_no, at (RFC 3339 with a zone), amount (signed decimal), kind, channel; every row
  checked first (a bad one: ``error: FILE: row N: ...``, exit 2, nothing imported); rows
  whose ref is there already are skipped (a re-import adds nothing).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click
from sqlalchemy import func, select

from backend.identity.cli import command_process, one_line_errors, operator
from backend.marketing.events import feed, service
from backend.marketing.models import Cursor, Transaction
from backend.platform.clock import utcnow
from backend.platform.db import session_scope
from backend.platform.errors import ValidationFailed

MAX_FILE_ROWS = 5_000_000


@click.group("marketing")
def events_cli() -> None:
    """Marketing: client 360, events, segments, campaigns."""


def _bar(total: int, desc: str, quiet: bool):
    if quiet:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="row", file=sys.stderr)


@events_cli.command("detect")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON object.")
@click.option("--chunk", type=click.IntRange(1, service.MAX_CHUNK), default=5000, show_default=True)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000_000),
    default=200_000,
    show_default=True,
    help="Rows per transaction (each commits the events and the cursor).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@one_line_errors
def detect_command(as_json: bool, chunk: int, batch: int, quiet: bool) -> None:
    """Detect marketing events: the transaction feed after the cursor, then the sweeps."""
    totals = {"rows": 0, "events": 0}
    with command_process() as runtime:
        factory = runtime.session_factory
        with factory() as session:
            position = (
                session.scalar(select(Cursor.position).where(Cursor.name == service.FEED_CURSOR))
                or 0
            )
            pending = session.scalar(
                select(func.count()).select_from(Transaction).where(Transaction.id > position)
            )
        bar = _bar(pending, "events", quiet)
        try:
            while True:
                now = utcnow()
                with session_scope(factory) as session:
                    got = service.detect_transactions(
                        session,
                        now,
                        chunk_size=chunk,
                        max_rows=batch,
                        progress=bar.update if bar is not None else None,
                    )
                totals["rows"] += got["rows"]
                totals["events"] += got["events"]
                totals["cursor"] = got["cursor"]
                if got["rows"] < batch:
                    break
        finally:
            if bar is not None:
                bar.close()
        now = utcnow()
        with session_scope(factory) as session:
            totals["maturity"] = service.detect_maturities(session, now)
            totals["closed_loans"] = service.detect_closed_loans(session, now)
            totals["dormancy"] = service.detect_dormancy(session, now)
            totals["vip_arrival"] = service.detect_arrivals(session, now)
    if as_json:
        click.echo(json.dumps(totals, sort_keys=True))
    else:
        click.echo(
            f"{totals['rows']} transactions read, {totals['events']} events from the feed; "
            f"maturity {totals['maturity']}, loans closed early {totals['closed_loans']}, "
            f"dormancy {totals['dormancy']}, VIP arrivals {totals['vip_arrival']}"
        )


@events_cli.command("import-transactions")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="No progress bar.")
@one_line_errors
def import_command(csv_path: Path, quiet: bool) -> None:
    """Import the transaction feed from a CSV (ref makes a re-import a no-op)."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in feed.COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                click.echo(
                    f"error: {csv_path.name}: missing columns {', '.join(missing)}", err=True
                )
                sys.exit(2)
            rows = []
            for row in reader:
                if None in row:
                    click.echo(
                        f"error: {csv_path.name}: row {reader.line_num}: more fields than columns",
                        err=True,
                    )
                    sys.exit(2)
                rows.append(row)
                if len(rows) > MAX_FILE_ROWS:
                    click.echo(f"error: {csv_path.name}: more than {MAX_FILE_ROWS} rows", err=True)
                    sys.exit(2)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        click.echo(f"error: {csv_path}: {exc}".splitlines()[0], err=True)
        sys.exit(2)
    bars = []

    def progress(n: int) -> None:  # the bar only once every row passed its check
        if quiet:
            return
        if not bars:
            bars.append(_bar(len(rows), "import", quiet))
        bars[0].update(n)

    try:
        with command_process() as runtime, session_scope(runtime.session_factory) as session:
            result = feed.import_transactions(
                session, operator(), rows, now=utcnow(), progress=progress
            )
    except ValidationFailed as exc:
        click.echo(f"error: {csv_path.name}: {exc}".splitlines()[0], err=True)
        sys.exit(2)
    finally:
        for bar in bars:
            bar.close()
    click.echo(json.dumps(result, sort_keys=True))
