"""Jobs: periodic and one-off work (sweeps, refreshes, scans) with every run recorded.

Each area keeps its jobs in a ``JobRegistry`` of its own (``JOBS = JobRegistry()`` and
``@JOBS.job("name", every_s=...)`` or ``cron=...`` in its ``jobs.py``) and names it in its
``area.py``; the composition root merges them. ``finedge jobs run NAME`` runs one by hand and
the scheduler role runs them on schedule, both through ``run_job`` on the root's session
factory, so a job run by hand has the ports, emitter and device link a scheduled run has.
Every run writes a JobRun row (start, end, outcome, error) in its own transaction, so a
failing job leaves a trace even when its own work rolled back.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Text, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from backend.platform.clock import utcnow
from backend.platform.db import Base, BigIntPK
from backend.platform.errors import NotFound, ValidationFailed
from backend.platform.pagination import (
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    paginate,
)

log = logging.getLogger(__name__)


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), index=True)
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | manual
    started_at: Mapped[datetime] = mapped_column(index=True)  # retention
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(12))  # running | ok | failed | skipped
    result: Mapped[dict | None]
    error: Mapped[str | None] = mapped_column(Text)


JobFunc = Callable[[Session, datetime], dict[str, Any] | None]


@dataclass
class JobSpec:
    name: str
    func: JobFunc
    every_s: int | None = None
    cron: dict[str, Any] | None = None
    description: str = ""


@dataclass
class JobRegistry:
    jobs: dict[str, JobSpec] = field(default_factory=dict)

    def job(
        self,
        name: str,
        *,
        every_s: int | None = None,
        cron: dict | None = None,
        description: str = "",
    ):
        def register(func: JobFunc) -> JobFunc:
            if name in self.jobs:
                raise ValueError(f"job {name!r} registered twice")
            self.jobs[name] = JobSpec(
                name, func, every_s, cron, description or (func.__doc__ or "").strip()
            )
            return func

        return register

    def merge(self, other: JobRegistry) -> None:
        for name, spec in other.jobs.items():
            if name in self.jobs and self.jobs[name] is not spec:
                raise ValueError(f"job {name!r} registered twice")
            self.jobs[name] = spec

    def get(self, name: str) -> JobSpec:
        try:
            return self.jobs[name]
        except KeyError:
            raise NotFound(f"no job named {name!r}", code="job_not_found") from None


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks named ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def run_lock(factory: sessionmaker[Session], name: str) -> Iterator[bool]:
    """Whether this process may run job ``name`` now: on PostgreSQL a session advisory lock on
    a connection of its own, held for the run (so a job never runs twice at once across
    machines, even while a scheduler hands over to another); elsewhere (SQLite: one machine)
    always."""
    engine = factory.kw.get("bind")
    if engine is None or engine.dialect.name != "postgresql":
        yield True
        return
    key = advisory_key(f"finedge-job:{name}")
    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()


def run_job(
    factory: sessionmaker[Session],
    name: str,
    *,
    trigger: str = "manual",
    now: Callable[[], datetime] = utcnow,
    jobs: JobRegistry,
    as_of: datetime | None = None,
) -> JobRun:
    """Run job ``name`` once and record the run (``skipped`` when it is running elsewhere).
    ``as_of``: the moment the job works as of (its ``now``; a replay of a past day) instead of
    the clock; the run itself is recorded at the clock's times, with ``as_of`` in its result."""
    spec = jobs.get(name)
    with run_lock(factory, name) as mine:
        with factory() as session:
            run = JobRun(
                name=name,
                trigger=trigger,
                started_at=now(),
                outcome="running" if mine else "skipped",
                error=None if mine else "running in another process",
                finished_at=None if mine else now(),
            )
            session.add(run)
            session.commit()
            if not mine:
                return run
            run_id = run.id
        outcome, result, error = "ok", None, None
        try:
            with factory() as work_session:
                result = spec.func(work_session, as_of or now())
                work_session.commit()
            if as_of is not None:
                result = {**(result or {}), "as_of": as_of.isoformat().replace("+00:00", "Z")}
        except Exception as exc:
            outcome, error = "failed", "".join(traceback.format_exception_only(exc)).strip()
            log.exception("job %s failed", name)
        if outcome == "ok":
            # a job that found nothing to do (every 15 s for some) stays out of the INFO log
            log.log(
                logging.INFO if did_something(result) else logging.DEBUG, "job %s: %s", name, result
            )
        with factory() as session:
            run = session.get(JobRun, run_id)
            run.finished_at, run.outcome, run.result, run.error = now(), outcome, result, error
            session.commit()
            return run


