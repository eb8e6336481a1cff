"""Weekly batch revaluation of the collateral registry, one item per chunk of properties.

``produce`` opens (or resumes) the collateral area's own revaluation run for the ISO week
(``RevaluationRun``, run key ``rpa-YYYY-Www``, through ``revaluation.start_run``) and yields
the active properties not yet valued in it, in chunks of ``chunk`` ids (params, default 50).
``process`` values one chunk with the champion model in one vectorised call
(``ChampionValuer.value_chunk``, as ``revalue_book`` does), recomputes the LTV of every credit
those properties secure (``ltv.recompute``: levels that rose raise their ``ltv_breach`` risk
events), and counts the run's progress; the item that values the run's last property marks
the run ``done``. A property already valued in the run is skipped, so a retried chunk values
nothing twice (the unique ``(run, property)`` constraint guards it as well).

A property whose facts the valuer refuses (a city the champion does not cover, …) is listed in
the result and in the run's ``summary["failed"]`` (as ``revalue_book`` keeps it) for a person
to correct in the registry; it does not fail its chunk-mates, and the run is ``done`` once
every active property is valued or refused. Items of this robot run one at a time
(``concurrency`` 1): they update the same run row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, select

from backend.collateral.models import CreditLink, Property, RevaluationRun, Valuation
from backend.collateral.monitoring import ltv
from backend.collateral.monitoring.revaluation import ChampionValuer, start_run
from backend.platform import audit
from backend.platform.errors import BusinessRuleViolation
from backend.rpa.robot import BusinessFailure, ItemContext, Manifest, Robot, RunContext, Schedule

CHUNK = 50


def run_key_for(ctx: RunContext) -> str:
    year, week, _ = ctx.now.isocalendar()
    return str(ctx.params.get("run_key") or f"rpa-{year}-W{week:02d}")


def produce(ctx: RunContext):
    session = ctx.session
    chunk = max(1, min(int(ctx.params.get("chunk", CHUNK)), 500))
    try:
        run = start_run(session, ctx.actor, run_key_for(ctx), ChampionValuer())
    except BusinessRuleViolation as exc:  # no champion model yet: nothing to value with
        ctx.log(f"revaluation skipped: {exc.code}", "warning")
        return
    if run.status == "done":
        ctx.log(f"run {run.run_key} already done")
        return
    already = exists().where(Valuation.run_id == run.id, Valuation.property_id == Property.id)
    ids = list(
        session.scalars(
            select(Property.id).where(Property.status == "active", ~already).order_by(Property.id)
        )
    )
    for start in range(0, len(ids), chunk):
        yield {"run_id": run.id, "property_ids": ids[start : start + chunk]}


def process(ctx: ItemContext, payload: dict[str, Any]) -> dict[str, Any]:
    session = ctx.session
    run = session.get(RevaluationRun, int(payload["run_id"]))
    if run is None:
        raise BusinessFailure("unknown_run", "no such revaluation run", {"payload": payload})
    ids = [int(i) for i in payload["property_ids"]]
    already = exists().where(Valuation.run_id == run.id, Valuation.property_id == Property.id)
    props = list(
        session.scalars(
            select(Property)
            .where(Property.id.in_(ids), Property.status == "active", ~already)
            .order_by(Property.id)
        )
    )
    failed = (
        ChampionValuer().value_chunk(session, ctx.actor, props, run_id=run.id, now=ctx.now)
        if props
        else []
    )
    credits = {
        (kind, ref)
        for kind, ref in session.execute(
            select(CreditLink.credit_kind, CreditLink.credit_ref).where(
                CreditLink.property_id.in_([p.id for p in props]), CreditLink.status == "active"
            )
        )
    }
    recomputed = ltv.recompute(session, ctx.actor, credits=credits, now=ctx.now) if credits else {}
    summary = dict(run.summary or {})
    if failed:
        ctx.log(f"{len(failed)} properties refused by the valuer", "warning")
        known = {int(f["property_id"]) for f in summary.get("failed", [])}
        summary["failed"] = [
            *summary.get("failed", []),
            *(f for f in failed if int(f["property_id"]) not in known),
        ]
        run.summary = summary
    session.flush()
    refused = [int(f["property_id"]) for f in summary.get("failed", [])] or [0]
    remaining = session.scalar(
        select(func.count()).where(
            Property.status == "active", ~already, Property.id.not_in(refused)
        )
    )
    run.done = session.scalar(select(func.count()).where(Valuation.run_id == run.id)) or 0
    finished = run.status != "done" and remaining == 0
    if finished:  # nothing left to value in the run but what the valuer refused
        run.total = max(run.total, run.done)
        run.status = "done"
        run.finished_at = ctx.now
        run.summary = {**summary, "valued": run.done, "by": "rpa"}
        audit.record(
            session,
            ctx.actor,
            "collateral.revaluation_done",
            "col_revaluation_run",
            run.id,
            None,
            {
                "run_key": run.run_key,
                "done": run.done,
                "total": run.total,
                "failed": len(summary.get("failed", [])),
            },
        )
    changes = recomputed.get("changes", [])
    return {
        "run_key": run.run_key,
        "valued": len(props) - len(failed),
        "skipped": len(ids) - len(props),
        "failed": [f["property_id"] for f in failed],
        "credits_recomputed": recomputed.get("credits", 0),
        "level_changes": len(changes),
        "ltv_breaches_raised": recomputed.get("risk_events", 0),
        "run_done": run.done,
        "run_finished": finished,
    }


ROBOT = Robot(
    manifest=Manifest(
        name="collateral_revaluation",
        version="1.0.0",
        department="risk",
        title="Weekly collateral revaluation",
        description=(
            "Every active property of the collateral registry valued again by the champion "
            "model, in chunks, and the LTV of the credits they secure recomputed."
        ),
        input_schema={"run_id": "int", "property_ids": "list"},
        schedule=Schedule(cron="0 3 * * 6"),
        concurrency=1,
        timeout_s=300,
        max_retries=2,
        manual_minutes=Decimal("40"),  # a chunk of 50 properties looked up and keyed by hand
    ),
    produce=produce,
    process=process,
)
