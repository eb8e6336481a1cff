"""``finedge marketing segment-size --definition JSON|@FILE [--as-of DATE] [--json]``: the size
of a segment definition before use (members, per tier, per outlet, overlap with each saved
segment), exactly as ``POST /api/v1/marketing/segments/preview`` answers it; nothing is saved.
A bad definition, an unreadable file or bad JSON is one line on standard error and exit 2.
"""

from __future__ import annotations

import json
import sys
from datetime import date

import click

from backend.identity.cli import command_process, operator
from backend.platform import strict_json
from backend.platform.db import read_only, session_scope
from backend.platform.errors import DomainError, ValidationFailed

MAX_FILE = 1 << 20


@click.group("marketing")
def segments_cli() -> None:
    """Marketing: segments, campaigns, uplift."""


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _read_definition(text: str) -> object:
    if text.startswith("@"):
        try:
            with open(text[1:], "rb") as handle:
                raw = handle.read(MAX_FILE + 1)
        except OSError as exc:
            _fail(f"cannot read {text[1:]}: {exc.strerror or type(exc).__name__}")
        if len(raw) > MAX_FILE:
            _fail(f"{text[1:]} is larger than 1 MiB")
    else:
        raw = text.encode("utf-8", "surrogatepass")
    try:
        return strict_json.loads(raw)
    except ValidationFailed as exc:  # the strict parser's refusal, with its code
        _fail(f"the definition is not valid JSON: {exc.code}: {exc.message}")
    except RecursionError:
        _fail("the definition is not valid JSON: json_too_deep")
    return None


def _details(exc: DomainError) -> str:
    parts = [f"{k}: {'; '.join(map(str, v))}" for k, v in list(exc.details.items())[:5]]
    return f" ({', '.join(parts)})" if parts else ""


@segments_cli.command("segment-size")
@click.option("--definition", required=True, help="A definition as JSON, or @FILE.")
@click.option(
    "--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="YYYY-MM-DD"
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on standard output.")
def segment_size(definition: str, as_of, as_json: bool) -> None:
    """Size and overlap of a segment definition before use (saves nothing)."""
    from backend.marketing.segments import queries

    tree = _read_definition(definition)
    day: date | None = as_of.date() if as_of else None
    try:
        with (
            command_process() as runtime,
            read_only(),
            session_scope(runtime.session_factory) as session,
        ):
            result = queries.preview(session, operator(), tree, as_of=day)
    except DomainError as exc:
        _fail(f"{exc.code}: {exc.message}{_details(exc)}")
    out = {
        "kind": result.kind,
        "as_of": result.as_of.isoformat(),
        "size": result.size,
        "by_tier": result.by_tier,
        "by_outlet": result.by_outlet,
        "overlap": result.overlap,
        "model": result.model,
    }
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, sort_keys=True))
        return
    click.echo(f"{result.kind} segment as of {out['as_of']}: {result.size} clients")
    click.echo("  by tier:   " + ", ".join(f"{k} {v}" for k, v in result.by_tier.items()))
    click.echo(
        "  by outlet: " + (", ".join(f"{k} {v}" for k, v in result.by_outlet.items()) or "-")
    )
    if result.model:
        m = result.model.get("metrics", {})
        click.echo(
            f"  model {result.model.get('version')} ({result.model.get('source')}): "
            f"AUC {m.get('auc')}, Brier {m.get('brier')} (base rate {m.get('brier_base_rate')}), "
            f"ECE {m.get('ece')}"
        )
    for row in result.overlap:
        if row["overlap"] is None:
            click.echo(f"  vs #{row['segment_id']} {row['name']}: not frozen (model list)")
        else:
            click.echo(
                f"  vs #{row['segment_id']} {row['name']}: {row['overlap']} in both "
                f"(of {row['size']}), Jaccard {row['jaccard']:.3f}"
            )
