"""The factory's read side for people watching it: the dashboard's figures and the lists of
runs, items, logs, reviews and alarms, always within one department (``None``: all of them,
for an admin). Nothing here writes. docs/rpa-monitor.md says what each figure means.

The SQL is plain grouping and counting, the same on SQLite and PostgreSQL but for the one
expression that names a time's clock hour (``_hour_of``); the hours with nothing finished are
filled in Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from backend.platform.clock import ensure_utc, isoformat, utcnow
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.pagination import Page, paginate
from backend.rpa.access import ensure_factory_user, scope
from backend.rpa.models import (
    FAILURE_KINDS,
    ITEM_STATES,
    RUN_STATES,
    Alarm,
    Artefact,
    Review,
    RobotRecord,
    RobotVersion,
    Run,
    RunLog,
    WorkItem,
)

MAX_HOURS = 24 * 31
STUCK_MINUTES = 30  # a running run with no item started or finished for this long is stuck
HOUR = timedelta(hours=1)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


def window(hours: int, now: datetime | None = None) -> Window:
    if not 1 <= hours <= MAX_HOURS:
        raise ValidationFailed(f"hours must be between 1 and {MAX_HOURS}", code="invalid_hours")
    until = ensure_utc(now or utcnow())
    return Window(since=until - timedelta(hours=hours), until=until)


def _robot_names(session: Session, department: str | None) -> dict[int, str]:
    stmt = scope(select(RobotRecord.id, RobotRecord.name), RobotRecord.department, department)
    return {robot_id: name for robot_id, name in session.execute(stmt)}


# ---------------------------------------------------------------------- figures


def run_counts(session: Session, department: str | None, w: Window) -> dict[str, Any]:
    """Runs created in the window: by status, and by robot then status."""
    stmt = scope(
        select(Run.robot_id, Run.status, func.count())
        .where(Run.created_at >= w.since, Run.created_at <= w.until)
        .group_by(Run.robot_id, Run.status),
        Run.department,
        department,
    )
    names = _robot_names(session, department)
    by_status = dict.fromkeys(RUN_STATES, 0)
    by_robot: dict[str, dict[str, int]] = {}
    for robot_id, status, count in session.execute(stmt):
        by_status[status] = by_status.get(status, 0) + count
        row = by_robot.setdefault(names.get(robot_id, str(robot_id)), dict.fromkeys(RUN_STATES, 0))
        row[status] = row.get(status, 0) + count
    return {"total": sum(by_status.values()), "by_status": by_status, "by_robot": by_robot}


def _hour_of(session: Session, column):
    """The clock hour (UTC) of a time column as text ``YYYY-MM-DD HH``, grouped by the
    database: SQLite keeps UTC times as ``YYYY-MM-DD HH:MM:SS…`` text (backend.platform.db),
    PostgreSQL as timestamptz, read in UTC."""
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(column, 1, 13)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")


def finished_items(session: Session, department: str | None, w: Window) -> list[tuple]:
    """Items finished (DONE, FAILED) in the window counted by robot, version, state and clock
    hour: one pass over the window's items feeds the hours, the rates and the time saved."""
    hour_of = _hour_of(session, WorkItem.finished_at)
    stmt = scope(
        select(WorkItem.robot_id, WorkItem.version_id, WorkItem.state, hour_of, func.count())
        .where(
            WorkItem.state.in_(("DONE", "FAILED")),
            WorkItem.finished_at >= w.since,
            WorkItem.finished_at <= w.until,
        )
        .group_by(WorkItem.robot_id, WorkItem.version_id, WorkItem.state, hour_of),
        WorkItem.department,
        department,
    )
    return [tuple(row) for row in session.execute(stmt)]


def items_per_hour(rows, w: Window) -> list[dict]:
    """Items finished (DONE, FAILED) per clock hour of the window, oldest first; every hour is
    present, with zeros when nothing finished."""
    first = w.since.replace(minute=0, second=0, microsecond=0)
    buckets: dict[datetime, dict[str, int]] = {}
    hour = first
    while hour <= w.until:
        buckets[hour] = {"DONE": 0, "FAILED": 0}
        hour += HOUR
    for _robot_id, _version_id, state, key, count in rows:
        at = datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=UTC)
        if at in buckets:
            buckets[at][state] += count
    return [
        {"hour": isoformat(h), "done": c["DONE"], "failed": c["FAILED"]} for h, c in buckets.items()
    ]


