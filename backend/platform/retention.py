"""Retention: delete the rows of a high-volume table older than a horizon, in bounded batches.

``prune(session, table, column, horizon)`` deletes the rows whose ``column`` (a timestamp,
indexed) is older than ``now - horizon``, at most ``batch`` rows per statement, and *commits
the session after each batch*: every statement holds its row locks for one batch only, so the
writers of the table (the ingest inserting 2,000 messages a second) never wait long, and a
run stopped half way keeps what it deleted. Each batch is logged (table, rows, total so far).

    DELETE FROM t WHERE id IN (SELECT id FROM t WHERE col < :cutoff [AND ...] LIMIT :batch)

The sub-select walks the timestamp's index from its oldest end; the rows deleted are the
oldest first. ``max_batches`` bounds one run (the next run goes on where it stopped).

What is pruned, and by which job (docs/CONTRACT.md, configuration):

- ``device_messages`` after FINEDGE_DEVICE_MESSAGES_DAYS (``devices.prune_messages``);
- finished ``device_commands`` after FINEDGE_DEVICE_COMMANDS_DAYS (the same job);
- ``job_runs`` after FINEDGE_JOB_RUNS_DAYS (``prune_job_runs``).

Never the audit log, the ledger, tickets or anything else a bank must keep.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.orm import Session

from backend.platform.clock import utcnow

log = logging.getLogger(__name__)

DEFAULT_BATCH = 10_000


@dataclass(frozen=True)
class Pruned:
    table: str
    cutoff: datetime
    deleted: int
    batches: int
    complete: bool  # False: max_batches stopped it with old rows left
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "cutoff": self.cutoff.isoformat(),
            "deleted": self.deleted,
            "batches": self.batches,
            "complete": self.complete,
            "seconds": round(self.seconds, 3),
        }


def check_horizon(horizon: timedelta) -> timedelta:
    if not isinstance(horizon, timedelta) or horizon <= timedelta(0):
        raise ValueError(f"a retention horizon must be a positive duration, not {horizon!r}")
    return horizon


def prune(
    session: Session,
    table: Table | Any,
    column: str,
    horizon: timedelta,
    *,
    batch: int = DEFAULT_BATCH,
    now: datetime | None = None,
    where: ColumnElement[bool] | None = None,
    max_batches: int | None = None,
) -> Pruned:
    """Delete ``table``'s rows with ``column`` before ``now - horizon`` (and ``where``), in
    batches of at most ``batch`` rows, committing ``session`` after each (see the module)."""
    check_horizon(horizon)
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive number of rows, not {batch!r}")
    table = getattr(table, "__table__", table)
    (key,) = table.primary_key.columns
    cutoff = (now or utcnow()) - horizon
    old = table.c[column] < cutoff
    if where is not None:
        old = old & where
    started = time.monotonic()
    deleted = batches = 0
    complete = True
    while True:
        if max_batches is not None and batches >= max_batches:
            complete = False
            break
        chosen = select(key).where(old).order_by(table.c[column]).limit(batch)
        count = session.execute(delete(table).where(key.in_(chosen.scalar_subquery()))).rowcount
        session.commit()
        batches += 1
        deleted += int(count or 0)
        if count:
            log.info("retention: %s: %d rows deleted (%d so far)", table.name, count, deleted)
        if not count or count < batch:
            break
    result = Pruned(table.name, cutoff, deleted, batches, complete, time.monotonic() - started)
    log.log(
        logging.INFO if deleted else logging.DEBUG,  # nothing to prune: not worth a line
        "retention: %s: %d rows before %s deleted in %d batches (%.1f s)%s",
        table.name,
        deleted,
        cutoff.isoformat(),
        batches,
        result.seconds,
        "" if complete else "; more left for the next run",
    )
    return result
