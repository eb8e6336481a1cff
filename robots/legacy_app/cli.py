"""``finedge rpa legacy-app``: the legacy stand-in for the screen robot's demo."""

from __future__ import annotations

import os

import click


@click.group("rpa")
def legacy_cli() -> None:
    """The robot factory (docs/rpa.md)."""


@legacy_cli.command("legacy-app")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8790, show_default=True, type=int)
@click.option(
    "--user",
    default=lambda: os.environ.get("FINEDGE_LEGACY_USER", "robot"),
    show_default="FINEDGE_LEGACY_USER or robot",
)
def legacy_app_command(host: str, port: int, user: str) -> None:
    """Serve the legacy stand-in (a fake collateral pledge registry the screen robot types
    into; data in memory only). The user's password is FINEDGE_LEGACY_PASSWORD (required):
    the screen robot reads the same variables."""
    password = os.environ.get("FINEDGE_LEGACY_PASSWORD", "")
    if not password:
        raise click.UsageError("set FINEDGE_LEGACY_PASSWORD (the stand-in's login password)")
    from werkzeug.serving import run_simple

    from robots.legacy_app.app import create_app

    click.echo(f"legacy stand-in on http://{host}:{port}/ (user {user}); Ctrl-C stops it")
    run_simple(host, port, create_app({user: password}), threaded=True)
