"""The factory's scheduler jobs: start robots' runs on their cron or interval schedules, and
the reaper that returns the items of dead workers, re-sends lost messages and raises alarms.

Both run in the scheduler role (exactly one active across machines); a run slot is also
unique in the database (``run_key``), so a hand-over between schedulers never starts a slot
twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.platform.after_commit import after_commit
from backend.platform.clock import ensure_utc
from backend.platform.context import SYSTEM
from backend.platform.jobs import JobRegistry
from backend.platform.wiring import wiring_of
from backend.rpa import manifest as manifests
from backend.rpa.models import Alarm, RobotRecord, RobotVersion, Run, WorkItem
from backend.rpa.queue import dispatcher_for
from backend.rpa.service import start_run
from backend.rpa.worker import retry

JOBS = JobRegistry()
BANK_TZ = ZoneInfo("Asia/Shanghai")
LOST_MESSAGE_S = 120  # a NEW item due this long ago was not picked up: send it again
STUCK_RUN_S = 1800  # a running run without progress this long raises an alarm
FAILURE_RATE_MIN_ITEMS = 5
FAILURE_RATE_ALARM = 0.5


def due_slot(m, last: datetime | None, now: datetime) -> tuple[str, datetime] | None:
    """The slot to run now, if any: the latest cron time ≤ now (bank time) after ``last``,
    or ``now`` when ``every_s`` has passed since ``last``."""
    s = m.schedule
    if s.cron:
        prev = croniter(s.cron, now.astimezone(BANK_TZ)).get_prev(datetime)
        prev_utc = prev.astimezone(now.tzinfo)
        if last is not None and ensure_utc(last) >= prev_utc:
            return None
        return f"cron:{prev_utc.isoformat(timespec='minutes')}", prev_utc
    if s.every_s:
        if last is not None and (now - ensure_utc(last)).total_seconds() < s.every_s:
            return None
        return f"every:{now.isoformat(timespec='seconds')}", now
    return None


@JOBS.job("rpa.schedule", every_s=30, description="start robots' runs on their schedules")
def schedule_runs(session: Session, now: datetime) -> dict:
    started = []
    robots = session.scalars(
        select(RobotRecord).where(
            RobotRecord.enabled.is_(True), RobotRecord.active_version_id.is_not(None)
        )
    ).all()
    for robot in robots:
        version = session.get(RobotVersion, robot.active_version_id)
        m = manifests.from_json(version.manifest)
        slot = due_slot(m, robot.last_scheduled_at, now)
        if slot is None:
            continue
        key, at = slot
        if robot.last_scheduled_at is None and m.schedule.cron:
            # a newly deployed robot waits for its next slot instead of running a missed one
            robot.last_scheduled_at = at
            continue
        trigger = "cron" if m.schedule.cron else "interval"
        try:
            with session.begin_nested():
                start_run(session, SYSTEM, robot.name, trigger=trigger, run_key=key)
        except IntegrityError:
            continue  # another scheduler took this slot
        robot.last_scheduled_at = at
        started.append(robot.name)
    return {"started": started}


@JOBS.job("rpa.reap", every_s=10, description="return dead workers' items, resend, alarms")
def reap(session: Session, now: datetime) -> dict:
    config = wiring_of(session).config
    dispatcher = dispatcher_for(config)
    lease_cut = now - timedelta(seconds=config.rpa_lease_s)
    returned = 0
    for item in session.scalars(
        select(WorkItem)
        .where(WorkItem.state == "RESERVED", WorkItem.heartbeat_at < lease_cut)
        .with_for_update(skip_locked=True)
        .limit(500)
    ):
        worker = item.reserved_by
        retry(
            config,
            session,
            item,
            "lease_lost",
            f"worker {worker} stopped heart-beating (no sign for {config.rpa_lease_s:g} s)",
            now,
            dispatcher,
        )
        _alarm(
            session,
            now,
            "lease_lost",
            f"item:{item.id}",
            item.department,
            item.robot_id,
            f"item {item.id}: worker {worker} died; the item was returned to the queue",
        )
        returned += 1
    resent = 0
    lost_cut = now - timedelta(seconds=LOST_MESSAGE_S)
    for item_id in session.scalars(
        select(WorkItem.id)
        .where(WorkItem.state == "NEW", WorkItem.not_before < lost_cut)
        .limit(1000)
    ):
        after_commit(session, lambda i=item_id: dispatcher.send_item(i))
        resent += 1
    for run_id in session.scalars(
        select(Run.id)
        .where(Run.status == "running", Run.produced.is_(False), Run.created_at < lost_cut)
        .limit(100)
    ):
        after_commit(session, lambda r=run_id: dispatcher.send_run(r))
        resent += 1
    alarms = _stuck_runs(session, now) + _failure_rates(session, now)
    return {"returned": returned, "resent": resent, "alarms": alarms}


def _stuck_runs(session: Session, now: datetime) -> int:
    cut = now - timedelta(seconds=STUCK_RUN_S)
    raised = 0
    for run in session.scalars(
        select(Run).where(Run.status == "running", Run.created_at < cut).limit(200)
    ):
        last = session.scalar(
            select(func.max(func.coalesce(WorkItem.finished_at, WorkItem.heartbeat_at))).where(
                WorkItem.run_id == run.id
            )
        )
        if last is None or ensure_utc(last) < cut:
            raised += _alarm(
                session,
                now,
                "stuck_run",
                f"run:{run.id}",
                run.department,
                run.robot_id,
                f"run {run.id} has made no progress for 30 minutes",
            )
    return raised


def _failure_rates(session: Session, now: datetime) -> int:
    since = now - timedelta(hours=1)
    rows = session.execute(
        select(WorkItem.robot_id, WorkItem.department, WorkItem.state, func.count())
        .where(WorkItem.finished_at >= since, WorkItem.state.in_(("DONE", "FAILED")))
        .group_by(WorkItem.robot_id, WorkItem.department, WorkItem.state)
    ).all()
    counts: dict[tuple[int, str], dict[str, int]] = {}
    for robot_id, department, state, n in rows:
        counts.setdefault((robot_id, department), {})[state] = n
    raised = 0
    for (robot_id, department), by in counts.items():
        total = by.get("DONE", 0) + by.get("FAILED", 0)
        if total >= FAILURE_RATE_MIN_ITEMS and by.get("FAILED", 0) / total > FAILURE_RATE_ALARM:
            name = session.get(RobotRecord, robot_id).name
            raised += _alarm(
                session,
                now,
                "failure_rate",
                f"robot:{name}",
                department,
                robot_id,
                f"{name}: {by.get('FAILED', 0)} of {total} items failed in the last hour",
            )
    return raised


def _alarm(session, now, kind, subject, department, robot_id, message) -> int:
    """Once a day per (kind, subject)."""
    day = now.date().isoformat()
    exists = session.scalar(
        select(Alarm.id).where(Alarm.kind == kind, Alarm.subject == subject, Alarm.opened_on == day)
    )
    if exists is not None:
        return 0
    session.add(
        Alarm(
            kind=kind,
            subject=subject,
            department=department,
            robot_id=robot_id,
            message=message,
            opened_on=day,
            raised_at=now,
        )
    )
    return 1
