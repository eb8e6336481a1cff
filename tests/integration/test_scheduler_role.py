"""The scheduler role: one active scheduler across processes (PostgreSQL advisory lock, a file
lock on SQLite), a standby taking over when the leader goes, interval jobs keeping their cadence
from the last recorded run, and a job never running twice at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from backend.platform.clock import utcnow
from backend.platform.jobs import JobRegistry, JobRun, run_job, start_scheduler
from backend.roles.scheduler import LeaderLock, SchedulerRole
from tests.iot_support import wait_for


def _registry(ran: list[str], gate: threading.Event | None = None) -> JobRegistry:
    jobs = JobRegistry()

    @jobs.job("test.tick", every_s=3600)
    def tick(session, now):
        ran.append("tick")
        if gate is not None:
            gate.wait(10)
        return {"ok": True}

    return jobs


@pytest.fixture
def factory(session_factory):
    """Wired sessions on SQLite and on PostgreSQL (``db_url``)."""
    return session_factory


def test_only_one_of_two_schedulers_is_active_and_the_standby_takes_over(factory):
    engine = factory.kw["bind"]
    first = SchedulerRole(factory, _registry([]), engine, retry_s=0.2).start()
    wait_for(lambda: first.state == "active", 10, "the first scheduler leads")
    second = SchedulerRole(factory, _registry([]), engine, retry_s=0.2).start()
    try:
        wait_for(lambda: second.checks >= 4, 10, "the standby tried the lock a few times")
        assert second.state == "standby" and second.became_active == 0
        first.stop()
        wait_for(lambda: second.state == "active", 15, "the standby takes over")
    finally:
        first.stop()
        second.stop()


@pytest.mark.postgres
def test_a_leader_whose_connection_dies_is_replaced(pg_database):
    from backend.platform.db import make_engine
    from tests.wiring import wired_factory

    engine = make_engine(pg_database)
    factory = wired_factory(engine)
    first = SchedulerRole(factory, _registry([]), engine, retry_s=0.2).start()
    wait_for(lambda: first.state == "active", 10, "the first scheduler leads")
    second = SchedulerRole(factory, _registry([]), engine, retry_s=0.2).start()
    try:
        pid = first._lock._conn.info.backend_pid  # the leader's lock connection
        with engine.connect() as conn:  # as if its host died: the server ends its session
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            conn.commit()
        wait_for(lambda: second.state == "active", 15, "the standby takes over")
        wait_for(lambda: first.state == "standby", 15, "the old leader steps down")
    finally:
        first.stop()
        second.stop()
        engine.dispose()


def test_interval_jobs_keep_their_cadence_from_the_last_recorded_run(factory):
    jobs = _registry([])
    started = utcnow() - timedelta(minutes=10)
    with factory() as session:
        session.add(JobRun(name="test.tick", trigger="schedule", started_at=started, outcome="ok"))
        session.commit()
    scheduler = start_scheduler(factory, jobs)
    try:
        next_run = scheduler.get_job("test.tick").next_run_time
        assert abs((next_run - (started + timedelta(hours=1))).total_seconds()) < 1
    finally:
        scheduler.shutdown(wait=True)


def test_a_job_without_a_recorded_run_is_due_at_once(factory):
    ran: list[str] = []
    scheduler = start_scheduler(factory, _registry(ran))
    try:
        wait_for(lambda: ran == ["tick"], 10, "the overdue job ran at start")
        with factory() as session:
            run = session.scalar(select(JobRun).where(JobRun.name == "test.tick"))
            assert run.trigger == "schedule"
        assert scheduler.get_job("test.tick").next_run_time > utcnow() + timedelta(minutes=59)
    finally:
        scheduler.shutdown(wait=True)


@pytest.mark.postgres
def test_a_job_running_elsewhere_is_skipped_not_run_twice(pg_database):
    from backend.platform.db import make_engine
    from tests.wiring import wired_factory

    engine = make_engine(pg_database)
    factory = wired_factory(engine)
    ran: list[str] = []
    gate = threading.Event()
    jobs = _registry(ran, gate)
    with factory() as session:
        before = session.scalar(select(func.coalesce(func.max(JobRun.id), 0)))
    first = threading.Thread(target=run_job, args=(factory, "test.tick"), kwargs={"jobs": jobs})
    first.start()
    try:
        wait_for(lambda: ran == ["tick"], 10, "the first run started")
        second = run_job(factory, "test.tick", jobs=jobs, trigger="schedule")
        assert second.outcome == "skipped" and ran == ["tick"]
    finally:
        gate.set()
        first.join(10)
    with factory() as session:
        outcomes = sorted(
            session.scalars(
                select(JobRun.outcome).where(JobRun.name == "test.tick", JobRun.id > before)
            )
        )
    assert outcomes == ["ok", "skipped"]
    engine.dispose()


def test_sqlite_leader_lock_is_exclusive(sqlite_url):
    from backend.platform.db import make_engine

    engine = make_engine(sqlite_url)
    one, two = LeaderLock(engine), LeaderLock(engine)
    try:
        assert one.try_acquire() and not two.try_acquire()
        one.release()
        assert two.try_acquire()
    finally:
        one.release()
        two.release()
        engine.dispose()
