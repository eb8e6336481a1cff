"""Retention (issue 12, scale): ``backend.platform.retention.prune`` and the jobs that use it
(``devices.prune_messages``, ``prune_job_runs``), on SQLite and PostgreSQL: old rows go, recent
ones stay, in batches that commit one by one; the horizons come from the configuration, and a
bad one is refused with a clear error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, insert, select

from backend.bootstrap import collect_areas, job_registry
from backend.devices.models import Device, DeviceCommand, DeviceMessage
from backend.platform import retention
from backend.platform.clock import utcnow
from backend.platform.config import Config, ConfigError
from backend.platform.db import session_scope
from backend.platform.jobs import JobRun, run_job
from tests.wiring import wired_factory

JOBS = job_registry(collect_areas())


def add_device(session_factory) -> int:
    now = utcnow()
    with session_scope(session_factory) as session:
        device = Device(
            device_id="RET-1",
            branch_id="BR1",
            device_type="lock",
            model="",
            status="active",
            mqtt_username="RET-1",
            state={},
            desired={},
            reported={},
            created_at=now,
            updated_at=now,
        )
        session.add(device)
        session.flush()
        return device.id


def add_messages(session_factory, device_pk: int, ages_days: list[float], tag: str) -> None:
    now = utcnow()
    rows = [
        {
            "envelope_id": f"{tag}-{i}",
            "device_pk": device_pk,
            "branch_id": "BR1",
            "channel": "telemetry",
            "type": "t",
            "seq": i,
            "ts": now - timedelta(days=age),
            "received_at": now - timedelta(days=age),
            "historical": False,
            "data": {},
        }
        for i, age in enumerate(ages_days)
    ]
    with session_scope(session_factory) as session:
        session.execute(insert(DeviceMessage), rows)


def count(session_factory, model, *where) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_prune_deletes_old_rows_in_committed_batches_and_keeps_recent_ones(session_factory, engine):
    pk = add_device(session_factory)
    add_messages(session_factory, pk, [40 + i / 10 for i in range(25)], "old")
    add_messages(session_factory, pk, [29.9, 5, 0], "new")
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    with session_factory() as session:
        done = retention.prune(session, DeviceMessage, "received_at", timedelta(days=30), batch=10)
    assert (done.deleted, done.batches, done.complete) == (25, 3, True)
    assert len(commits) >= 3  # each batch committed on its own
    assert count(session_factory, DeviceMessage) == 3
    assert done.as_dict()["table"] == "device_messages"

    add_messages(session_factory, pk, [50] * 7, "more")
    with session_factory() as session:  # a bounded run stops and says so; the next goes on
        part = retention.prune(
            session, DeviceMessage, "received_at", timedelta(days=30), batch=3, max_batches=1
        )
        assert (part.deleted, part.complete) == (3, False)
        rest = retention.prune(session, DeviceMessage, "received_at", timedelta(days=30), batch=3)
        assert (rest.deleted, rest.batches) == (4, 2)
    with session_factory() as session:  # nothing old: one statement, nothing deleted
        assert (
            retention.prune(session, DeviceMessage, "received_at", timedelta(days=30)).deleted == 0
        )
    assert count(session_factory, DeviceMessage) == 3


@pytest.mark.parametrize(
    "horizon, batch",
    [(timedelta(0), 10), (timedelta(days=-1), 10), (30, 10), (timedelta(days=1), 0)],
)
def test_prune_refuses_a_bad_horizon_or_batch(session_factory, horizon, batch):
    with session_factory() as session, pytest.raises(ValueError, match="positive"):
        retention.prune(session, DeviceMessage, "received_at", horizon, batch=batch)


def test_the_job_prunes_messages_and_finished_commands_by_the_configured_horizons(
    engine, session_factory
):
    factory = wired_factory(engine, device_messages_days=7, device_commands_days=2)
    pk = add_device(factory)
    add_messages(factory, pk, [8, 8, 6, 1], "m")
    now = utcnow()
    with session_scope(factory) as session:
        for i, (status, age) in enumerate(
            [("ok", 3), ("timeout", 3), ("sent", 3), ("pending", 3), ("ok", 1)]
        ):
            session.add(
                DeviceCommand(
                    command_id=f"c-{i}",
                    device_pk=pk,
                    name="lock.open",
                    args={},
                    status=status,
                    reason="",
                    created_at=now - timedelta(days=age),
                )
            )
    run = run_job(factory, "devices.prune_messages", jobs=JOBS)
    assert run.outcome == "ok", run.error
    assert run.result["device_messages"]["deleted"] == 2
    assert run.result["device_commands"]["deleted"] == 2  # finished and older than 2 days
    assert count(factory, DeviceMessage) == 2
    with factory() as session:
        left = set(session.scalars(select(DeviceCommand.status)))
    assert left == {"sent", "pending", "ok"}


def test_the_job_runs_are_pruned_too(engine):
    factory = wired_factory(engine, job_runs_days=10)
    now = utcnow()
    with session_scope(factory) as session:
        for age in (30, 11, 9):
            session.add(
                JobRun(
                    name="x",
                    trigger="schedule",
                    started_at=now - timedelta(days=age),
                    finished_at=now - timedelta(days=age),
                    outcome="ok",
                )
            )
    run = run_job(factory, "prune_job_runs", jobs=JOBS)
    assert run.outcome == "ok" and run.result["deleted"] == 2
    assert count(factory, JobRun, JobRun.name == "x") == 1


def test_a_bad_horizon_in_the_environment_is_refused(engine):
    ok = Config.from_env({"FINEDGE_DEVICE_MESSAGES_DAYS": " 45 ", "FINEDGE_JOB_RUNS_DAYS": ""})
    assert (ok.device_messages_days, ok.device_commands_days, ok.job_runs_days) == (45, 90, 90)
    assert Config.from_env({}).device_messages_days == 30
    for bad in ("0", "-3", "1.5", "30d", "ten"):
        with pytest.raises(ConfigError, match="FINEDGE_DEVICE_MESSAGES_DAYS must be a whole"):
            Config.from_env({"FINEDGE_DEVICE_MESSAGES_DAYS": bad})
    with pytest.raises(ConfigError, match="FINEDGE_DEVICE_COMMANDS_DAYS"):
        Config.from_env({"FINEDGE_DEVICE_COMMANDS_DAYS": "0"})
    # set in code past the environment's check: the job fails and says why
    factory = wired_factory(engine, device_messages_days=0)
    run = run_job(factory, "devices.prune_messages", jobs=JOBS)
    assert run.outcome == "failed" and "positive duration" in run.error
