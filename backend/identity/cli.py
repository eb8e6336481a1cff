"""``finedge bootstrap``, ``finedge orgs ...`` and ``finedge users ...``: the identity area's
commands (declared in ``area.py``; ``backend/cli.py`` adds them to ``finedge``).

Passwords are read from standard input (one line; asked twice, hidden, on a terminal), never
from an argument. Each command acts as the operator running it (``cli:<os user>``, with an
admin's rights) and is audited like the admin API. Errors print one line and exit 2.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from backend.identity import queries
from backend.identity import service as identity
from backend.identity.models import Org
from backend.identity.rules import ORG_KINDS, USER_ROLES
from backend.platform.config import ConfigError
from backend.platform.context import Actor
from backend.platform.db import session_scope
from backend.platform.errors import DomainError


def one_line_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """A refused command prints ``error: ...`` (one line) and exits 2."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ConfigError, DomainError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            click.echo(f"error: database not ready ({reason}); run `finedge db upgrade`", err=True)
            sys.exit(2)

    return wrapper


@contextmanager
def command_process(role: str = "cli") -> Iterator[Any]:
    """This command's process (its wired sessions, live emitter, ports), built by the
    composition root like every ``finedge`` command's: the ``finedge`` group hands its builder
    down in the click context (an area's package does not import the root, which sits above
    every area)."""
    build = (click.get_current_context().find_root().obj or {}).get("bootstrap")
    if build is None:
        raise click.UsageError("run this through the finedge command")
    runtime = build(role)
    try:
        yield runtime
    finally:
        runtime.stop()


def operator() -> Actor:
    """Who runs the command, as the audit log records it (with an admin's rights)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(user_id=None, username=f"cli:{name}"[:80], role="admin", org_id=None)


def read_password(prompt: str = "Password") -> str:
    """One line of standard input; on a terminal, asked twice without echo."""
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line:
        raise click.UsageError("the password is read from standard input: none was given")
    return line.rstrip("\r\n")


# --------------------------------------------------------------------------- bootstrap


@click.command("bootstrap")
@click.option("--org-code", default="BANK", show_default=True, help="Code of the bank's org.")
@click.option("--org-name", default=None, help="Name of the bank's org [its code].")
@click.option("--admin", "username", default="admin", show_default=True, help="First admin.")
@one_line_errors
def bootstrap_command(org_code: str, org_name: str | None, username: str) -> None:
    """Create the bank's org and its first admin: the first step of a production install
    (after `finedge db upgrade`). The admin's password is read from standard input. Run again,
    it changes nothing and says so; it never overwrites an existing admin's password."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        report = identity.bootstrap_bank(
            session,
            org_code=org_code,
            org_name=org_name or org_code,
            username=username,
            password=lambda: read_password(f"Password for {username}"),
        )
    if report == {"org": "exists", "admin": "exists"}:
        click.echo(
            f"nothing to do: org {org_code} and admin {username!r} exist "
            "(the admin's password is unchanged; `finedge users reset-password` changes it)"
        )
        return
    click.echo(f"org {org_code}: {report['org']}; admin {username!r}: {report['admin']}")


# --------------------------------------------------------------------------- orgs


@click.group("orgs")
def orgs_cli() -> None:
    """Organisations: the bank, OEMs, dealers, supervisors, enterprises, branch orgs."""


def _org_line(org: Any) -> str:
    return f"{org.code:<16} {org.kind:<11} {org.name}"


@orgs_cli.command("list")
@one_line_errors
def orgs_list() -> None:
    """Every org: code, kind, name."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        for org in session.scalars(select(Org).order_by(Org.code)):
            click.echo(_org_line(org))


@orgs_cli.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(ORG_KINDS))
@click.option("--parent", default=None, help="Code of the parent org (a dealer's OEM ...).")
@one_line_errors
def orgs_add(code: str, name: str, kind: str, parent: str | None) -> None:
    """Create org CODE."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        parent_id = identity.org_by_code(session, parent).id if parent else None
        org = identity.create_org(
            session, operator(), code=code, name=name, kind=kind, parent_id=parent_id
        )
        click.echo(f"org {org.code} (id {org.id}, {org.kind}) created")


