"""The branch change journal: what a process that mirrors branch state elsewhere (the device hub
publishing registries, desired configs, counter maps and queue syncs to the edges) reads to
learn *which* branches changed, instead of re-reading every branch.

One row per (branch, topic) in ``branch_changes``: a per-row sequence bumped by ``touch`` in
the same transaction as the change it announces (so a rolled-back change announces nothing),
and the writer's time of the bump. Topics name what changed, for example ``devices`` (a
device's registry entry or desired configuration) and ``hall`` (counters, timezone, the queue);
the areas that write choose them and the reader asks for them.

A reader keeps, per (branch, topic), the sequence it last acted on and asks each pass only for
the rows bumped since a moment shortly before its previous pass (``changed_since``: one
indexed query whose answer grows with the changes, not with the branches); a row whose
sequence differs from the one it kept is a branch to re-read. A bump made in a transaction
that commits later than that moment minus the grace (a long transaction, a skewed clock) is
caught by ``all_marks`` (the whole table, one row per branch and topic: still one query), which
a reader runs now and then.

    touch(session, "BR001", "hall")               # in the writer's transaction
    changed_since(session, since) -> [Mark(...)]  # the reader, every pass
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Index, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.platform.clock import utcnow
from backend.platform.db import Base

TOPICS = ("devices", "hall")


class BranchChange(Base):
    __tablename__ = "branch_changes"
    __table_args__ = (Index("ix_branch_changes_changed_at", "changed_at"),)

    branch_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    topic: Mapped[str] = mapped_column(String(20), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime]


@dataclass(frozen=True)
class Mark:
    branch_id: str
    topic: str
    seq: int


def touch(session: Session, branch_id: str, topic: str) -> None:
    """Announce that ``topic`` of ``branch_id`` changed in this transaction (an upsert: one
    statement; the row stays locked until the transaction ends, as the change itself).

    The time of the bump is the real clock's, never a business ``now`` a caller was given
    (a test's or a replay's time in the past would hide the change from ``changed_since``)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown change topic {topic!r}; one of {', '.join(TOPICS)}")
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"branch change journal on {dialect}")
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    at = utcnow()
    table = BranchChange.__table__
    stmt = insert(table).values(branch_id=branch_id, topic=topic, seq=1, changed_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.branch_id, table.c.topic],
        set_={"seq": table.c.seq + 1, "changed_at": at},
    )
    session.execute(stmt)


def changed_since(
    session: Session, since: datetime, topics: Iterable[str] | None = None
) -> list[Mark]:
    """The rows bumped at or after ``since`` (by the writers' clocks)."""
    stmt = select(BranchChange.branch_id, BranchChange.topic, BranchChange.seq).where(
        BranchChange.changed_at >= since
    )
    if topics is not None:
        stmt = stmt.where(BranchChange.topic.in_(list(topics)))
    return [Mark(*row) for row in session.execute(stmt)]


def all_marks(session: Session, topics: Iterable[str] | None = None) -> list[Mark]:
    """Every row (one per branch and topic ever touched): the reader's repair."""
    stmt = select(BranchChange.branch_id, BranchChange.topic, BranchChange.seq)
    if topics is not None:
        stmt = stmt.where(BranchChange.topic.in_(list(topics)))
    return [Mark(*row) for row in session.execute(stmt)]
