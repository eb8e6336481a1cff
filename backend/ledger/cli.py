"""``finedge ledger ...``: the ledger's click group (``backend/cli.py`` adds it to ``finedge``)."""

from __future__ import annotations

import json
import sys

import click

from backend.ledger.verify import verify
from backend.platform.config import Config
from backend.platform.db import make_engine, make_session_factory


@click.group("ledger")
def ledger_cli() -> None:
    """The double-entry ledger."""


@ledger_cli.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--database-url", default=None, help="Default: DATABASE_URL or the demo SQLite.")
def verify_command(as_json: bool, database_url: str | None) -> None:
    """Recompute every balance from the journal; exit 1 on any difference."""
    url = database_url or Config.from_env().database_url
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            report = verify(session)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(report.to_dict(), sort_keys=True))
    else:
        click.echo(
            f"{report.accounts} accounts, {report.transfers} transfers, {report.holds} holds; "
            f"posted {report.posted_total}, pending {report.pending_total}"
        )
        for d in report.differences:
            click.echo(f"DIFFERENCE {d.check} {d.object}: expected {d.expected}, got {d.actual}")
        click.echo("ok" if report.ok else f"{len(report.differences)} difference(s)")
    sys.exit(0 if report.ok else 1)
