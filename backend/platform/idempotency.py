"""Idempotency keys for every state-changing request.

Flow (driven by the HTTP edge, usable by any other inbound channel):
1. ``reserve`` inserts (caller, key) with the request fingerprint in its own short transaction.
   The unique constraint makes concurrent duplicates lose: they get 409 ``idempotency_in_progress``.
   A finished key with the same fingerprint returns the stored response (replay); with another
   fingerprint it is 409 ``idempotency_key_reused`` and nothing runs.
2. The business work runs in the request's transaction; ``complete`` writes the response into
   that same transaction, so the change and its stored response commit together.
3. If the work fails with a server error, ``release`` deletes the reservation so a retry can run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from backend.platform.clock import utcnow
from backend.platform.db import Base, BigIntPK
from backend.platform.errors import Conflict

KEY_TTL = timedelta(hours=24)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))  # the caller (user id) or a channel name
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12))  # in_progress | done
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes
    content_type: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def reserve(
    factory: sessionmaker[Session], scope: str, key: str, fp: str, now: datetime | None = None
) -> tuple[int | None, StoredResponse | None]:
    """Returns (reservation id, None) to proceed, or (None, stored response) to replay."""
    now = now or utcnow()
    if not key or len(key) > 200:
        raise Conflict(
            "Idempotency-Key must be 1 to 200 characters", code="invalid_idempotency_key"
        )
    with factory() as session:
        row = IdempotencyKey(
            scope=scope, key=key, fingerprint=fp, state="in_progress", created_at=now
        )
        session.add(row)
        try:
            session.commit()
            return row.id, None
        except IntegrityError:
            session.rollback()
        existing = session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
        if existing is None:  # released between our insert and select: let the client retry
            raise Conflict(
                "request with this Idempotency-Key is in progress", code="idempotency_in_progress"
            )
        if existing.fingerprint != fp:
            raise Conflict(
                "Idempotency-Key was already used with a different request",
                code="idempotency_key_reused",
            )
        if existing.state != "done":
            raise Conflict(
                "request with this Idempotency-Key is in progress", code="idempotency_in_progress"
            )
        return None, StoredResponse(
            existing.status_code, existing.response_body or b"", existing.content_type or ""
        )


def complete(
    session: Session, reservation_id: int, status_code: int, body: bytes, content_type: str
) -> None:
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == reservation_id)
        .values(
            state="done", status_code=status_code, response_body=body, content_type=content_type
        )
    )


def release(factory: sessionmaker[Session], reservation_id: int) -> None:
    with factory() as session:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == reservation_id))
        session.commit()


def purge_expired(session: Session, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - KEY_TTL
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return result.rowcount or 0
