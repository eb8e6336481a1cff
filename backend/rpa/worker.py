"""Doing the work: a run's ``produce`` and one work item's ``process``, with a lease, a
heartbeat, a timeout that kills, and the outcome written as the item's state.

    NEW ──take (conditional UPDATE, robot's concurrency)──> RESERVED (lease token, heartbeat)
    RESERVED ──process returns──> DONE          (in the robot's own transaction, only while the
                                                 lease is still ours: a returned item's late
                                                 finish rolls back, so work commits once)
    RESERVED ──BusinessFailure──> FAILED/BUSINESS + an open review
    RESERVED ──other exception, timeout, lease lost──> NEW after back-off, or FAILED/APPLICATION
                                                 when the attempts are used up

A worker process (``finedge rpa worker``) runs ``Executor`` with ``kill_on_timeout``: past the
manifest's timeout the watchdog records the failure and ends the process (``os._exit``); the
huey consumer starts a fresh one. In-process draining (tests, ``finedge rpa drain``) records
the timeout without killing: the robot's late finish is then refused by the lease check.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from backend.platform.after_commit import after_commit
from backend.platform.clock import ensure_utc, utcnow
from backend.platform.config import Config
from backend.platform.context import SYSTEM
from backend.rpa import manifest as manifests
from backend.rpa import registry
from backend.rpa.models import (
    Artefact,
    Review,
    RobotRecord,
    RobotVersion,
    Run,
    RunLog,
    WorkItem,
)
from backend.rpa.queue import dispatcher_for
from backend.rpa.robot import BusinessFailure, ItemContext, Robot, RunContext

log = logging.getLogger(__name__)

KILL_EXIT_CODE = 75
MAX_BACKOFF_S = 3600.0
BUSY_RETRY_S = 0.5
MESSAGE_LIMIT = 2000


class LeaseLost(Exception):
    """The item is no longer ours (returned by the reaper or the watchdog)."""


def backoff_s(config: Config, attempt: int) -> float:
    """Delay before retry ``attempt`` + 1: base × 2^(attempt-1), ±20 % jitter, at most 1 h."""
    base = config.rpa_backoff_s * (2 ** max(attempt - 1, 0))
    return min(MAX_BACKOFF_S, base * random.uniform(0.8, 1.2))


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


@dataclass
class _Buffer:
    lines: list[tuple[datetime, str, str]] = field(default_factory=list)
    # files the item kept (in its own transaction): kept again by a failure's transaction,
    # under the same ids, when the item's work rolls back (a rejection's screenshot)
    files: list[Artefact] = field(default_factory=list)

    def add(self, level: str, message: str) -> None:
        self.lines.append((utcnow(), level[:8], str(message)[:MESSAGE_LIMIT]))


class Executor:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        config: Config,
        *,
        dispatcher: Any,
        kill_on_timeout: bool = False,
        name: str | None = None,
    ) -> None:
        self.sf = session_factory
        self.config = config
        self.dispatcher = dispatcher
        self.kill_on_timeout = kill_on_timeout
        self.name = name or worker_id()

    # ------------------------------------------------------------------ items

    def process_item(self, item_id: int) -> str:
        """Do item ``item_id`` if it is ours to do; returns what happened (for tests/logs)."""
        token = uuid.uuid4().hex[:16]
        taken = self._take(item_id, token)
        if isinstance(taken, str):
            return taken
        item, version, run = taken
        buffer = _Buffer()
        stop = threading.Event()
        manifest = manifests.from_json(version.manifest)
        beat = threading.Thread(target=self._heartbeat, args=(item_id, token, stop), daemon=True)
        watchdog = threading.Thread(
            target=self._watchdog,
            args=(item_id, run.id, token, stop, manifest.timeout_s),
            daemon=True,
        )
        beat.start()
        watchdog.start()
        try:
            robot = registry.load(version.entry_point, version.version)
            return self._do(robot, item, run, token, buffer)
        except LeaseLost:
            buffer.add(
                "warning", "lease lost: the item was returned; this attempt's work rolled back"
            )
            return "lease_lost"
        except BusinessFailure as failure:
            self._finish_business(item_id, token, failure, buffer)
            return "business"
        except Exception as exc:
            code = getattr(exc, "code", None) or type(exc).__name__
            self._finish_application(item_id, token, str(code)[:40], _message(exc), buffer)
            return "application"
        finally:
            stop.set()
            # a watchdog that fired is recording the timeout: let it finish (and send the
            # retry) before this worker takes its next message
            watchdog.join(timeout=30)
            beat.join(timeout=30)
            self._write_logs(run.id, item_id, buffer)

    def _take(self, item_id: int, token: str):
        now = utcnow()
        with self.sf() as s, s.begin():
            item = s.get(WorkItem, item_id)
            if item is None or item.state != "NEW":
                return "skipped"
            wait = (ensure_utc(item.not_before) - now).total_seconds()
            if wait > 0.05:
                after_commit(s, lambda: self.dispatcher.send_item(item_id, wait))
                return "early"
            # Touch the robot's row first: its lock (a row lock on PostgreSQL, the write lock
            # on SQLite) makes the concurrency count below exact across workers.
            s.execute(
                update(RobotRecord)
                .where(RobotRecord.id == item.robot_id)
                .values(enabled=RobotRecord.enabled)
            )
            robot = s.get(RobotRecord, item.robot_id)
            version = s.get(RobotVersion, item.version_id)
            limit = manifests.from_json(version.manifest).concurrency
            busy = s.scalar(
                select(func.count())
                .select_from(WorkItem)
                .where(WorkItem.robot_id == item.robot_id, WorkItem.state == "RESERVED")
            )
            if not robot.enabled or busy >= limit:
                delay = BUSY_RETRY_S if robot.enabled else 30.0
                after_commit(s, lambda: self.dispatcher.send_item(item_id, delay))
                return "busy" if robot.enabled else "disabled"
            taken = s.execute(
                update(WorkItem)
                .where(WorkItem.id == item_id, WorkItem.state == "NEW")
                .values(
                    state="RESERVED",
                    attempts=WorkItem.attempts + 1,
                    reserved_by=self.name,
                    lease_token=token,
                    heartbeat_at=now,
                    started_at=now,
                )
            ).rowcount
            if taken != 1:
                return "taken"
            run = s.get(Run, item.run_id)
            if run.started_at is None:
                run.started_at = now
            s.flush()
            s.refresh(item)
            s.expunge(item)
            s.expunge(version)
            s.expunge(run)
            return item, version, run

    def _do(self, robot: Robot, item: WorkItem, run: Run, token: str, buffer: _Buffer) -> str:
        with self.sf() as s, s.begin():
            emitted: list[tuple[str, dict]] = []
            ctx = ItemContext(
                session=s,
                config=self.config,
                actor=SYSTEM,
                now=utcnow(),
                run_id=run.id,
                params=dict(run.params or {}),
                logger=logging.getLogger(f"robots.{robot.manifest.name}"),
                _log=buffer.add,
                _artefact=lambda n, d, t: _keep_in(s, run, item.id, n, d, t, buffer),
                item_id=item.id,
                attempt=item.attempts,
                _emit=lambda name, payload: emitted.append((name, payload)),
                _read_artefact=lambda artefact_id: self._read_artefact(run, artefact_id),
            )
            result = robot.process(ctx, dict(item.payload))
            result = _jsonable(result if result is not None else {})
            for target, payload in emitted:
                self._hand_on(s, robot, item, run, target, payload)
            done = s.execute(
                update(WorkItem)
                .where(
                    WorkItem.id == item.id,
                    WorkItem.state == "RESERVED",
                    WorkItem.lease_token == token,
                )
                .values(
                    state="DONE",
                    result=result,
                    finished_at=utcnow(),
                    lease_token=None,
                    failure_kind=None,
                    failure_code=None,
                    failure_message=None,
                    failure_details=None,
                )
            ).rowcount
            if done != 1:
                raise LeaseLost()
            _count(s, run.id, done=1)
            buffer.add("info", f"done (attempt {item.attempts})")
        return "done"

    def _hand_on(self, s, robot: Robot, item, run, target: str, payload: dict) -> None:
        """An item for the next robot of a chain, in this item's transaction."""
        if target not in robot.manifest.feeds:
            raise BusinessFailure(
                "bad_handoff", f"{robot.manifest.name} does not feed {target}", {}
            )
        record = s.scalar(select(RobotRecord).where(RobotRecord.name == target))
        if record is None or record.active_version_id is None:
            raise BusinessFailure("bad_handoff", f"robot {target} is not deployed", {})
        version = s.get(RobotVersion, record.active_version_id)
        m = manifests.from_json(version.manifest)
        try:
            manifests.check_payload(m, payload)
        except Exception as exc:
            raise BusinessFailure("bad_handoff", f"{target}: {exc}", {}) from None
        chain_run = _chain_run(s, record, version, run)
        child = new_item(s, chain_run, record, version, m, payload, parent_item_id=item.id)
        s.flush()
        child_id = child.id
        after_commit(s, lambda: self.dispatcher.send_item(child_id))

    def _finish_business(self, item_id, token, failure: BusinessFailure, buffer) -> None:
        now = utcnow()
        with self.sf() as s, s.begin():
            item = s.get(WorkItem, item_id)
            if item.state != "RESERVED" or item.lease_token != token:
                return
            item.state = "FAILED"
            item.failure_kind = "BUSINESS"
            item.failure_code = failure.code[:40]
            item.failure_message = failure.message[:MESSAGE_LIMIT]
            item.failure_details = _jsonable(failure.details)
            item.finished_at = now
            item.lease_token = None
            s.add(
                Review(item_id=item.id, department=item.department, status="open", created_at=now)
            )
            _count(s, item.run_id, failed=1)
            _keep_again(s, buffer)
        buffer.add("warning", f"BUSINESS failure {failure.code}: {failure.message}")

    def _finish_application(self, item_id, token, code: str, message: str, buffer) -> bool:
        """Back to NEW after back-off, or FAILED when the attempts are used up. False when the
        lease is no longer ours (someone else already decided)."""
        now = utcnow()
        with self.sf() as s, s.begin():
            item = s.get(WorkItem, item_id, with_for_update=True)
            if item is None or item.state != "RESERVED" or item.lease_token != token:
                return False
            retry(self.config, s, item, code, message, now, self.dispatcher)
            _keep_again(s, buffer)
        buffer.add("error", f"APPLICATION failure {code}: {message}")
        return True

    # ------------------------------------------------------------------ lease

    def _heartbeat(self, item_id: int, token: str, stop: threading.Event) -> None:
        while not stop.wait(self.config.rpa_heartbeat_s):
            try:
                with self.sf() as s, s.begin():
                    s.execute(
                        update(WorkItem)
                        .where(WorkItem.id == item_id, WorkItem.lease_token == token)
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:
                log.warning("heartbeat of item %s failed", item_id, exc_info=True)

    def _watchdog(self, item_id, run_id, token, stop: threading.Event, timeout_s: int):
        if stop.wait(timeout_s):
            return
        buffer = _Buffer()
        message = f"timed out after {timeout_s} s"
        try:
            self._finish_application(item_id, token, "timeout", message, buffer)
            self._write_logs(run_id, item_id, buffer)
        finally:
            if self.kill_on_timeout:
                log.error("item %s %s: ending worker process %s", item_id, message, os.getpid())
                os._exit(KILL_EXIT_CODE)

    # ------------------------------------------------------------------ runs

    def start_run(self, run_id: int) -> str:
        """Call the robot's ``produce`` once and queue what it yields."""
        buffer = _Buffer()
        try:
            with self.sf() as s, s.begin():
                run = s.get(Run, run_id, with_for_update=True)
                if run is None or run.produced or run.status != "running":
                    return "skipped"
                version = s.get(RobotVersion, run.version_id)
                robot_row = s.get(RobotRecord, run.robot_id)
                robot = registry.load(version.entry_point, version.version)
                m = robot.manifest
                run.started_at = run.started_at or utcnow()
                ctx = RunContext(
                    session=s,
                    config=self.config,
                    actor=SYSTEM,
                    now=utcnow(),
                    run_id=run.id,
                    params=dict(run.params or {}),
                    logger=logging.getLogger(f"robots.{m.name}"),
                    _log=buffer.add,
                    _artefact=lambda n, d, t: _keep_in(s, run, None, n, d, t, buffer),
                )
                ids = []
                for payload in robot.produce(ctx):
                    item = new_item(s, run, robot_row, version, m, payload)
                    s.flush()
                    if item.state == "NEW":
                        ids.append(item.id)
                run.produced = True
                buffer.add("info", f"produced {run.items_total} items")
                _settle(s, run)
                for item_id in ids:
                    after_commit(s, lambda i=item_id: self.dispatcher.send_item(i))
            return "produced"
        except Exception as exc:
            buffer.add("error", f"produce failed: {_message(exc)}")
            with self.sf() as s, s.begin():
                run = s.get(Run, run_id)
                if run is not None and not run.produced:
                    run.status = "failed"
                    run.error = _message(exc)
                    run.finished_at = utcnow()
            return "failed"
        finally:
            self._write_logs(run_id, None, buffer)

    # ------------------------------------------------------------------ files and logs

    def _read_artefact(self, run, artefact_id: int) -> bytes:
        with self.sf() as s:
            row = s.get(Artefact, artefact_id)
            if row is None or row.department != run.department:
                raise BusinessFailure("no_file", f"file {artefact_id} not found", {})
            return row.data

    def _write_logs(self, run_id, item_id, buffer: _Buffer) -> None:
        if not buffer.lines or run_id is None:
            return
        try:
            with self.sf() as s, s.begin():
                s.add_all(
                    RunLog(run_id=run_id, item_id=item_id, at=at, level=level, message=message)
                    for at, level, message in buffer.lines
                )
        except Exception:
            log.warning("could not keep the log lines of run %s", run_id, exc_info=True)


# ---------------------------------------------------------------------- shared steps


def artefact_row(department, run_id, item_id, name, data, content_type, who) -> Artefact:
    """A file to keep (bytes, with its size and SHA-256), not yet added to a session."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError("an artefact is bytes")
    return Artefact(
        department=department,
        run_id=run_id,
        item_id=item_id,
        name=str(name)[:120],
        content_type=str(content_type)[:100],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=bytes(data),
        created_by=who,
        created_at=utcnow(),
    )


def _keep_in(s, run, item_id, name, data, content_type, buffer: _Buffer) -> int:
    """A file kept in the robot's own transaction (on SQLite a second connection would wait
    for the write lock this transaction holds)."""
    row = artefact_row(run.department, run.id, item_id, name, data, content_type, "robot")
    s.add(row)
    s.flush()
    buffer.files.append(row)
    return row.id


def _keep_again(s, buffer: _Buffer) -> None:
    """The failed item's files, kept by the failure's transaction under their first ids
    (a rolled-back id is free again; if another writer took it meanwhile, a new id)."""
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import make_transient

    for row in buffer.files:
        make_transient(row)
        try:
            with s.begin_nested():
                s.add(row)
                s.flush()
        except IntegrityError:
            make_transient(row)
            row.id = None
            s.add(row)
            s.flush()
    buffer.files.clear()


def new_item(s, run, robot_row, version, m, payload, *, parent_item_id=None) -> WorkItem:
    """A work item of ``run``: NEW, or FAILED/BUSINESS with a review when the payload does
    not fit the manifest's input schema."""
    now = utcnow()
    item = WorkItem(
        run_id=run.id,
        robot_id=robot_row.id,
        version_id=version.id,
        department=robot_row.department,
        parent_item_id=parent_item_id,
        payload={},
        state="NEW",
        attempts=0,
        max_attempts=m.max_retries + 1,
        not_before=now,
        created_at=now,
    )
    try:
        item.payload = _jsonable(manifests.check_payload(m, payload))
    except Exception as exc:
        item.payload = {"refused": _message(exc)[:500]}
        item.state = "FAILED"
        item.failure_kind = "BUSINESS"
        item.failure_code = "bad_payload"
        item.failure_message = _message(exc)
        item.finished_at = now
    s.add(item)
    s.flush()
    if item.state == "FAILED":
        s.add(Review(item_id=item.id, department=item.department, status="open", created_at=now))
        run.items_failed += 1
    run.items_total += 1
    return item