@orgs_cli.command("edit")
@click.argument("code")
@click.option("--name", default=None)
@click.option("--parent", default=None, help="Code of the new parent org.")
@click.option("--no-parent", is_flag=True, help="No parent any more.")
@one_line_errors
def orgs_edit(code: str, name: str | None, parent: str | None, no_parent: bool) -> None:
    """Rename org CODE or move it under another parent (its code and kind stay)."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        org = identity.org_by_code(session, code)
        changes: dict[str, Any] = {"name": name}
        if no_parent:
            changes["parent_id"] = None
        elif parent:
            changes["parent_id"] = identity.org_by_code(session, parent).id
        org = identity.update_org(session, operator(), org.id, **changes)
        click.echo(f"org {org.code}: {org.name} (parent id {org.parent_id})")


# --------------------------------------------------------------------------- users


@click.group("users")
def users_cli() -> None:
    """User administration: add, list, disable, enable, unlock, reset a password, set a role."""


def _user_action(verb: str, action: Callable[[Any, Actor, int], Any]):
    @click.argument("username")
    @one_line_errors
    def command(username: str) -> None:
        with command_process() as runtime, session_scope(runtime.session_factory) as session:
            user = identity.user_by_name(session, username)
            action(session, operator(), user.id)
        click.echo(f"user {username} {verb}")

    return command


@users_cli.command("add")
@click.option("--username", required=True)
@click.option("--role", required=True, help=f"One of {', '.join(USER_ROLES)}.")
@click.option("--org", "org_code", required=True, help="Org code, e.g. BANK or DEALER1.")
@click.option("--branch", default=None, help="Branch of branch staff [the org's only branch].")
@one_line_errors
def users_add(username: str, role: str, org_code: str, branch: str | None) -> None:
    """Create a user; the password is read from standard input (one line)."""
    password = read_password(f"Password for {username}")
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        org = identity.org_by_code(session, org_code)
        user = identity.create_user(
            session,
            operator(),
            username=username,
            password=password,
            role=role,
            org=org,
            branch_id=branch,
        )
        click.echo(f"user {user.username} (id {user.id}, role {user.role}) created in {org.code}")


@users_cli.command("list")
@click.option("--org", "org_code", default=None, help="Only this org's users.")
@click.option("--role", default=None, type=click.Choice(USER_ROLES))
@click.option("--disabled", "active", flag_value=False, default=None, help="Only disabled ones.")
@click.option("--active", "active", flag_value=True, help="Only active ones.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
@click.option("--cursor", default=None, help="The next_cursor of the previous page.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: items, next_cursor.")
@one_line_errors
def users_list(
    org_code: str | None,
    role: str | None,
    active: bool | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Users by id, a page at a time (with the cursor of the next page, if any)."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        org_id = identity.org_by_code(session, org_code).id if org_code else None
        page = queries.list_users(
            session, org_id=org_id, role=role, active=active, limit=limit, cursor=cursor
        )
        rows = [
            {
                "id": u.id,
                "username": u.username,
                "role": u.role,
                "org_id": u.org_id,
                "branch_id": u.branch_id,
                "active": u.active,
            }
            for u in page.items
        ]
    if as_json:
        click.echo(json.dumps({"items": rows, "next_cursor": page.next_cursor}))
        return
    for r in rows:
        state = "active" if r["active"] else "disabled"
        click.echo(
            f"{r['id']:>6} {r['username']:<24} {r['role']:<10} org {r['org_id']:<5} "
            f"{r['branch_id'] or '-':<8} {state}"
        )
    if page.next_cursor:
        click.echo(f"next page: --cursor {page.next_cursor}")


users_cli.command("disable", help="Disable USERNAME: login refused, tokens revoked at once.")(
    _user_action("disabled", lambda s, a, uid: identity.set_active(s, a, uid, False))
)
users_cli.command("enable", help="Enable USERNAME again (they log in anew).")(
    _user_action("enabled", lambda s, a, uid: identity.set_active(s, a, uid, True))
)
users_cli.command("unlock", help="End USERNAME's lock-out after failed logins.")(
    _user_action("unlocked", identity.unlock)
)


@users_cli.command("reset-password")
@click.argument("username")
@one_line_errors
def users_reset_password(username: str) -> None:
    """Set USERNAME's password (read from standard input); their tokens are revoked and a
    lock-out ends."""
    password = read_password(f"New password for {username}")
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        identity.reset_password(
            session, operator(), identity.user_by_name(session, username).id, password
        )
    click.echo(f"password of {username} reset; their tokens are revoked")


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(USER_ROLES))
@click.option("--org", "org_code", default=None, help="Move to this org too.")
@click.option("--branch", default=None, help="Their branch (branch staff).")
@one_line_errors
def users_set_role(username: str, role: str, org_code: str | None, branch: str | None) -> None:
    """Change USERNAME's role (and org, branch); their tokens are revoked at once."""
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        user = identity.user_by_name(session, username)
        changes: dict[str, Any] = {"role": role}
        if org_code:
            changes["org_id"] = identity.org_by_code(session, org_code).id
        if branch:
            changes["branch_id"] = branch
        user = identity.change_user(session, operator(), user.id, **changes)
        click.echo(f"user {username}: role {user.role}, org {user.org_id}, branch {user.branch_id}")
