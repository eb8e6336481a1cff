"""Append-only audit log: one record per state change that matters to a bank.

``record(session, actor, action, object_type, object_id, before, after)`` adds the record to the
caller's transaction, so the change and its audit record commit or roll back together.
Updates and deletes of audit rows are refused at the ORM level.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, event, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.platform.clock import utcnow
from backend.platform.context import Actor, request_id_var
from backend.platform.db import Base, BigIntPK
from backend.platform.pagination import Page, paginate


class AuditRecord(Base):
    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_user_id: Mapped[int | None] = mapped_column(index=True)
    actor_username: Mapped[str] = mapped_column(String(80))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(40), index=True)
    object_id: Mapped[str] = mapped_column(String(80), index=True)
    before: Mapped[dict | None]
    after: Mapped[dict | None]
    request_id: Mapped[str | None] = mapped_column(String(40))


@event.listens_for(AuditRecord, "before_update")
@event.listens_for(AuditRecord, "before_delete")
def _append_only(*_args):
    raise RuntimeError("audit records are append-only")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _row(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    before: dict | None,
    after: dict | None,
) -> dict[str, Any]:
    return {
        "at": utcnow(),
        "actor_user_id": actor.user_id,
        "actor_username": actor.username,
        "actor_role": actor.role,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "before": _jsonable(before),
        "after": _jsonable(after),
        "request_id": request_id_var.get(),
    }


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditRecord:
    entry = AuditRecord(**_row(actor, action, object_type, object_id, before, after))
    session.add(entry)
    return entry


_INSERT = insert(AuditRecord.__table__)


def record_now(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """The same record as ``record``, written at once with one Core INSERT in the session's
    transaction: for hot paths (the ledger) where an ORM object and its flush cost too much."""
    session.connection().execute(
        _INSERT, _row(actor, action, object_type, object_id, before, after)
    )


def record_all(
    session: Session,
    actor: Actor,
    entries: list[tuple[str, str, object, dict | None, dict | None]],
) -> None:
    """Several records (``(action, object_type, object_id, before, after)`` each) written at
    once in one Core INSERT (executemany): for hot paths that audit every object they touch."""
    if entries:
        session.connection().execute(_INSERT, [_row(actor, *entry) for entry in entries])


def query_audit(
    session: Session,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    actor_user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Records, newest first, by object, action, actor and time (``since`` <= at < ``until``)."""
    stmt = select(AuditRecord)
    if since is not None:
        stmt = stmt.where(AuditRecord.at >= since)
    if until is not None:
        stmt = stmt.where(AuditRecord.at < until)
    if object_type:
        stmt = stmt.where(AuditRecord.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditRecord.object_id == object_id)
    if action:
        stmt = stmt.where(AuditRecord.action == action)
    if actor_user_id is not None:
        stmt = stmt.where(AuditRecord.actor_user_id == actor_user_id)
    return paginate(session, stmt, AuditRecord.id, limit=limit, cursor=cursor, descending=True)
