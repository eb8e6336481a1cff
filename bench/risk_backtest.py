"""``finedge bench risk-backtest``: the warning system backtested on a world it never saw, and
the replay's speed (docs/risk.md, "Benchmark: risk-backtest").

1. Training: a realistic synthetic world (seed 7, three years ending at the evaluation's
   go-live, so nothing from the evaluated period is seen), point-in-time snapshots, both
   algorithms validated out of time; the best becomes champion only if it beats the
   rule-level baseline out of time (as ``risk.train`` decides).
2. Evaluation world: built independently (another seed, and every rate, lag and mix weight of
   the style perturbed by up to 30%), two years, written as dated deliveries and
   ``defaults.csv`` (``finedge risk world``).
3. Replay (``finedge risk replay``'s engine, into a temporary SQLite database of its own):
   year 1 loaded as the go-live backfill, year 2 fed day by day through the same ingestion
   and live path with a full scan every ``scan_every`` days, every signal change recorded.
4. Backtest (``finedge risk backtest``'s report) against the truth: the system's figures
   beside the baseline "highest active rule level" from the same replay; and the model's
   out-of-time AUC on the evaluation world's year 2 (point-in-time snapshots every 30 days)
   beside the rule level's AUC on the same rows.
5. Replay speed: simulated days per second after go-live, beside the same replay with a full
   scan every day, on a copy of the database taken at go-live, over ``baseline_days``.

Rows: ``warned_30d_share`` (defaulters warned strong or hard at least 30 days ahead),
``false_alarm_rate`` (never-defaulting firms flagged strong or hard; lower is better),
``precision_12m_strong`` (strong-or-hard flags followed by a default within 12 months),
``oot_auc`` and ``replay_days_per_s``; each ``params`` says whether the issue's aim is met.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

TIME_LIMIT_S = {"quick": 300.0, "full": 3600.0}  # full: about 29 min here
END = datetime(2026, 6, 30, tzinfo=UTC)  # a fixed calendar: the same figures every day
TRAIN_SEED, EVAL_SEED = 7, 11


def _progress(message: str) -> None:
    print(f"risk-backtest: {message}", file=sys.stderr, flush=True)


def _train(n: int, go_live: datetime, years: float) -> dict[str, Any]:
    from backend.risk.ml.backtest import from_synthetic, train_on
    from backend.risk.scoring.rulefile import load_ruleset

    ruleset = load_ruleset()
    world = from_synthetic(n, TRAIN_SEED, years=years, end=go_live)
    trained = train_on(world, ruleset)
    trained["ruleset"] = ruleset
    return trained


def _write_world(root: Path, n: int, years: float) -> tuple[Any, dict[str, Any]]:
    from backend.risk.synthetic.export import write_world
    from backend.risk.synthetic.style import REALISTIC

    kept: dict[str, Any] = {}
    summary = write_world(
        root,
        enterprises=n,
        years=years,
        seed=EVAL_SEED,
        end=END,
        style=REALISTIC.perturbed(EVAL_SEED),
        on_generated=lambda world, _records: kept.setdefault("world", world),
    )
    return kept["world"], summary


def _model_auc(world, trained: dict[str, Any], go_live: datetime) -> dict[str, Any]:
    """The trained model on the evaluation world after go-live (never seen in training)."""
    from backend.risk.ml.backtest import EvaluationWorld, evaluate_on

    evaluation = EvaluationWorld(
        world.histories(), world.graph(), world.start, world.end, "evaluation"
    )
    figures = evaluate_on(
        evaluation, trained["ruleset"], trained["model"], step_days=30, start=go_live
    )
    return figures["oot_auc"]


def _runtime(url: str):
    from backend.bootstrap import bootstrap
    from backend.platform import migrate
    from backend.platform.config import Config
    from backend.platform.live import NullEmitter

    migrate.upgrade(url)
    return bootstrap(Config.from_env(database_url=url), "cli", live=NullEmitter())


def _copy_sqlite(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _replay(
    workdir: Path,
    deliveries: Path,
    trained: dict[str, Any],
    start: date,
    go_live: date,
    end: date,
    scan_every: int,
) -> dict[str, Any]:
    """The main replay (backfill to ``go_live``, then day by day), timed after go-live."""
    from backend.platform.context import SYSTEM
    from backend.risk.ml import registry
    from backend.risk.replay.engine import replay

    db = workdir / "replay.db"
    runtime = _runtime(f"sqlite:///{db}")
    marks: dict[str, float] = {}

    def at_go_live() -> None:
        _copy_sqlite(db, workdir / "go-live.db")
        _progress(f"go-live {go_live}: backfill loaded, replaying day by day")
        marks["go_live"] = time.perf_counter()

    try:
        with runtime.session_factory() as session:
            if trained["champion"]:
                registry.register(
                    session,
                    SYSTEM,
                    trained["model"],
                    status="champion",
                    metrics={"oot_auc": trained["metrics"]["oot_auc"]},
                    training={"world": "synthetic", "seed": TRAIN_SEED},
                    now=datetime.combine(go_live, datetime.min.time(), tzinfo=UTC),
                )
                session.commit()
            result = replay(
                session,
                deliveries,
                start=start,
                end=end,
                scan_every_days=scan_every,
                backfill_until=go_live,
                on_go_live=at_go_live,
            )
    finally:
        runtime.stop()
    seconds = time.perf_counter() - marks["go_live"]
    return {"result": result, "seconds": seconds, "days": (end - go_live).days}


def _daily_baseline(workdir: Path, deliveries: Path, go_live: date, days: int) -> dict[str, Any]:
    from backend.risk.replay.engine import replay

    runtime = _runtime(f"sqlite:///{workdir / 'go-live.db'}")
    try:
        with runtime.session_factory() as session:
            started = time.perf_counter()
            replay(
                session,
                deliveries,
                start=go_live + timedelta(days=1),
                end=go_live + timedelta(days=days),
                scan_every_days=1,
            )
            seconds = time.perf_counter() - started
    finally:
        runtime.stop()
    return {"seconds": seconds, "days": days}


def _row(metric, value, unit, baseline, base_value, ratio, params) -> dict[str, Any]:
    return {
        "bench": "risk-backtest",
        "metric": metric,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": base_value,
        "ratio": ratio,
        "params": params,
    }


def _positive(value: float | None) -> float:
    """A rate of 0 cannot be a ratio's term: the smallest figure the row can show."""
    return max(round(value or 0.0, 4), 0.0001)


