"""``finedge marketing train-uplift``: retrain the uplift model on the campaigns' results
(``backend/cli.py`` joins this group with the area's other ``marketing`` commands).

``finedge marketing train-uplift [--campaign CODE ...] [--method best|t_learner|x_learner|
s_learner] [--holdout 0.3] [--seed N] [--status champion|challenger] [--json]`` trains on the
launched and ended campaigns (or those named), prints the held-out Qini/AUUC of each learner
against random targeting and registers the chosen one (the first model becomes the champion,
later ones challengers unless ``--status``). Too few results, an unknown campaign: one line
``error: ...`` on standard error, exit 2.
"""

from __future__ import annotations

import json
import sys

import click

from backend.identity.cli import command_process, operator
from backend.platform.db import session_scope
from backend.platform.errors import DomainError


@click.group("marketing")
def marketing_cli() -> None:
    """Precision marketing: campaigns, uplift and KPIs."""


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4f}"


@marketing_cli.command("train-uplift")
@click.option("--campaign", "campaigns", multiple=True, help="Campaign code (repeatable).")
@click.option(
    "--method",
    type=click.Choice(["best", "t_learner", "x_learner", "s_learner"]),
    default="best",
    show_default=True,
)
@click.option("--holdout", type=click.FloatRange(0.05, 0.5), default=0.3, show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True)
@click.option("--status", type=click.Choice(["champion", "challenger"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def train_uplift(campaigns, method, holdout, seed, status, as_json) -> None:
    """Retrain the uplift model on campaign results and register it."""
    from backend.marketing.uplift import store

    try:
        with command_process() as runtime, session_scope(runtime.session_factory) as session:
            row = store.train(
                session,
                operator(),
                campaign_codes=list(campaigns) or None,
                method=method,
                holdout=holdout,
                seed=seed,
                status=status,
            )
            result = {
                "model_id": row.id,
                "version": row.version,
                "method": row.method,
                "status": row.status,
                "trained_on": row.trained_on,
                "n_train": row.metrics["n_train"],
                "n_held_out": row.metrics["n_held_out"],
                "held_out": {k: v for k, v in row.metrics["held_out"].items() if k != "qini"},
                "compared": row.metrics["compared"],
                "artifact_sha256": row.artifact_sha256,
            }
    except DomainError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"uplift model {result['model_id']} v{result['version']} ({result['method']}, "
        f"{result['status']}) trained on {', '.join(result['trained_on'])}: "
        f"{result['n_train']} clients, {result['n_held_out']} held out"
    )
    click.echo(f"{'method':<12}{'AUUC':>10}{'random':>10}{'ratio':>8}{'uplift@30%':>12}")
    for name, m in result["compared"].items():
        click.echo(
            f"{name:<12}{_fmt(m['auuc']):>10}{_fmt(m['random_auuc']):>10}"
            f"{_fmt(m['auuc_ratio']):>8}{_fmt(m['uplift_at_30pct']):>12}"
        )
