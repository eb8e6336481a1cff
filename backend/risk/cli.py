"""``finedge risk ...``: the risk area's click group (``backend/cli.py`` adds it to
``finedge``).

- ``finedge risk signals [--level L] [--status S] [--origin O] [--enterprise ID|CODE]
  [--since DATE] [--limit N] [--json]``: signals, newest first, as a table or one JSON object
  per line."""

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