def success_rates(rows, names: dict[int, str]) -> list[dict]:
    """Per robot: DONE / (DONE + FAILED) of the items finished in the window (None when none
    finished). BUSINESS failures count as failures: the robot did not do the work."""
    done: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    for robot_id, _version_id, state, _hour, count in rows:
        name = names.get(robot_id, str(robot_id))
        (done if state == "DONE" else failed)[name] += count
    out = []
    for name in sorted(set(done) | set(failed)):
        finished = done[name] + failed[name]
        rate = round(done[name] / finished, 4) if finished else None
        out.append({"robot": name, "done": done[name], "failed": failed[name], "rate": rate})
    return out


def manual_minutes(manifest: dict) -> Decimal:
    """The manifest's manual minutes per item (a Decimal string); 0 when absent or garbled,
    so one bad row never breaks the dashboard."""
    try:
        value = Decimal(str(manifest.get("manual_minutes", "0")))
    except (InvalidOperation, ValueError):
        return Decimal("0")
    return value if value.is_finite() and value > 0 else Decimal("0")


def time_saved(session: Session, rows, names: dict[int, str]) -> dict[str, Any]:
    """Hours of manual work the DONE items replaced: Σ DONE × the version's manual_minutes
    / 60, per robot and in total, as Decimal strings to the hundredth."""
    version_ids = {version_id for _r, version_id, state, _h, _c in rows if state == "DONE"}
    minutes = {}
    if version_ids:
        found = session.execute(
            select(RobotVersion.id, RobotVersion.manifest).where(RobotVersion.id.in_(version_ids))
        )
        minutes = {vid: manual_minutes(manifest or {}) for vid, manifest in found}
    per_robot: dict[str, Decimal] = defaultdict(Decimal)
    for robot_id, version_id, state, _hour, count in rows:
        if state == "DONE":
            per_robot[names.get(robot_id, str(robot_id))] += count * minutes.get(
                version_id, Decimal("0")
            )
    hours = {name: (m / 60).quantize(CENT, ROUND_HALF_UP) for name, m in sorted(per_robot.items())}
    total = (sum(per_robot.values(), Decimal("0")) / 60).quantize(CENT, ROUND_HALF_UP)
    return {"hours": str(total), "by_robot": {name: str(h) for name, h in hours.items()}}


def failure_reasons(session: Session, department: str | None, w: Window) -> list[dict]:
    """FAILED items finished in the window by robot, failure kind and code, most first."""
    stmt = scope(
        select(WorkItem.robot_id, WorkItem.failure_kind, WorkItem.failure_code, func.count())
        .where(
            WorkItem.state == "FAILED",
            WorkItem.finished_at >= w.since,
            WorkItem.finished_at <= w.until,
        )
        .group_by(WorkItem.robot_id, WorkItem.failure_kind, WorkItem.failure_code),
        WorkItem.department,
        department,
    )
    names = _robot_names(session, department)
    rows = [
        {
            "robot": names.get(robot_id, str(robot_id)),
            "failure_kind": kind or "APPLICATION",
            "failure_code": code or "unknown",
            "count": count,
        }
        for robot_id, kind, code, count in session.execute(stmt)
    ]
    rows.sort(key=lambda r: (-r["count"], r["robot"], r["failure_kind"], r["failure_code"]))
    return rows


