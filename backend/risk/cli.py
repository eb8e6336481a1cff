"""``finedge risk ...``: the risk area's click group (``backend/cli.py`` adds it to
``finedge``).

- ``finedge risk signals [--level L] [--status S] [--origin O] [--enterprise ID|CODE]
  [--since DATE] [--limit N] [--json]``: signals, newest first, as a table or one JSON object
  per line;
- ``finedge risk world --enterprises N --years Y --seed S [--style] [--perturb P] [--end DATE]
  --out DIR``: a synthetic world's deliveries and ground truth (backend/risk/synthetic)."""

from __future__ import annotations

import json
import sys

import click

from backend.platform.config import Config
from backend.platform.db import make_engine, make_session_factory
from backend.risk import catalog
from backend.risk.models import SIGNAL_STATUSES


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _moment(value: str, option: str):
    """An RFC 3339 time with a zone, or a date (midnight UTC)."""
    from backend.platform.clock import parse_moment

    try:
        return parse_moment(value, option)
    except ValueError as exc:
        _fail(str(exc))


@click.group("risk")
def risk_cli() -> None:
    """Risk early warning."""


@risk_cli.command("signals")
@click.option("--level", type=click.Choice(catalog.LEVELS), default=None)
@click.option(
    "--status",
    type=click.Choice([*SIGNAL_STATUSES, "active", "all"]),
    default="active",
    show_default=True,
)
@click.option("--origin", type=click.Choice(catalog.ORIGINS), default=None)
@click.option("--enterprise", default=None, help="Enterprise id or unified social credit code.")
@click.option("--since", default=None, help="Raised at or after (RFC 3339 or YYYY-MM-DD).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--database-url", default=None, help="Default: DATABASE_URL or the demo SQLite.")
def signals_command(
    level: str | None,
    status: str,
    origin: str | None,
    enterprise: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
    database_url: str | None,
) -> None:
    """List signals, newest first (active ones unless --status says otherwise)."""
    from sqlalchemy import select

    from backend.risk.creditcode import normalize_credit_code
    from backend.risk.models import Enterprise
    from backend.risk.queries.signals import signal_listing

    since_at = _moment(since, "--since") if since else None
    url = database_url or Config.from_env().database_url
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            enterprise_id = None
            if enterprise:
                if enterprise.isdigit() and len(enterprise) < 18:
                    enterprise_id = session.scalar(
                        select(Enterprise.id).where(Enterprise.id == int(enterprise))
                    )
                else:
                    enterprise_id = session.scalar(
                        select(Enterprise.id).where(
                            Enterprise.credit_code == normalize_credit_code(enterprise)
                        )
                    )
                if enterprise_id is None:
                    _fail(f"--enterprise: no enterprise {enterprise!r} (an id or a credit code)")
            rows = signal_listing(
                session,
                level=level,
                status=status,
                origin=origin,
                enterprise_id=enterprise_id,
                since=since_at,
                limit=limit,
            )
    finally:
        engine.dispose()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False, default=str, sort_keys=True))
        return
    click.echo(
        f"{'id':>7}  {'raised_at':<20}  {'level':<6}  {'status':<14}  {'origin':<9}  "
        f"{'rule':<22}  {'enterprise':>10}  {'credit_code':<18}  name / reason"
    )
    for r in rows:
        click.echo(
            f"{r['id']:>7}  {(r['raised_at'] or '')[:20]:<20}  {r['level']:<6}  "
            f"{r['status']:<14}  {r['origin']:<9}  {r['rule_id'][:22]:<22}  "
            f"{r['enterprise_id']:>10}  {r.get('credit_code') or '-':<18}  "
            f"{r.get('enterprise_name') or ''} / {r['reason'][:80]}"
        )
    click.echo(f"{len(rows)} signal(s)")


@risk_cli.command("world")
@click.option("--enterprises", type=int, default=1500, show_default=True, help="Firms.")
@click.option("--years", type=float, default=2.0, show_default=True, help="Simulated years.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--style",
    type=click.Choice(["realistic", "simple"]),
    default="realistic",
    show_default=True,
    help="realistic: publication lags, quiet/sudden/contagion defaults, noise; simple: the "
    "original generator.",
)
@click.option(
    "--perturb",
    type=int,
    default=None,
    help="Other parameters too: every rate, lag and mix weight of the style scaled by a factor "
    "in [0.7, 1.3] drawn from this seed (an independently built evaluation world).",
)
@click.option("--end", default=None, help="Last simulated day, YYYY-MM-DD [today].")
@click.option("--out", required=True, help="Folder for deliveries/ and defaults.csv.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def risk_world(
    enterprises: int,
    years: float,
    seed: int,
    style: str,
    perturb: int | None,
    end: str | None,
    out: str,
    quiet: bool,
) -> None:
    """Write a synthetic world with its ground truth: OUT/deliveries/YYYY-MM-DD/<source>.jsonl
    (each record in the folder of its publication day) and OUT/defaults.csv; prints a summary
    (JSON) of firms, defaults per kind, events and median publication lag per source."""
    from datetime import UTC, date, datetime
    from pathlib import Path

    from backend.risk.synthetic.export import write_world
    from backend.risk.synthetic.style import STYLES

    def fail(message: str) -> None:
        click.echo(f"error: {message}", err=True)
        sys.exit(2)

    if not 1 <= enterprises <= 1_000_000:
        fail("--enterprises must be between 1 and 1000000")
    if not 0.1 <= years <= 20:
        fail("--years must be between 0.1 and 20")
    try:
        last = date.fromisoformat(end) if end else datetime.now(UTC).date()
    except ValueError:
        fail(f"--end {end!r} is not a date YYYY-MM-DD")
    deliveries = Path(out) / "deliveries"
    if deliveries.exists() and any(deliveries.iterdir()):
        fail(f"{deliveries} is not empty")
    bar = None

    def generated(_world, records: int) -> None:
        nonlocal bar
        if not quiet:
            from tqdm import tqdm

            bar = tqdm(total=records, desc="risk world", unit="rec", file=sys.stderr)

    try:
        report = write_world(
            out,
            enterprises=enterprises,
            years=years,
            seed=seed,
            end=datetime(last.year, last.month, last.day, tzinfo=UTC),
            style=STYLES[style] if perturb is None else STYLES[style].perturbed(perturb),
            on_generated=generated,
            progress=lambda n: bar.update(n) if bar is not None else None,
        )
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    finally:
        if bar is not None:
            bar.close()
    click.echo(json.dumps(report, ensure_ascii=False))
