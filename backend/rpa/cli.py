"""``finedge rpa …``: the robot factory from a terminal (docs/rpa.md).

finedge rpa worker [--workers 4]     work the queue (huey consumer, process workers)
finedge rpa robots [--json]          robots, versions, departments, schedules
finedge rpa deploy ENTRY_POINT       deploy (and activate) a version: robots.x:ROBOT
finedge rpa deploy-builtins          deploy every built-in robot's current version
finedge rpa rollback NAME [--to V]   make an earlier version active
finedge rpa enable|disable NAME
finedge rpa run NAME [--params JSON] start a run by hand
finedge rpa drain                    work the queue in this process until it is empty
"""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy import select

from backend.identity.cli import command_process, operator
from backend.platform.db import session_scope
from backend.platform.errors import DomainError
from backend.platform.strict_json import loads as loads_strict


@click.group("rpa")
def rpa_cli() -> None:
    """The robot factory: robots, runs, workers."""


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@rpa_cli.command("worker")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def worker(workers: int) -> None:
    """Work the factory's queue with WORKERS processes (stop with Ctrl-C or SIGTERM)."""
    from backend.platform.config import Config
    from backend.rpa.queue import dispatcher_for
    from backend.rpa.worker import task_handlers

    config = Config.from_env()
    if config.rpa_queue in ("", "memory"):
        _fail(
            "FINEDGE_RPA_QUEUE=memory is drained in-process; a worker needs sqlite:/// or redis://"
        )
    build = (click.get_current_context().find_root().obj or {}).get("bootstrap")
    dispatcher = dispatcher_for(config, handlers=task_handlers(config, build))
    consumer = dispatcher.huey.create_consumer(
        workers=workers,
        worker_type="process",
        periodic=False,
        initial_delay=0.02,
        backoff=1.3,
        max_delay=0.5,
        check_worker_health=True,
        health_check_interval=1,
        graceful_signal="TERM",
    )
    click.echo(f"rpa worker: {workers} processes on {_shown(config.rpa_queue)}", err=True)
    consumer.run()


def _shown(url: str) -> str:
    """The queue URL without a password."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url


@rpa_cli.command("robots")
@click.option("--json", "as_json", is_flag=True)
def robots(as_json: bool) -> None:
    """The robots, their active version and schedule."""
    from backend.rpa.models import RobotRecord, RobotVersion

    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        rows = []
        for robot in session.scalars(select(RobotRecord).order_by(RobotRecord.name)):
            version = session.get(RobotVersion, robot.active_version_id)
            rows.append(
                {
                    "name": robot.name,
                    "department": robot.department,
                    "enabled": robot.enabled,
                    "version": version.version if version else None,
                    "entry_point": version.entry_point if version else None,
                    "schedule": version.manifest.get("schedule") if version else None,
                }
            )
    if as_json:
        click.echo(json.dumps({"robots": rows}, ensure_ascii=False))
        return
    for r in rows:
        click.echo(
            f"{r['name']:<26} {r['department']:<11} {r['version'] or '-':<8} "
            f"{'on ' if r['enabled'] else 'off'} {json.dumps(r['schedule'])}"
        )


def _admin_step(step) -> None:
    with command_process() as runtime:
        try:
            with session_scope(runtime.session_factory) as session:
                click.echo(step(session))
        except DomainError as exc:
            _fail(exc.message)


@rpa_cli.command("deploy")
@click.argument("entry_point")
def deploy(entry_point: str) -> None:
    """Deploy and activate the version ENTRY_POINT (module:ROBOT) declares."""
    from backend.rpa import registry

    def step(session):
        v = registry.deploy(session, operator(), entry_point)
        return f"deployed {entry_point} version {v.version}"

    _admin_step(step)


@rpa_cli.command("deploy-builtins")
def deploy_builtins() -> None:
    """Deploy every built-in robot's current version (idempotent)."""
    from backend.rpa.seed import deploy_builtins as deploy_all

    _admin_step(lambda session: "\n".join(deploy_all(session)) or "nothing to deploy")


@rpa_cli.command("rollback")
@click.argument("name")
@click.option("--to", "to_version", default=None, help="a deployed version (default: previous)")
def rollback(name: str, to_version: str | None) -> None:
    """Make an earlier deployed version of robot NAME active."""
    from backend.rpa import registry

    def step(session):
        v = registry.rollback(session, operator(), name, to_version)
        return f"{name} now runs version {v.version}"

    _admin_step(step)


@rpa_cli.command("enable")
@click.argument("name")
def enable(name: str) -> None:
    from backend.rpa import registry

    _admin_step(lambda s: f"{registry.set_enabled(s, operator(), name, True).name} enabled")


@rpa_cli.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    from backend.rpa import registry

    _admin_step(lambda s: f"{registry.set_enabled(s, operator(), name, False).name} disabled")


@rpa_cli.command("run")
@click.argument("name")
@click.option("--params", default="{}", help="the run's parameters, a JSON object")
def run(name: str, params: str) -> None:
    """Start a run of robot NAME now (a worker does it)."""
    from backend.rpa.service import start_run

    try:
        parsed = loads_strict(params)
    except (DomainError, ValueError) as exc:
        _fail(f"--params: {getattr(exc, 'message', exc)}")
    if not isinstance(parsed, dict):
        _fail("--params must be a JSON object")

    def step(session):
        r = start_run(session, operator(), name, trigger="hand", params=parsed)
        session.flush()
        return f"run {r.id} of {name} started"

    _admin_step(step)


@rpa_cli.command("drain")
@click.option("--timeout", "timeout_s", default=600.0, show_default=True)
def drain_cmd(timeout_s: float) -> None:
    """Work the queue in this process until it is empty (demo and tests)."""
    from backend.rpa.drain import drain

    with command_process() as runtime:
        done = drain(runtime.session_factory, runtime.config, timeout_s=timeout_s)
    click.echo(json.dumps({"tasks": done.tasks, "outcomes": done.outcomes}))