# each row's metric -> its aim in ml.backtest.AIMS (issue 15)
AIM_OF = {
    "warned_30d_share": "share_warned_30d_ahead",
    "false_alarm_rate": "false_alarm_rate",
    "precision_12m_strong": "precision_12m_strong_or_hard",
    "oot_auc": "oot_auc",
}


def _judged_row(
    metric: str,
    value: float | None,
    base_value: float | None,
    baseline: str,
    params: dict[str, Any],
) -> dict[str, Any]:
    """A figure with an aim beside its baseline: the aim judged on the figure as measured,
    the ratio oriented by the aim (a rate with a ceiling is better lower); a figure with
    nothing to measure (None) is shown as the floor and named in ``params["undefined"]``."""
    from backend.risk.ml.backtest import AIMS, judge_aim

    for name, figure in ((metric, value), (f"baseline {metric}", base_value)):
        if figure is None:
            params["undefined"].append(name)
    shown, shown_base = _positive(value), _positive(base_value)
    lower_is_better = AIMS[AIM_OF[metric]][0] == "<="
    ratio = shown_base / shown if lower_is_better else shown / shown_base
    judged = judge_aim(AIM_OF[metric], value)
    return _row(
        metric,
        shown,
        "",
        baseline,
        shown_base,
        round(ratio, 3),
        {**params, "aim": judged["aim"], "aim_met": judged["met"]},
    )