def retry(config, s, item: WorkItem, code: str, message: str, now, dispatcher) -> None:
    """An APPLICATION failure of a RESERVED item: NEW after back-off, or FAILED."""
    item.failure_kind = "APPLICATION"
    item.failure_code = code[:40]
    item.failure_message = message[:MESSAGE_LIMIT]
    item.lease_token = None
    item.reserved_by = None
    if item.attempts < item.max_attempts:
        delay = backoff_s(config, item.attempts)
        item.state = "NEW"
        item.not_before = now + timedelta(seconds=delay)
        item_id = item.id
        after_commit(s, lambda: dispatcher.send_item(item_id, delay))
    else:
        item.state = "FAILED"
        item.finished_at = now
        _count(s, item.run_id, failed=1)


def _count(s, run_id: int, *, done: int = 0, failed: int = 0) -> None:
    s.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(items_done=Run.items_done + done, items_failed=Run.items_failed + failed)
    )
    run = s.get(Run, run_id)
    s.refresh(run)
    _settle(s, run)


def _settle(s, run: Run) -> None:
    """A produced run whose items are all DONE or FAILED is finished."""
    if not run.produced:
        return
    if run.items_done + run.items_failed < run.items_total:
        if run.status != "running":
            run.status, run.finished_at = "running", None
        return
    if run.items_failed == 0:
        run.status = "done"
    elif run.items_done == 0:
        run.status = "failed"
    else:
        run.status = "partial"
    run.finished_at = utcnow()


