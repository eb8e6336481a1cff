"""Demo data for risk early warning: ``finedge seed --enterprises N`` loads a synthetic world
(backend/risk/synthetic/) through the ordinary ingestion path, links the demo dealers to two
of its enterprises (DEALER1 sound; DEALER2 with two margin shortfalls in 90 days: a strong
signal under rules v3 too, since a repeated internal event is corroboration, that a third
shortfall escalates to hard, which then blocks its disbursements), assigns every enterprise to
rm1, trains the first models (validated out of time: the world has three years of history so
that the model is trained on the first and tested on the last) and runs a full scan.
Idempotent: a second run with the same N changes nothing.

The world is the realistic one (publication lags, quiet, sudden and contagion defaults, noisy
healthy firms, stressed firms that recover, released guarantees), loaded as a backfill so that
every event is known from its publication."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import Org, User
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM
from backend.platform.errors import BusinessRuleViolation
from backend.risk import synthetic
from backend.risk.intake.ingest import ingest_records
from backend.risk.ml import registry
from backend.risk.models import Enterprise, FeedRun
from backend.risk.monitoring.scan import full_scan
from backend.risk.service.internal_events import record_internal_event

SEED = 20250601
YEARS = 3.0  # two years before the out-of-time cut, about one after it
# the realistic world, with fewer released guarantees (10% instead of 25%) so that the demo's
# knowledge graph still shows guarantee circles standing today
DEMO_STYLE = replace(synthetic.REALISTIC, name="demo", guarantee_release_share=0.1)
DEMO_DEALERS = ("DEALER1", "DEALER2")


def _midnight(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def seed_risk(session: Session, options: Any) -> dict:
    n = int(getattr(options, "enterprises", 0) or 0)
    if n <= 0:
        return {}
    marker = f"synthetic:{n}:{SEED}"
    if session.scalar(select(FeedRun.id).where(FeedRun.location == marker).limit(1)) is not None:
        return {"risk": {"already_seeded": n}}
    now = utcnow()
    world = synthetic.generate(n, seed=SEED, end=_midnight(now), years=YEARS, style=DEMO_STYLE)
    feed = world.feed(until=now)
    sources = sorted(feed, key=lambda s: s != "registry")  # profiles and edges first
    # progress: one step per feed source, then training and the first scan (the slow steps)
    progress = _Progress(len(sources) + 2, getattr(options, "progress", False))
    loaded = rejected = 0
    for source in sources:
        progress.step(f"feed {source}")
        report = ingest_records(
            session,
            SYSTEM,
            source,
            feed[source],
            adapter="seed",
            location=marker,
            now=now,
            evaluate=False,
            backfill=True,  # history: known from its publication, not from seeding time
        )
        loaded += report.accepted
        rejected += len(report.rejected)
    dealers = _link_dealers(session, world, now)
    rm = session.scalar(select(User).where(User.username == "rm1"))
    if rm is not None:
        for ent in session.scalars(select(Enterprise).where(Enterprise.rm_user_id.is_(None))):
            ent.rm_user_id = rm.id
    if "DEALER2" in dealers:
        # two margin shortfalls: a strong signal; a third one (floor-plan maturity) escalates
        # it to hard, and from then on DEALER2's disbursements are blocked
        org_id = dealers["DEALER2"]
        for days, kind, data in (
            (40, "margin_shortfall", {"amount": "350000.00"}),
            (12, "margin_shortfall", {"amount": "420000.00"}),
        ):
            record_internal_event(
                session,
                SYSTEM,
                org_id=org_id,
                kind=kind,
                data=data,
                source_time=now - timedelta(days=days),
                external_id=f"seed-{kind}-{days}",
                now=now,
            )
    result: dict[str, Any] = {
        "enterprises": n,
        "records_loaded": loaded,
        "records_rejected": rejected,
        "dealers_linked": sorted(dealers),
    }
    progress.step("training the models")
    try:
        trained = registry.train_from_database(session, SYSTEM, now=now)
        result["models"] = [
            {
                "id": m["id"],
                "algorithm": m["algorithm"],
                "status": m["status"],
                "auc": m["test"]["auc"],
                "oot_auc": m["oot_auc"],
                "baseline_oot_auc": m["baseline_oot_auc"],
            }
            for m in trained["models"]
        ]
        if "not_champion_because" in trained:
            result["models_note"] = trained["not_champion_because"]
    except BusinessRuleViolation as exc:
        result["models"] = f"not trained: {exc.message}"
    progress.step("the first full scan")
    run = full_scan(session, now=now, commit=False, trigger="seed")
    progress.close()
    result["scan"] = {k: run.report[k] for k in ("levels_now", "guarantee_circles", "seconds")}
    result["scan"]["signals_raised"] = run.report["signals"]["raised"]
    return {"risk": result}


class _Progress:
    """A tqdm bar of the risk seed's steps (on stderr), or nothing."""

    def __init__(self, total: int, shown: bool) -> None:
        self._bar = None
        if shown:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc="risk seed", unit="step")
        self._started = False

    def step(self, what: str) -> None:
        if self._bar is None:
            return
        if self._started:
            self._bar.update(1)
        self._started = True
        self._bar.set_postfix_str(what)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.close()


def _link_dealers(session: Session, world, now: datetime) -> dict[str, int]:
    linked = {}
    for code, synthetic_enterprise in zip(DEMO_DEALERS, world.enterprises, strict=False):
        org = session.scalar(select(Org).where(Org.code == code))
        ent = session.scalar(
            select(Enterprise).where(Enterprise.credit_code == synthetic_enterprise.credit_code)
        )
        if org is None or ent is None:
            continue
        if (
            ent.org_id is None
            and session.scalar(select(Enterprise.id).where(Enterprise.org_id == org.id)) is None
        ):
            ent.org_id, ent.updated_at = org.id, now
        linked[code] = org.id
    return linked
