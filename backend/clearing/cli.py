"""``finedge clearing ...`` and ``finedge clearing-sim``: the clearing area's commands
(``backend/cli.py`` adds them from the area's ``cli=``).

- ``finedge clearing reconcile FILE --house CCH1 [--date YYYY-MM-DD]``: a clearing house's
  reconciliation CSV read from a folder, compared with the ledger (differences listed, alarmed
  and raised as risk events); exit 1 on any difference.
- ``finedge clearing replay [--json]``: the instruction log replayed into balances and compared
  with the ledger; exit 1 on any difference.
- ``finedge clearing-sim``: a clearing house's day of trading over the real HTTP interface
  (``backend.clearing.sim``).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click
from sqlalchemy import select

from backend.clearing import queries, service
from backend.clearing.models import ClearingHouse
from backend.clearing.secretbox import SecretBox
from backend.clearing.sim import FAULTS, Opening, Simulator, UrlTransport
from backend.identity.cli import command_process, operator
from backend.platform.clock import utcnow
from backend.platform.db import session_scope
from backend.platform.errors import DomainError


@click.group("clearing")
def clearing_cli() -> None:
    """The commodity clearing service (清算通)."""


@clearing_cli.command("reconcile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--house", "house_code", default="CCH1", show_default=True)
@click.option("--date", "day", default=None, help="Business date (default: today, UTC).")
def reconcile_command(file: Path, house_code: str, day: str | None) -> None:
    """Compare a reconciliation CSV with the ledger; exit 1 on any difference."""
    try:
        business_date = date.fromisoformat(day) if day else utcnow().date()
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD", param_hint="--date") from None
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        house = session.scalar(select(ClearingHouse).where(ClearingHouse.code == house_code))
        if house is None:
            raise click.BadParameter(f"no clearing house {house_code}", param_hint="--house")
        try:
            run = service.reconcile(
                session,
                operator(),
                house,
                file.read_text("utf-8"),
                business_date=business_date,
                source="file",
                filename=file.name,
            )
        except DomainError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(2)
        result = {
            "reconciliation_id": run.id,
            "status": run.status,
            "rows": run.rows,
            "differences": run.differences,
        }
    click.echo(json.dumps(result, sort_keys=True))
    sys.exit(0 if result["status"] == "matched" else 1)


@clearing_cli.command("replay")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def replay_command(as_json: bool) -> None:
    """Rebuild every trader account's balance from the instruction log; compare with the
    ledger; exit 1 on any difference."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        report = service.replay_check(session)
    if as_json:
        click.echo(json.dumps(report.to_dict(), sort_keys=True))
    else:
        click.echo(f"{report.accounts} accounts, {report.instructions} instructions replayed")
        for d in report.differences:
            click.echo(
                f"DIFFERENCE {d['account_no']} {d['field']}: replayed {d['replayed']}, "
                f"ledger {d['ledger']}"
            )
        click.echo("ok" if report.ok else f"{len(report.differences)} difference(s)")
    sys.exit(0 if report.ok else 1)


@click.command("clearing-sim")
@click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="The bank.")
@click.option("--clearing-house", "house_code", default="CCH1", show_default=True)
@click.option("--secret", default=None, help="The house's HMAC secret (demo: from the database).")
@click.option("--traders", type=click.IntRange(1, 100_000), default=10, show_default=True)
@click.option("--instructions", type=click.IntRange(1, 1_000_000), default=200, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--faults", default="", help="Comma-separated: duplicates,reorder,gaps.")
@click.option("--batch", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(0, 3600),
    default=0,
    help="Wait up to this many seconds for the bank to answer /api/v1/health (make demo).",
)
def clearing_sim_command(
    url: str,
    house_code: str,
    secret: str | None,
    traders: int,
    instructions: int,
    seed: int,
    faults: str,
    batch: int,
    wait_s: float,
) -> None:
    """A clearing house's day of trading over the bank's real HTTP interface (signed
    requests), then its reconciliation CSV; prints progress and a summary (JSON); exit 1
    unless every instruction applied and the day reconciled."""
    chosen = [f for f in faults.split(",") if f]
    unknown = sorted(set(chosen) - set(FAULTS))
    if unknown:
        raise click.BadParameter(f"unknown fault(s) {unknown}; of {FAULTS}", param_hint="--faults")
    today = utcnow().date()
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        house = session.scalar(select(ClearingHouse).where(ClearingHouse.code == house_code))
        if house is None:
            raise click.BadParameter(
                f"no clearing house {house_code}", param_hint="--clearing-house"
            )
        if secret is None:
            if runtime.config.is_production:
                raise click.UsageError("--secret is required outside demo and test")
            secret = SecretBox(runtime.config.secret_key).decrypt(house.secret_token)
        openings = {n: Opening(*v) for n, v in queries.openings(session, house.id, today).items()}
    transport = UrlTransport(url)
    if wait_s:
        try:
            transport.wait_ready(wait_s)
        except TimeoutError as exc:
            transport.close()
            raise click.ClickException(str(exc)) from None
    sim = Simulator(transport, house_code, secret, batch=batch, progress=click.echo)
    try:
        summary = sim.run_day(
            openings, instructions=instructions, seed=seed, faults=chosen, traders=traders
        )
    finally:
        transport.close()
    click.echo(json.dumps(summary.to_dict(), sort_keys=True, default=str))
    good = summary.refused == 0 and summary.reconciliation.get("status") == "matched"
    sys.exit(0 if good else 1)