def stuck_runs(
    session: Session,
    department: str | None,
    now: datetime,
    *,
    stuck_minutes: int = STUCK_MINUTES,
    lease_s: float = 30.0,
) -> list[dict]:
    """Running runs that look stuck: no item of theirs started or finished for
    ``stuck_minutes`` (nor the run itself started), or a RESERVED item whose heartbeat is
    older than the lease (its worker is likely gone). Oldest activity first."""
    now = ensure_utc(now)
    quiet_since = now - timedelta(minutes=stuck_minutes)
    lease_edge = now - timedelta(seconds=lease_s)
    runs = list(
        session.scalars(
            scope(select(Run).where(Run.status == "running"), Run.department, department)
        )
    )
    if not runs:
        return []
    ids = [run.id for run in runs]
    activity = {
        run_id: (started, finished)
        for run_id, started, finished in session.execute(
            select(WorkItem.run_id, func.max(WorkItem.started_at), func.max(WorkItem.finished_at))
            .where(WorkItem.run_id.in_(ids))
            .group_by(WorkItem.run_id)
        )
    }
    stale: dict[int, int] = {
        run_id: count
        for run_id, count in session.execute(
            select(WorkItem.run_id, func.count())
            .where(
                WorkItem.run_id.in_(ids),
                WorkItem.state == "RESERVED",
                or_(WorkItem.heartbeat_at.is_(None), WorkItem.heartbeat_at < lease_edge),
            )
            .group_by(WorkItem.run_id)
        )
    }
    names = _robot_names(session, department)
    out = []
    for run in runs:
        moments = [run.created_at, run.started_at, *activity.get(run.id, (None, None))]
        last = max(ensure_utc(m) for m in moments if m is not None)
        reasons = []
        if last < quiet_since:
            reasons.append("quiet")
        if stale.get(run.id):
            reasons.append("stale_heartbeat")
        if reasons:
            out.append(
                {
                    "run_id": run.id,
                    "robot": names.get(run.robot_id, str(run.robot_id)),
                    "last_activity_at": isoformat(last),
                    "quiet_minutes": int((now - last).total_seconds() // 60),
                    "stale_items": stale.get(run.id, 0),
                    "reasons": reasons,
                }
            )
    out.sort(key=lambda r: r["last_activity_at"])
    return out


def open_alarms(session: Session, department: str | None, *, limit: int = 50) -> list[Alarm]:
    stmt = scope(
        select(Alarm).where(Alarm.cleared_at.is_(None)), Alarm.department, department
    ).order_by(Alarm.raised_at.desc(), Alarm.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def review_counts(session: Session, department: str | None) -> dict[str, int]:
    stmt = scope(
        select(Review.status, func.count())
        .where(Review.status.in_(("open", "proposed")))
        .group_by(Review.status),
        Review.department,
        department,
    )
    counts = {"open": 0, "proposed": 0}
    counts.update({status: count for status, count in session.execute(stmt)})
    return counts


def dashboard(
    session: Session,
    actor: Actor,
    *,
    hours: int = 24,
    now: datetime | None = None,
    stuck_minutes: int = STUCK_MINUTES,
    lease_s: float = 30.0,
) -> dict[str, Any]:
    """Every figure of the dashboard for the caller's department and the last ``hours``."""
    department = ensure_factory_user(session, actor)
    w = window(hours, now)
    names = _robot_names(session, department)
    finished = finished_items(session, department, w)
    alarms = open_alarms(session, department)
    return {
        "department": department,
        "since": w.since,
        "until": w.until,
        "hours": hours,
        "runs": run_counts(session, department, w),
        "items_per_hour": items_per_hour(finished, w),
        "success": success_rates(finished, names),
        "failure_reasons": failure_reasons(session, department, w),
        "time_saved": time_saved(session, finished, names),
        "stuck_runs": stuck_runs(
            session, department, w.until, stuck_minutes=stuck_minutes, lease_s=lease_s
        ),
        "alarms": alarms,
        "reviews": review_counts(session, department),
    }


# ---------------------------------------------------------------------- lists


def _robot_id(session: Session, department: str | None, name: str | None) -> int | None:
    """The id of robot ``name`` if the caller sees it; -1 (matches nothing) if not."""
    if name is None:
        return None
    stmt = scope(
        select(RobotRecord.id).where(RobotRecord.name == name), RobotRecord.department, department
    )
    return session.scalar(stmt) or -1


def list_runs(
    session: Session,
    actor: Actor,
    *,
    robot: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    department = ensure_factory_user(session, actor)
    stmt = scope(select(Run), Run.department, department)
    robot_id = _robot_id(session, department, robot)
    if robot_id is not None:
        stmt = stmt.where(Run.robot_id == robot_id)
    if status is not None:
        stmt = stmt.where(Run.status == status)
    return paginate(session, stmt, Run.id, limit=limit, cursor=cursor, descending=True)


def run_item_counts(session: Session, run_id: int) -> dict[str, Any]:
    counts = dict.fromkeys(ITEM_STATES, 0)
    failures = dict.fromkeys(FAILURE_KINDS, 0)
    for state, kind, count in session.execute(
        select(WorkItem.state, WorkItem.failure_kind, func.count())
        .where(WorkItem.run_id == run_id)
        .group_by(WorkItem.state, WorkItem.failure_kind)
    ):
        counts[state] = counts.get(state, 0) + count
        if state == "FAILED" and kind:
            failures[kind] = failures.get(kind, 0) + count
    artefacts = session.scalar(
        select(func.count()).select_from(Artefact).where(Artefact.run_id == run_id)
    )
    return {"items": counts, "failed_by_kind": failures, "artefacts": artefacts or 0}


def list_items(
    session: Session,
    actor: Actor,
    *,
    run_id: int | None = None,
    state: str | None = None,
    robot: str | None = None,
    failure_kind: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    department = ensure_factory_user(session, actor)
    stmt = scope(select(WorkItem), WorkItem.department, department)
    robot_id = _robot_id(session, department, robot)
    if robot_id is not None:
        stmt = stmt.where(WorkItem.robot_id == robot_id)
    if run_id is not None:
        stmt = stmt.where(WorkItem.run_id == run_id)
    if state is not None:
        stmt = stmt.where(WorkItem.state == state)
    if failure_kind is not None:
        stmt = stmt.where(WorkItem.failure_kind == failure_kind)
    return paginate(session, stmt, WorkItem.id, limit=limit, cursor=cursor, descending=True)


def list_logs(
    session: Session,
    run_id: int,
    *,
    item_id: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """A run's (or one item's) log lines in the order written. The caller checked the run."""
    stmt = select(RunLog).where(RunLog.run_id == run_id)
    if item_id is not None:
        stmt = stmt.where(RunLog.item_id == item_id)
    return paginate(session, stmt, RunLog.id, limit=limit, cursor=cursor)


def artefact_ids(session: Session, *, run_id: int | None = None, item_id: int | None = None):
    stmt = select(Artefact.id, Artefact.name, Artefact.content_type, Artefact.size)
    stmt = (
        stmt.where(Artefact.item_id == item_id)
        if item_id
        else stmt.where(Artefact.run_id == run_id)
    )
    return [
        {"id": i, "name": n, "content_type": t, "size": s}
        for i, n, t, s in session.execute(stmt.order_by(Artefact.id))
    ]


def _scoped_list(
    session: Session, actor: Actor, stmt: Select, column, key, limit, cursor, descending=True
) -> Page:
    department = ensure_factory_user(session, actor)
    return paginate(
        session,
        scope(stmt, column, department),
        key,
        limit=limit,
        cursor=cursor,
        descending=descending,
    )


def list_reviews(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Reviews waiting for people (open and proposed) oldest first, or of one status."""
    statuses = (status,) if status else ("open", "proposed")
    stmt = select(Review).where(Review.status.in_(statuses))
    return _scoped_list(
        session, actor, stmt, Review.department, Review.id, limit, cursor, descending=False
    )


def list_alarms(
    session: Session,
    actor: Actor,
    *,
    include_cleared: bool = False,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    stmt = select(Alarm)
    if not include_cleared:
        stmt = stmt.where(Alarm.cleared_at.is_(None))
    return _scoped_list(session, actor, stmt, Alarm.department, Alarm.id, limit, cursor)


def robot_names(session: Session, ids) -> dict[int, str]:
    ids = set(ids)
    if not ids:
        return {}
    stmt = select(RobotRecord.id, RobotRecord.name).where(RobotRecord.id.in_(ids))
    return {robot_id: name for robot_id, name in session.execute(stmt)}


def items_by_id(session: Session, ids) -> dict[int, WorkItem]:
    ids = set(ids)
    if not ids:
        return {}
    return {i.id: i for i in session.scalars(select(WorkItem).where(WorkItem.id.in_(ids)))}