def run(options: dict) -> list[dict]:
    from backend.risk.replay.report import backtest_report, read_truth

    quick = bool(options.get("quick"))
    n = int(options.get("enterprises") or (150 if quick else 1500))
    # quick: every step over a short calendar (7 months, go-live after 5), to keep it running
    # in `make test`; its figures are too few to mean much, and those with nothing to measure
    # (no defaulter after go-live, no 180-day outcome known) are named in params["undefined"]
    years = 0.6 if quick else 2.0
    history_days = 150 if quick else 365
    train_years = 2.5 if quick else 3.0
    scan_every = int(options.get("scan_every") or 7)
    baseline_days = int(options.get("baseline_days") or (7 if quick else 28))
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="finedge-bench-backtest-"))
    try:
        _progress(f"writing the evaluation world ({n} firms, {years:g} years, perturbed style)")
        world, world_summary = _write_world(workdir / "world", n, years)
        deliveries = workdir / "world" / "deliveries"
        start = world.start.date()
        go_live = (world.start + timedelta(days=history_days)).date()
        go_live_at = datetime.combine(go_live, datetime.min.time(), tzinfo=UTC)
        _progress(f"training on another world ({n} firms, {train_years:g} years to {go_live})")
        trained = _train(n, go_live_at, train_years)
        _progress("model AUC on the evaluation world after go-live")
        auc = _model_auc(world, trained, go_live_at)
        _progress(f"replaying {start} .. {END.date()} (backfill to {go_live})")
        main = _replay(workdir, deliveries, trained, start, go_live, END.date(), scan_every)
        _progress(f"baseline: {baseline_days} days with a full scan every day")
        daily = _daily_baseline(workdir, deliveries, go_live, baseline_days)
        result = main["result"]
        report = backtest_report(
            result.meta, result.lines, read_truth(workdir / "world" / "defaults.csv")
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ours, base = report["signals"], report["baseline"]
    common = {
        "enterprises": n,
        "years": years,
        "train_world": {"seed": TRAIN_SEED, "years": train_years, "style": "realistic"},
        "eval_world": {
            "seed": EVAL_SEED,
            "style": "realistic perturbed (seed 11, rates x0.7-1.3)",
            "defaulters": world_summary.get("defaulters"),
        },
        "go_live": go_live.isoformat(),
        "to": END.date().isoformat(),
        "defaulters_after_go_live": ours["defaulters"],
        "never_defaulting": ours["never_defaulting"],
        "ruleset": result.meta["ruleset"],
        "model": result.meta["model"],
        "model_chosen": trained["chosen"],
        "model_is_champion": bool(trained["champion"]),
        "scan_every_days": scan_every,
        "quick": quick,
        "seconds": round(time.perf_counter() - started, 1),
    }
    rule_baseline = "rule-level baseline: rule-origin signals of the same replay"
    common["undefined"] = []  # shared by the rows: every figure with nothing to measure
    prec = ours["precision_strong_or_hard"]
    model_auc = auc["model"] if auc["model"] is not None else auc["system_level"]
    ours_rate = main["days"] / main["seconds"]
    base_rate = daily["days"] / daily["seconds"]
    return [
        _judged_row(
            "warned_30d_share",
            ours["warned"]["strong"]["share_30_days_ahead"],
            base["warned"]["strong"]["share_30_days_ahead"],
            rule_baseline,
            {
                **common,
                "warned_strong": ours["warned"]["strong"],
                "warned_hard": ours["warned"]["hard"],
                "warned_medium": ours["warned"]["medium"],
            },
        ),
        _judged_row(
            "false_alarm_rate",
            ours["false_alarms"]["rate"],
            base["false_alarms"]["rate"],
            rule_baseline,
            {
                **common,
                "firms_flagged": ours["false_alarms"]["firms"],
                "alerts_per_week_per_1000": ours["alerts_per_week_per_1000"],
                "baseline_alerts_per_week_per_1000": base["alerts_per_week_per_1000"],
                "at_go_live": ours["go_live"],
            },
        ),
        _judged_row(
            "precision_12m_strong",
            prec["precision_12m"],
            base["precision_strong_or_hard"]["precision_12m"],
            rule_baseline,
            {
                **common,
                "flags": prec["flags"],
                "by_level": {k: v["precision_12m"] for k, v in ours["precision_by_level"].items()},
                "by_origin": {
                    k: v["precision_12m"] for k, v in ours["precision_by_origin"].items()
                },
                "firms_flagged_strong_or_hard": ours["firms_flagged_strong_or_hard"],
            },
        ),
        _judged_row(
            "oot_auc",
            model_auc,
            auc["baseline_rule_level"],
            "rule level as a score, same snapshots",
            {
                **common,
                "scored": "model" if auc["model"] is not None else "system level (no model)",
                "rows": auc["rows"],
                "positives": auc["positives"],
                "system_level_auc": auc["system_level"],
                "training_oot_auc": trained["metrics"]["oot_auc"],
                "training_baseline_oot_auc": trained["metrics"]["baseline_oot_auc"],
                "replay_level_auc": ours["auc"]["value"],
                "replay_baseline_level_auc": base["auc"]["value"],
            },
        ),
        _row(
            "replay_days_per_s",
            round(ours_rate, 3),
            "1/s",
            f"the same replay with a full scan every day ({daily['days']} days after go-live)",
            round(base_rate, 3),
            round(ours_rate / base_rate, 2),
            {
                **common,
                "days": main["days"],
                "replay_seconds": round(main["seconds"], 1),
                "baseline_seconds": round(daily["seconds"], 1),
                "signal_changes": len(result.lines),
                "failed_files": len(result.failures),
                "backfill": result.backfill,
            },
        ),
    ]
