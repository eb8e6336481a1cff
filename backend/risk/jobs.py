"""Scheduled risk jobs (registered with backend.platform.jobs, listed in backend/cli.py):

- ``risk.refresh_sentiment`` every 2 hours: feeds configured with ``schedule: sentiment``;
- ``risk.refresh_daily`` daily 01:30 UTC: every other configured feed;
- ``risk.full_scan`` daily 03:00 UTC: re-evaluate every enterprise (progress in
  ``risk_scan_runs``; GET /api/v1/risk/scans/{id});
- ``risk.train_challengers`` Sundays 04:00 UTC: retrain on the stored history and register
  challengers next to the champion (promotion stays a person's decision);
- ``risk.demo_ticker`` every 90 s, demo environment only: a synthetic news item or lawsuit for
  a seeded enterprise, so that the demo shows ``risk.signal`` pushes arriving live.
"""

from __future__ import annotations

import logging
import os
import random
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.platform.context import SYSTEM
from backend.platform.errors import BusinessRuleViolation
from backend.platform.jobs import JobRegistry
from backend.platform.wiring import live_of
from backend.risk.intake.adapters import (
    FeedError,
    FileFeedAdapter,
    HttpFeedAdapter,
    load_feed_config,
)
from backend.risk.intake.ingest import ingest_records, load_feed
from backend.risk.ml.registry import train_from_database
from backend.risk.models import Enterprise
from backend.risk.monitoring.scan import full_scan

JOBS = JobRegistry()

log = logging.getLogger(__name__)


def refresh(session: Session, now: datetime, schedule: str) -> dict[str, Any]:
    """Load the configured feeds of ``schedule``.  Each file (or HTTP page) is loaded in a
    savepoint of its own (``load_feed``): a file that fails is rolled back alone, recorded as a
    failed feed run and quarantined; a feed that cannot be read at all (a missing folder, an
    unreachable URL) is rolled back alone and reported, and the other feeds still load."""
    specs = [s for s in load_feed_config() if s.schedule == schedule]
    summary: dict[str, Any] = {"feeds": len(specs), "loaded": [], "failed": [], "quarantined": []}
    for spec in specs:
        adapter = (
            FileFeedAdapter(spec.path, spec.source, quarantine=spec.quarantine)
            if spec.adapter == "file"
            else HttpFeedAdapter(spec.url, spec.source)
        )
        try:
            with session.begin_nested():  # a feed that cannot be read leaves nothing half-done
                reports = load_feed(session, SYSTEM, adapter, now=now, live=live_of(session))
        except Exception as exc:  # one failing feed never stops the others
            if not isinstance(exc, FeedError):
                log.exception("risk feed %s failed", spec.source)
            log.warning("risk feed %s failed: %s", spec.source, exc)
            summary["failed"].append({"source": spec.source, "error": str(exc)[:500]})
            continue
        ok = [r for r in reports if r.status == "ok"]
        for r in reports:
            if r.status != "ok":
                summary["quarantined"].append(
                    {
                        "source": spec.source,
                        "feed_run_id": r.feed_run_id,
                        "error": r.error,
                        "quarantined_to": r.quarantined_to,
                    }
                )
        summary["loaded"].append(
            {
                "source": spec.source,
                "batches": len(ok),
                "failed_batches": len(reports) - len(ok),
                "accepted": sum(r.accepted for r in ok),
                "updated": sum(r.updated for r in ok),
                "rejected": sum(len(r.rejected) for r in ok),
                "queued": sum(len(r.queued) for r in ok),
            }
        )
    return summary


@JOBS.job("risk.refresh_sentiment", every_s=2 * 3600)
def refresh_sentiment(session: Session, now: datetime) -> dict[str, Any]:
    """Load the public-sentiment feeds (every 2 hours)."""
    return refresh(session, now, "sentiment")


@JOBS.job("risk.refresh_daily", cron={"hour": 1, "minute": 30})
def refresh_daily(session: Session, now: datetime) -> dict[str, Any]:
    """Load the registry, judicial, penalty, tax, equity, rating and financial feeds."""
    return refresh(session, now, "daily")


@JOBS.job("risk.full_scan", cron={"hour": 3, "minute": 0})
def full_scan_job(session: Session, now: datetime) -> dict[str, Any]:
    """Re-evaluate every enterprise (rules, model, contagion, tags) and report the changes."""
    run = full_scan(session, now=now, live=live_of(session), trigger="job")
    return {
        "scan_id": run.id,
        **{k: run.report[k] for k in ("enterprises", "seconds", "level_changes")},
    }


@JOBS.job("risk.train_challengers", cron={"day_of_week": "sun", "hour": 4, "minute": 0})
def train_challengers(session: Session, now: datetime) -> dict[str, Any]:
    """Retrain the warning model on the stored history, validated out of time; register
    challengers (with their out-of-time AUC beside the rule-level baseline's)."""
    try:
        result = train_from_database(session, SYSTEM, now=now)
    except BusinessRuleViolation as exc:
        return {"trained": False, "reason": exc.message}
    return {
        "trained": True,
        "models": [
            {k: m[k] for k in ("id", "algorithm", "status", "oot_auc", "baseline_oot_auc")}
            for m in result["models"]
        ],
    }


@JOBS.job("risk.demo_ticker", every_s=90)
def demo_ticker(session: Session, now: datetime) -> dict[str, Any]:
    """Demo only: a new synthetic event for a seeded enterprise, to show live signals."""
    if os.environ.get("FINEDGE_ENV", "demo") != "demo":
        return {"skipped": "not the demo environment"}
    count = session.scalar(
        select(func.count(Enterprise.id)).where(
            Enterprise.rm_user_id.is_not(None), Enterprise.credit_code.is_not(None)
        )
    )
    if not count:
        return {"skipped": "no enterprises seeded"}
    rng = random.Random(now.timestamp())
    ent = session.scalar(
        select(Enterprise)
        .where(Enterprise.rm_user_id.is_not(None), Enterprise.credit_code.is_not(None))
        .order_by(Enterprise.id)
        .offset(rng.randrange(count))
        .limit(1)
    )
    stamp = now.strftime("%Y%m%d%H%M%S")
    if rng.random() < 0.5:
        source, record = (
            "news",
            {
                "record_id": f"demo-news-{stamp}",
                "kind": "news",
                "name": ent.name,
                "credit_code": ent.credit_code,
                "time": now.isoformat(),
                "title": f"{ent.name[:8]}资金链紧张传闻",
                "data": {"sentiment": round(rng.uniform(-0.95, -0.82), 2)},
            },
        )
    else:
        source, record = (
            "court",
            {
                "record_id": f"demo-court-{stamp}",
                "kind": "lawsuit_defendant",
                "credit_code": ent.credit_code,
                "time": now.isoformat(),
                "data": {"amount": f"{rng.randint(200, 9000) * 1000}.00"},
            },
        )
    report = ingest_records(
        session, SYSTEM, source, [record], adapter="demo", now=now, live=live_of(session)
    )
    return {"enterprise_id": ent.id, "source": source, "signals": report.signals.get("raised", 0)}
