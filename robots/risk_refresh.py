"""Risk data refresh, one item per chunk of enterprises: every enterprise re-evaluated by the
risk area's own live path (``monitoring.live.evaluate_enterprises``: features from its stored
history, tags, the ruleset in force, the champion model, then the signals reconciled: raised,
escalated, expired), in the item's transaction.

It is the hourly complement of the nightly full scan (``risk.full_scan``): the graph measures
and contagion come from the last scan, so an item is a few queries per enterprise, and signals
that became due or stale since the last event (an overdue filing, a signal past its expiry)
are acted on within the hour instead of the next night. The feeds themselves are loaded by
the risk jobs (``risk.refresh_daily``, ``risk.refresh_sentiment``); whatever they brought is
evaluated here.

``params``: ``chunk`` (enterprises per item, default 200), ``status`` (only enterprises in
this registry status; default every one).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backend.platform.wiring import live_of
from backend.risk.models import Enterprise
from backend.risk.monitoring.live import evaluate_enterprises
from backend.rpa.robot import ItemContext, Manifest, Robot, RunContext, Schedule

CHUNK = 200


def produce(ctx: RunContext):
    chunk = max(1, min(int(ctx.params.get("chunk", CHUNK)), 2000))
    stmt = select(Enterprise.id).order_by(Enterprise.id)
    if ctx.params.get("status"):
        stmt = stmt.where(Enterprise.status == str(ctx.params["status"]))
    ids = list(ctx.session.scalars(stmt))
    for start in range(0, len(ids), chunk):
        yield {"enterprise_ids": ids[start : start + chunk]}


def process(ctx: ItemContext, payload: dict[str, Any]) -> dict[str, Any]:
    ids = [int(i) for i in payload["enterprise_ids"]]
    report = evaluate_enterprises(ctx.session, ids, now=ctx.now, live=live_of(ctx.session))
    result = report.as_dict()
    result["missing"] = len(set(ids)) - report.enterprises
    result["new_signals"] = [
        {"enterprise_id": s.enterprise_id, "rule": s.rule_id, "level": s.level}
        for s in report.changes.raised[:50]
    ]
    if result["raised"]:
        ctx.log(f"{result['raised']} new signals on {report.enterprises} enterprises")
    return result


ROBOT = Robot(
    manifest=Manifest(
        name="risk_refresh",
        version="1.0.0",
        department="risk",
        title="Hourly risk re-evaluation",
        description=(
            "Every enterprise re-evaluated in chunks by the risk area's live path (rules, "
            "model, signal lifecycle): counts and the new signals."
        ),
        input_schema={"enterprise_ids": "list"},
        schedule=Schedule(every_s=3600),
        timeout_s=120,
        max_retries=3,
        manual_minutes=Decimal("60"),  # an analyst's review of 200 enterprises' new facts
    ),
    produce=produce,
    process=process,
)