# Result fields that describe how a run went, not what it changed.
_BOOKKEEPING = frozenset(("batches", "seconds", "ms", "complete", "cutoff", "table"))


def did_something(result: Any) -> bool:
    """Whether a job's result reports a change: a non-zero count or a non-empty list anywhere
    in it (``{"expired": 0}`` and a retention run that deleted nothing did nothing)."""
    if isinstance(result, dict):
        return any(did_something(v) for k, v in result.items() if k not in _BOOKKEEPING)
    if isinstance(result, list | tuple):
        return bool(result)
    if isinstance(result, bool):
        return result
    if isinstance(result, int | float):
        return result != 0
    return False


def last_scheduled_start(session: Session, name: str) -> datetime | None:
    """When the last scheduled run of ``name`` started (any process, any restart)."""
    return session.scalar(
        select(func.max(JobRun.started_at)).where(JobRun.name == name, JobRun.trigger == "schedule")
    )


def page_runs(
    session: Session,
    *,
    name: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Job runs, newest first, a cursor page (``GET /admin/jobs``)."""
    stmt = select(JobRun)
    if name:
        stmt = stmt.where(JobRun.name == name)
    return paginate(session, stmt, JobRun.id, limit=limit, cursor=cursor, descending=True)


def recent_runs(session: Session, name: str | None = None, limit: int = 20) -> list[JobRun]:
    stmt = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if name:
        stmt = stmt.where(JobRun.name == name)
    return list(session.scalars(stmt))


def page_schedule(
    session: Session, jobs: JobRegistry, *, limit: int | None = None, cursor: str | None = None
) -> Page:
    """The registered jobs by name, each with its schedule (``every_s`` or ``cron``; neither:
    by hand only) and its latest run, a cursor page (``GET /admin/jobs/schedule``)."""
    names = sorted(jobs.jobs)
    start = 0  # the cursor: how many names the pages before gave
    if cursor:
        start = decode_cursor(cursor)
        if isinstance(start, bool) or not isinstance(start, int) or not 0 < start < 2**63:
            raise ValidationFailed(
                "cursor is not valid",
                code="invalid_cursor",
                details={"cursor": ["not a cursor of this listing"]},
            )
    limit = check_limit(limit)
    items = []
    for name in names[start : start + limit]:
        spec = jobs.jobs[name]
        latest = recent_runs(session, name, limit=1)
        items.append(
            {
                "name": name,
                "description": spec.description,
                "every_s": spec.every_s,
                "cron": spec.cron,
                "last_run": latest[0] if latest else None,
            }
        )
    more = len(names) > start + limit
    return Page(items=items, next_cursor=encode_cursor(start + limit) if more else None)


MISFIRE_GRACE_S = 60


def start_scheduler(factory: sessionmaker[Session], jobs: JobRegistry):
    """APScheduler in a background thread; each trigger goes through ``run_job``.

    Coalesced, one instance per job at a time; the schedule itself is code (the registry), so
    no pickled job store is needed and every run is recorded in JobRun."""
    from apscheduler.schedulers.background import BackgroundScheduler

    # A run starting late (every job is due at once when the scheduler starts; a busy machine)
    # still runs, up to MISFIRE_GRACE_S late, instead of being skipped with a warning.
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_S,
        },
    )
    now = utcnow()
    for spec in jobs.jobs.values():
        kwargs = {
            "args": [factory, spec.name],
            "kwargs": {"trigger": "schedule", "jobs": jobs},
            "id": spec.name,
        }
        if spec.every_s:
            # The cadence counts from the last recorded run, not from this process's start:
            # a scheduler restarted more often than a job's interval still runs it on time.
            with factory() as session:
                last = last_scheduled_start(session, spec.name)
            first = now if last is None else max(now, last + timedelta(seconds=spec.every_s))
            scheduler.add_job(
                run_job, "interval", seconds=spec.every_s, next_run_time=first, **kwargs
            )
        elif spec.cron:
            scheduler.add_job(run_job, "cron", **spec.cron, **kwargs)
    scheduler.start()
    return scheduler
