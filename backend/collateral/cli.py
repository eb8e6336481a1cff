"""``finedge collateral train|evaluate``: the AVM from any sales file (``backend/cli.py`` adds
the group from the area's ``cli=``).

- ``finedge collateral train --csv FILE --map price=COL,area=COL[,build_year=COL|age=COL,...]
  [--status champion|challenger] [--seed N] [--json]``: trains the ensemble and its
  LinearRegression baseline on the file (every unmapped column an extra feature; price-like
  ones dropped), prints the held-out IAAO ratio study of both side by side and registers the
  model (the first one becomes champion, later ones challengers unless ``--status``).
  Progress goes to standard error.
- ``finedge collateral evaluate --csv FILE [--json]``: values every row with the champion,
  reading the file through the champion's own mapping, and prints the same study next to the
  champion's baseline on the same rows.

A bad ``--map``, an unreadable file or one that lacks a mapped column is one line on standard
error (``error: ...``) and exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from backend.identity.cli import command_process, operator
from backend.platform.db import session_scope

ROWS = (
    ("median_ratio", "median ratio", "0.90-1.10"),
    ("cod", "COD", "5.0-15.0"),
    ("prd", "PRD", "0.98-1.03"),
    ("prb", "PRB", "-0.05..0.05"),
    ("ppe10", "PPE10 %", ""),
    ("ppe20", "PPE20 %", ""),
    ("mdape", "MdAPE %", ""),
)


@click.group("collateral")
def collateral_cli() -> None:
    """Collateral: train and evaluate the automated valuation model (AVM)."""


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _read_csv(path: str):
    import pandas as pd

    try:
        try:
            frame = pd.read_csv(path, encoding="utf-8-sig")
        except UnicodeDecodeError:  # a Chinese bank's export: GB18030 (a superset of GBK)
            frame = pd.read_csv(path, encoding="gb18030")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        _fail(f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    if frame.empty:
        _fail(f"{path} has no rows")
    return frame


def _cell(study: dict, key: str) -> str:
    figure = study.get(key)
    if figure is None:
        return "-"
    passed = study.get("iaao", {}).get(key)
    mark = "" if passed is None else (" pass" if passed else " FAIL")
    return f"{figure:g}{mark}"


def table(ensemble: dict, baseline: dict) -> str:
    lines = [
        f"{'figure':<14}{'IAAO':<13}{'ensemble':>16}{'baseline (OLS)':>18}",
        f"{'sales':<14}{'':<13}{ensemble.get('n', 0):>16}{baseline.get('n', 0):>18}",
    ]
    for key, label, band in ROWS:
        lines.append(f"{label:<14}{band:<13}{_cell(ensemble, key):>16}{_cell(baseline, key):>18}")
    return "\n".join(lines)


@collateral_cli.command("train")
@click.option("--csv", "csv_path", required=True, help="Sales file (CSV with a header row).")
@click.option("--map", "map_text", required=True, help="price=COL,area=COL[,KEY=COL...]")
@click.option(
    "--status",
    type=click.Choice(["champion", "challenger"]),
    default=None,
    help="Default: champion if there is none yet, else challenger.",
)
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def train_command(
    csv_path: str, map_text: str, status: str | None, seed: int, as_json: bool
) -> None:
    """Train the AVM on a sales file, print its held-out ratio study and register it."""
    from backend.collateral import modelstore
    from backend.collateral.avm import MapError, parse_map, train

    try:
        mapping = parse_map(map_text)
    except MapError as exc:
        _fail(str(exc))
    frame = _read_csv(csv_path)
    missing = [f"{col} ({key})" for key, col in mapping.items() if col not in frame.columns]
    if missing:
        _fail(f"{Path(csv_path).name} lacks the mapped column(s) {', '.join(missing)}")
    click.echo(f"training on {len(frame)} rows of {Path(csv_path).name}", err=True)
    try:
        trained = train(
            frame, mapping, seed=seed, progress=lambda m: click.echo(f"  {m}", err=True)
        )
    except (MapError, ValueError) as exc:
        _fail(str(exc).splitlines()[0])
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        model = modelstore.register(session, operator(), trained, status=status)
        result = {
            "model_id": model.id,
            "version": model.version,
            "status": model.status,
            "data_hash": model.data_hash,
            "trained_rows": model.trained_rows,
            "metrics": trained.metrics,
            "dropped": trained.feature_spec["dropped"],
        }
    if as_json:
        click.echo(json.dumps(result, sort_keys=True, ensure_ascii=False))
        return
    click.echo(
        f"model {result['model_id']} (version {result['version']}, {result['status']}): "
        f"{result['trained_rows']} sales, held-out {trained.metrics['holdout_rows']}, "
        f"blend {trained.metrics['weights']}"
    )
    click.echo(table(trained.metrics["ensemble"], trained.metrics["baseline"]))


@collateral_cli.command("evaluate")
@click.option("--csv", "csv_path", required=True, help="Sales file, in the champion's columns.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_command(csv_path: str, as_json: bool) -> None:
    """Value every sale with the champion; IAAO's ratio study next to the baseline's."""
    import numpy as np

    from backend.collateral import modelstore
    from backend.collateral.avm import ratio_study

    frame = _read_csv(csv_path)
    with command_process() as runtime, session_scope(runtime.session_factory) as session:
        current = modelstore.champion(session)
        if current is None:
            _fail("no champion model yet: run finedge collateral train first")
        model, trained = current
        model_id, version = model.id, model.version
    mapping = trained.feature_spec["mapping"]
    missing = [f"{col} ({key})" for key, col in mapping.items() if col not in frame.columns]
    if missing:
        _fail(f"{Path(csv_path).name} lacks the mapped column(s) {', '.join(missing)}")
    import pandas as pd

    price = pd.to_numeric(frame[mapping["price"]], errors="coerce").to_numpy(float)
    area = pd.to_numeric(frame[mapping["area"]], errors="coerce").to_numpy(float)
    usable = np.isfinite(price) & (price > 0) & np.isfinite(area) & (area > 0)
    if not usable.any():
        _fail(f"{Path(csv_path).name} has no row with a positive price and area")
    rows = frame[usable].drop(columns=[mapping["price"]]).reset_index(drop=True)
    click.echo(f"valuing {len(rows)} sales with model {model_id} (version {version})", err=True)
    ensemble = ratio_study(trained.predict(rows), price[usable])
    baseline = ratio_study(trained.predict_baseline(rows), price[usable])
    if as_json:
        click.echo(
            json.dumps(
                {
                    "model_id": model_id,
                    "version": version,
                    "ensemble": ensemble,
                    "baseline": baseline,
                },
                sort_keys=True,
            )
        )
        return
    click.echo(f"model {model_id} (version {version}) on {Path(csv_path).name}")
    click.echo(table(ensemble, baseline))
