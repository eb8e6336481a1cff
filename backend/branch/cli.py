"""``finedge branches ...``: branches and their halls from the command line (the branch area's
commands, declared in ``area.py``): list, show, add a branch with its org, opening hours, time
zone, services and counters, edit them, and set up one counter. Audited as the operator
running the command, like the admin API (POST/PATCH /api/v1/branches)."""

from __future__ import annotations

import json
from typing import Any

import click

from backend.branch import configuration
from backend.branch.rules import SERVICES
from backend.branch.runtime import Hall
from backend.identity import queries as identity_queries
from backend.identity import service as identity
from backend.identity.cli import command_process, one_line_errors, operator
from backend.identity.rules import parse_opening_hours
from backend.platform.db import session_scope
from backend.platform.errors import ValidationFailed
from backend.platform.wiring import port

HOURS_HELP = 'Opening hours, e.g. "mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00".'
SERVICES_HELP = f"Services offered, comma separated, from {','.join(SERVICES)}."
COUNTER_HELP = (
    "A counter as ID:NAME:SKILLS[:CALLER_DEVICE], skills comma separated, e.g. "
    '"1:Window 1:cash,account:BR002-CALL-01" (repeatable).'
)


@click.group("branches")
def branches_cli() -> None:
    """Branches and their halls: opening hours, time zone, services, counters."""


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def _counter(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) not in (3, 4) or not parts[0]:
        raise ValidationFailed(
            f"counter {text!r} is not ID:NAME:SKILLS[:CALLER_DEVICE]",
            details={"counter": [COUNTER_HELP]},
        )
    counter = {"counter_id": parts[0], "name": parts[1] or None, "skills": _csv(parts[2])}
    if len(parts) == 4:
        counter["device_id"] = parts[3]
    return counter


def _configure(
    session: Any,
    actor: Any,
    code: str,
    timezone: str | None,
    services: str | None,
    counters: tuple[str, ...],
) -> None:
    """Set the hall's options that were given, then print the branch as JSON."""
    configuration.configure_hall(
        session,
        actor,
        port(session, Hall),
        code,
        timezone=timezone,
        services=_csv(services),
        counters=[_counter(c) for c in counters],
    )
    click.echo(json.dumps(_show(session, code), ensure_ascii=False))


def _show(session: Any, code: str) -> dict[str, Any]:
    branch = identity.get_branch(session, code)
    return {
        "code": branch.code,
        "name": branch.name,
        "org_id": branch.org_id,
        "opening_hours": branch.opening_hours,
        **configuration.hall_configuration(session, code),
    }


@branches_cli.command("list")
@one_line_errors
def branches_list() -> None:
    """Every branch: code, time zone, services, name."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        cursor = None
        while True:
            page = identity_queries.list_branches(session, limit=200, cursor=cursor)
            halls = configuration.halls_summary(session, [b.code for b in page.items])
            for b in page.items:
                hall = halls[b.code]
                services = ",".join(hall["services"]) or "-"
                click.echo(f"{b.code:<12} {hall['timezone']:<18} {services:<32} {b.name}")
            if not page.next_cursor:
                break
            cursor = page.next_cursor


@branches_cli.command("show")
@click.argument("code")
@one_line_errors
def branches_show(code: str) -> None:
    """Branch CODE with its hall, as JSON."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        click.echo(json.dumps(_show(session, code), ensure_ascii=False))


@branches_cli.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--org", "org_code", default=None, help="An existing bank or branch org owning it.")
@click.option("--parent", default=None, help="Without --org: the org above its new org [bank].")
@click.option("--hours", default=None, help=HOURS_HELP)
@click.option("--timezone", default=None, help="IANA time zone of the hall [Asia/Shanghai].")
@click.option("--services", default=None, help=SERVICES_HELP)
@click.option("--counter", "counters", multiple=True, help=COUNTER_HELP)
@one_line_errors
def branches_add(
    code: str,
    name: str,
    org_code: str | None,
    parent: str | None,
    hours: str | None,
    timezone: str | None,
    services: str | None,
    counters: tuple[str, ...],
) -> None:
    """Create branch CODE (its org of kind branch, under the bank unless --org) and its hall."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        actor = operator()
        branch = identity.create_branch(
            session,
            actor,
            code=code,
            name=name,
            org_id=identity.org_by_code(session, org_code).id if org_code else None,
            parent_org_id=identity.org_by_code(session, parent).id if parent else None,
            opening_hours=parse_opening_hours(hours) if hours is not None else None,
        )
        _configure(session, actor, branch.code, timezone, services, counters)


@branches_cli.command("edit")
@click.argument("code")
@click.option("--name", default=None)
@click.option("--hours", default=None, help=HOURS_HELP)
@click.option("--no-hours", is_flag=True, help="Opening hours not published.")
@click.option("--timezone", default=None, help="IANA time zone of the hall.")
@click.option("--services", default=None, help=SERVICES_HELP + " The others become inactive.")
@click.option("--counter", "counters", multiple=True, help=COUNTER_HELP)
@one_line_errors
def branches_edit(
    code: str,
    name: str | None,
    hours: str | None,
    no_hours: bool,
    timezone: str | None,
    services: str | None,
    counters: tuple[str, ...],
) -> None:
    """Change branch CODE: name, opening hours, time zone, services, counters."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        actor = operator()
        changes: dict[str, Any] = {"name": name}
        if no_hours:
            changes["opening_hours"] = None
        elif hours is not None:
            changes["opening_hours"] = parse_opening_hours(hours)
        identity.update_branch(session, actor, code, **changes)
        _configure(session, actor, code, timezone, services, counters)