def _chain_run(s, record, version, source_run) -> Run:
    key = f"chain:{source_run.id}"
    run = s.scalar(select(Run).where(Run.robot_id == record.id, Run.run_key == key))
    if run is None:
        run = Run(
            robot_id=record.id,
            version_id=version.id,
            department=record.department,
            trigger="chain",
            requested_by=f"run:{source_run.id}",
            params={},
            run_key=key,
            status="running",
            produced=True,
            created_at=utcnow(),
            started_at=utcnow(),
        )
        s.add(run)
        s.flush()
    return run


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON (Decimals and dates as strings): what a JSON column keeps."""
    return json.loads(json.dumps(value, default=str, allow_nan=False))


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:MESSAGE_LIMIT]


# ---------------------------------------------------------------------- worker processes

_runtime_lock = threading.Lock()
_executors: dict[str, Executor] = {}


def task_handlers(config: Config, build_runtime=None):
    """The functions huey runs in a worker process: each process builds its own runtime (its
    own database engine, through ``build_runtime(role)``: the composition root, handed down
    by ``finedge rpa worker``) on first use, after the consumer forked it. Without a builder
    (a process that only sends) the functions refuse to run."""

    def executor() -> Executor:
        if build_runtime is None:
            raise RuntimeError("this process sends robot work; it does not run it")
        key = str(os.getpid())
        with _runtime_lock:
            found = _executors.get(key)
            if found is None:
                runtime = build_runtime("worker")
                found = Executor(
                    runtime.session_factory,
                    config,
                    dispatcher=dispatcher_for(config),
                    kill_on_timeout=True,
                )
                _executors[key] = found
            return found

    def process_item(item_id: int) -> str:
        return executor().process_item(int(item_id))

    def start_run(run_id: int) -> str:
        return executor().start_run(int(run_id))

    return process_item, start_run
