"""The robot factory's tables (prefix ``rpa_``): robots and their deployed versions, runs,
work items (the queues' truth), logs, artefacts, human reviews, department membership and
alarms (docs/rpa.md).

A work item's life: NEW → RESERVED (a worker holds its lease and heartbeats it) → DONE, or
FAILED with ``failure_kind`` BUSINESS (the item is wrong: a person reviews it) or APPLICATION
(retries used up). An APPLICATION failure with retries left goes back to NEW with
``not_before`` set by the back-off; a RESERVED item whose heartbeat stopped (its worker died)
goes back to NEW the same way (``backend/rpa/reaper.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.platform.db import Base, BigIntPK

ITEM_STATES = ("NEW", "RESERVED", "DONE", "FAILED")
FAILURE_KINDS = ("BUSINESS", "APPLICATION")
RUN_STATES = ("running", "done", "failed", "partial")
TRIGGERS = ("cron", "interval", "hand", "api", "chain")


class RobotRecord(Base):
    """A robot of the factory: its name, owning department and active version."""

    __tablename__ = "rpa_robots"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    department: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(default=True)
    # a version of this robot (rpa_robot_versions.id); no foreign key, which would make the
    # two tables refer to each other (the registry keeps it to this robot's versions)
    active_version_id: Mapped[int | None] = mapped_column(BigIntPK)
    # the scheduler's last slot (cron) or start (interval): one run per slot across machines
    last_scheduled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class RobotVersion(Base):
    """A deployed version: the entry point and the manifest as deployed (JSON)."""

    __tablename__ = "rpa_robot_versions"
    __table_args__ = (UniqueConstraint("robot_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    robot_id: Mapped[int] = mapped_column(ForeignKey("rpa_robots.id"), index=True)
    version: Mapped[str] = mapped_column(String(20))
    entry_point: Mapped[str] = mapped_column(String(200))
    manifest: Mapped[dict]
    deployed_by: Mapped[str] = mapped_column(String(80))
    deployed_at: Mapped[datetime]


class Run(Base):
    __tablename__ = "rpa_runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    robot_id: Mapped[int] = mapped_column(ForeignKey("rpa_robots.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("rpa_robot_versions.id"))
    department: Mapped[str] = mapped_column(String(20), index=True)
    trigger: Mapped[str] = mapped_column(String(10))  # TRIGGERS
    requested_by: Mapped[str] = mapped_column(String(80))
    params: Mapped[dict]
    # unique per robot: a scheduler slot ("cron:2026-12-05T09:00") or a client's
    # Idempotency-Key, so a slot or a retried API call starts one run
    run_key: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10), index=True)  # RUN_STATES
    produced: Mapped[bool] = mapped_column(default=False)
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    items_failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("robot_id", "run_key"),)


class WorkItem(Base):
    __tablename__ = "rpa_work_items"
    __table_args__ = (
        Index("ix_rpa_work_items_state_not_before", "state", "not_before"),
        Index("ix_rpa_work_items_robot_state", "robot_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("rpa_runs.id"), index=True)
    robot_id: Mapped[int] = mapped_column(ForeignKey("rpa_robots.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("rpa_robot_versions.id"))
    department: Mapped[str] = mapped_column(String(20), index=True)
    parent_item_id: Mapped[int | None] = mapped_column(ForeignKey("rpa_work_items.id"))
    payload: Mapped[dict]
    state: Mapped[str] = mapped_column(String(10))  # ITEM_STATES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[datetime]
    reserved_by: Mapped[str | None] = mapped_column(String(80))
    lease_token: Mapped[str | None] = mapped_column(String(40))
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None] = mapped_column(index=True)
    result: Mapped[dict | None]
    failure_kind: Mapped[str | None] = mapped_column(String(12))  # FAILURE_KINDS
    failure_code: Mapped[str | None] = mapped_column(String(40))
    failure_message: Mapped[str | None] = mapped_column(Text)
    failure_details: Mapped[dict | None]
    created_at: Mapped[datetime]


class RunLog(Base):
    """A line a robot or the factory wrote about a run (or one of its items)."""

    __tablename__ = "rpa_logs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("rpa_runs.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("rpa_work_items.id"), index=True)
    at: Mapped[datetime]
    level: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)


class Artefact(Base):
    """A file kept with a run or item (a report, a screenshot, an uploaded scan)."""

    __tablename__ = "rpa_artefacts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    department: Mapped[str] = mapped_column(String(20), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("rpa_runs.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("rpa_work_items.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class Review(Base):
    """A BUSINESS-failed item waiting for people: a maker proposes (retry with corrected
    payload, or close), a different checker of the same department approves or rejects."""

    __tablename__ = "rpa_reviews"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("rpa_work_items.id"), unique=True)
    department: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)  # open|proposed|resolved
    action: Mapped[str | None] = mapped_column(String(10))  # retry | close
    corrected_payload: Mapped[dict | None]
    note: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime | None]
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    retry_item_id: Mapped[int | None] = mapped_column(ForeignKey("rpa_work_items.id"))
    created_at: Mapped[datetime]


class DepartmentMember(Base):
    """Which department a bank staff user works in: they see that department's robots."""

    __tablename__ = "rpa_department_members"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    department: Mapped[str] = mapped_column(String(20))


class Alarm(Base):
    """Something a person must look at: a stuck run, a robot failing too often, a dead
    worker's item returned. Raised once per (kind, subject) while open."""

    __tablename__ = "rpa_alarms"
    __table_args__ = (UniqueConstraint("kind", "subject", "opened_on"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # stuck_run | failure_rate | lease_lost
    subject: Mapped[str] = mapped_column(String(80))  # "run:12", "robot:ocr_documents"
    department: Mapped[str] = mapped_column(String(20), index=True)
    robot_id: Mapped[int | None] = mapped_column(ForeignKey("rpa_robots.id"))
    message: Mapped[str] = mapped_column(Text)
    opened_on: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD: once a day per subject
    raised_at: Mapped[datetime] = mapped_column(index=True)
    cleared_at: Mapped[datetime | None]
