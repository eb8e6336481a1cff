"""Replay: the module run over dated deliveries with a simulated clock, into its own database.

For each simulated day D from ``start`` to ``end``:

1. at D+1 01:30 (the scheduled ``risk.refresh_daily`` job picks up what the vendors delivered
   during D) every file of ``DIR/D/`` is loaded through the same ingestion as production
   (``load_feed`` with a ``FileFeedAdapter``, ``now`` = that simulated time), which
   re-evaluates the touched enterprises (the live path) in the same transaction;
2. at D+1 03:00, every ``scan_every_days`` days, the full scan (``risk.full_scan``) with the
   same clock.

After each file and each scan the signals table is compared with the previous step
(``recorder.py``), so every change is written with its simulated time.  Same deliveries, same
options: the same signals, ids and times (a fresh database, files and records in name order).

A go-live ``backfill`` loads the days up to ``until`` as history (``backfill=True``: each
event is known from its publication, else source, time), without the live path, then runs one
full scan whose raised signals are marked ``backfill`` and reach nobody's inbox; one audit
record (``risk.backfill_loaded``) summarises them instead.  ``replay(backfill_until=...)``
starts with such a backfill; ``finedge risk backfill`` runs it on the real database."""

from __future__ import annotations

import logging
import time as wallclock
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.context import SYSTEM
from backend.platform.live import LiveEmitter
from backend.risk.intake.adapters import FileFeedAdapter
from backend.risk.intake.ingest import load_feed
from backend.risk.ml import registry
from backend.risk.models import Enterprise, RiskSignal
from backend.risk.monitoring.scan import full_scan
from backend.risk.replay.deliveries import day_files, delivery_days
from backend.risk.replay.recorder import SignalRecorder
from backend.risk.scoring.rulefile import ruleset_in_force

log = logging.getLogger(__name__)
FEED_TIME = time(1, 30)  # risk.refresh_daily
SCAN_TIME = time(3, 0)  # risk.full_scan


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=UTC)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@dataclass
class ReplayResult:
    meta: dict[str, Any]
    lines: list[dict[str, Any]]
    end: dict[str, Any]
    failures: list[dict[str, str]] = field(default_factory=list)
    backfill: dict[str, Any] | None = None

    def jsonl_lines(self) -> list[dict[str, Any]]:
        return [self.meta, *self.lines, self.end]


def _load_file(
    session: Session,
    source: str,
    path: Path,
    now: datetime,
    failures: list,
    *,
    backfill: bool = False,
    live: LiveEmitter | None = None,
) -> None:
    """One delivered file in its own transaction: a file that fails is rolled back, noted,
    and the others load."""
    try:
        load_feed(
            session,
            SYSTEM,
            FileFeedAdapter(path, source),
            now=now,
            live=live,
            evaluate=not backfill,
            backfill=backfill,
        )
        session.commit()
    except Exception as exc:  # one file never stops the replay
        session.rollback()
        log.warning("replay: %s failed: %s", path, exc)
        failures.append({"file": str(path), "error": f"{type(exc).__name__}: {exc}"[:300]})


def backfill(
    session: Session,
    deliveries: str | Path,
    *,
    until: date,
    start: date | None = None,
    live: LiveEmitter | None = None,
    failures: list | None = None,
    on_day: Callable[[date], None] | None = None,
) -> dict[str, Any]:
    """Load the delivered days up to ``until`` as history, then one marked scan (module doc).
    Returns the summary also written as the ``risk.backfill_loaded`` audit record."""
    failures = failures if failures is not None else []
    days = delivery_days(deliveries)
    load_clock = at(until + timedelta(days=1), FEED_TIME)
    loaded = 0
    first = start if start is not None else min(days, default=until)
    for day in days_between(first, until):
        for source, path in day_files(days[day]) if day in days else ():
            _load_file(session, source, path, load_clock, failures, backfill=True, live=live)
            loaded += 1
        if on_day:
            on_day(day)
    run = full_scan(
        session, now=at(until + timedelta(days=1), SCAN_TIME), trigger="backfill", backfill=True
    )
    raised = list(
        session.scalars(
            select(RiskSignal).where(
                RiskSignal.backfill.is_(True), RiskSignal.raised_at == run.started_at
            )
        )
    )
    summary = {
        "until": until.isoformat(),
        "files": loaded,
        "failed_files": len(failures),
        "scan_id": run.id,
        "enterprises": run.report["enterprises"],
        "signals": len(raised),
        "by_level": dict(sorted(Counter(s.level for s in raised).items())),
        "by_origin": dict(sorted(Counter(s.origin for s in raised).items())),
    }
    audit.record(session, SYSTEM, "risk.backfill_loaded", "risk_scan_run", run.id, after=summary)
    session.commit()
    return summary


def replay(
    session: Session,
    deliveries: str | Path,
    *,
    start: date,
    end: date,
    scan_every_days: int = 1,
    backfill_until: date | None = None,
    on_day: Callable[[date], None] | None = None,
    on_go_live: Callable[[], None] | None = None,
) -> ReplayResult:
    """Replay ``deliveries`` from ``start`` to ``end`` (delivery days, inclusive) into the
    empty, migrated database of ``session`` (module doc).  The ruleset in force and the
    champion model of that database are the ones replayed.  ``on_go_live()`` is called once
    the backfill is loaded and committed (the benchmark copies the database there)."""
    if scan_every_days < 1:
        raise ValueError("scan_every_days must be at least 1")
    if end < start:
        raise ValueError("--to is before --from")
    if backfill_until is not None and not (start <= backfill_until < end):
        raise ValueError("--backfill-until must lie in [--from, --to)")
    days = delivery_days(deliveries)
    ruleset = ruleset_in_force(session)
    champion = registry.champion(session)
    meta = {
        "type": "meta",
        "from": start.isoformat(),
        "to": end.isoformat(),
        "ruleset": ruleset.version,
        "model": f"{champion[0].name}:{champion[0].version}" if champion else None,
        "enterprises": 0,
        "deliveries": str(deliveries),
        "scan_every_days": scan_every_days,
    }
    recorder = SignalRecorder()
    lines: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    started = wallclock.perf_counter()
    summary = None
    first = start
    if backfill_until is not None:
        summary = backfill(
            session,
            deliveries,
            until=backfill_until,
            start=start,
            failures=failures,
            on_day=on_day,
        )
        lines += recorder.capture(session, at(backfill_until + timedelta(days=1), SCAN_TIME))
        first = backfill_until + timedelta(days=1)
        if on_go_live:
            on_go_live()
    for index, day in enumerate(days_between(first, end)):
        feed_clock = at(day + timedelta(days=1), FEED_TIME)
        if day in days:
            for source, path in day_files(days[day]):
                _load_file(session, source, path, feed_clock, failures)
                lines += recorder.capture(session, feed_clock)
        if index % scan_every_days == 0:
            scan_clock = at(day + timedelta(days=1), SCAN_TIME)
            full_scan(session, now=scan_clock, trigger="replay")
            lines += recorder.capture(session, scan_clock)
            session.commit()
        if on_day:
            on_day(day)
    seconds = wallclock.perf_counter() - started
    enterprises = session.scalar(select(func.count(Enterprise.id))) or 0
    meta["enterprises"] = enterprises
    n_days = len(days_between(start, end))
    end_line = {
        "type": "end",
        "days": n_days,
        "seconds": round(seconds, 3),
        "days_per_s": round(n_days / seconds, 2) if seconds > 0 else None,
        "enterprises": enterprises,
    }
    return ReplayResult(meta, lines, end_line, failures, summary)
