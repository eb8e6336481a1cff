"""Idempotency keys for every state-changing request.

Flow (driven by the HTTP edge, usable by any other inbound channel):
1. ``reserve`` inserts (caller, key) with the request fingerprint in its own short transaction.
   The unique constraint makes concurrent duplicates lose: they get 409 ``idempotency_in_progress``.
   A finished key with the same fingerprint returns the stored response (replay); with another
   fingerprint it is 409 ``idempotency_key_reused`` and nothing runs.
2. The business work runs in the request's transaction; ``complete`` writes the response into
   that same transaction, so the change and its stored response commit together.
3. If the work fails with a server error, ``release`` deletes the reservation so a retry can run.

Or, for work done entirely in one session (issue 13 item 19: one write transaction per request
instead of two), ``reserve_in`` inserts the key as the first statement of the work's own
transaction and ``complete`` finishes it there. A concurrent duplicate then waits for the first
(SQLite's write lock; PostgreSQL's unique index on ``(scope, key)``) and, once the first
committed, finds the finished key and replays it (or gets the 409 for another body); if the
first rolled back, its key went with it and the duplicate runs. A failure needs no ``release``:
the rollback removes the key with the work. The HTTP edge keeps a refused request's (4xx)
answer by rolling back to a SAVEPOINT taken just after the key's insert (miniapp_api/common.py,
``key_in_request_transaction``; docs/web.md).

Secrets are never stored (issue 13): a response that carries one (a device's MQTT password and
HMAC secret, shown once; anything with a field named like ``*secret``, ``*password``,
``*token``: ``carries_secret``) is completed with ``replayable=False``: only its status is kept,
and a replay is 409 ``idempotency_result_shown_once`` (the work is not done twice, the secret is
not shown twice; a caller that lost it rotates it). Login endpoints take no key at all (the HTTP
edge skips them). The fingerprint is an HMAC under the app's secret key, so a stored fingerprint
of a body with a password in it cannot be checked against guessed passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from backend.platform.clock import utcnow
from backend.platform.db import Base, BigIntPK, read_only
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
    # False: the response carried a secret; its body was not stored and it is never replayed
    replayable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes
    content_type: str


SECRET_FIELDS = frozenset(
    {"secret", "password", "token", "otp", "one_time_code", "private_key", "api_key"}
)
SECRET_SUFFIXES = ("_secret", "_password", "_token", "_private_key", "_api_key")


def is_secret_field(name: str) -> bool:
    name = name.lower()
    return name in SECRET_FIELDS or name.endswith(SECRET_SUFFIXES)


def carries_secret(body: bytes, content_type: str | None) -> bool:
    """True when a JSON response names a secret field anywhere (any depth), or is not JSON
    we can read (then we cannot tell, so it is not stored either)."""
    if not body:
        return False
    if "json" not in (content_type or ""):
        return True
    try:
        document = json.loads(body)
    except ValueError:
        return True
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if any(isinstance(key, str) and is_secret_field(key) for key in node):
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def fingerprint(method: str, path: str, body: bytes, key: str = "") -> str:
    digest = hmac.new(key.encode(), digestmod=hashlib.sha256)
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _check_length(key: str) -> None:
    if not key or len(key) > 200:
        raise Conflict(
            "Idempotency-Key must be 1 to 200 characters", code="invalid_idempotency_key"
        )


def _answer_for(existing: IdempotencyKey | None, fp: str) -> StoredResponse:
    """The answer to a request whose key is taken: a replay, or 409 with the reason."""
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
    if not existing.replayable:
        raise Conflict(
            "this request was done and its response carried a secret shown once; it is not "
            "stored and cannot be replayed (rotate the secret if it was lost)",
            code="idempotency_result_shown_once",
            details={"status_code": existing.status_code},
        )
    return StoredResponse(
        existing.status_code, existing.response_body or b"", existing.content_type or ""
    )


def _find(session: Session, scope: str, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    )


_INSERT_KEY = (
    insert(IdempotencyKey.__table__)
    .values(state="in_progress", replayable=True)
    .returning(IdempotencyKey.__table__.c.id)
)


def reserve(
    factory: sessionmaker[Session], scope: str, key: str, fp: str, now: datetime | None = None
) -> tuple[int | None, StoredResponse | None]:
    """Returns (reservation id, None) to proceed, or (None, stored response) to replay."""
    with factory() as session:
        reservation, stored = reserve_in(session, scope, key, fp, now)
        if reservation is not None:
            session.commit()
        return reservation, stored


def reserve_in(
    session: Session, scope: str, key: str, fp: str, now: datetime | None = None
) -> tuple[int | None, StoredResponse | None]:
    """``reserve`` inside ``session``'s own (still empty) transaction, the one the work then
    runs in: one write transaction per request instead of two.  A concurrent duplicate waits
    for the first (SQLite's write lock, PostgreSQL's unique index) and then finds its answer;
    a failed request rolls its key back with its work.  On a taken key the session's
    transaction is rolled back (nothing else was in it)."""
    now = now or utcnow()
    _check_length(key)
    # one Core INSERT ... RETURNING: no ORM object to flush, nothing else in the transaction
    try:
        reservation = session.connection().scalar(
            _INSERT_KEY, {"scope": scope, "key": key, "fingerprint": fp, "created_at": now}
        )
        return reservation, None
    except IntegrityError:
        session.rollback()
    with read_only():
        found = _find(session, scope, key)
        answer = _answer_for(found, fp)  # may raise Conflict
    session.rollback()  # end the read transaction
    return None, answer


def complete(
    session: Session,
    reservation_id: int,
    status_code: int,
    body: bytes,
    content_type: str,
    *,
    replayable: bool | None = None,
) -> bool:
    """Store the response for replays; ``replayable`` defaults to: it carries no secret.
    Returns False when the reservation is no longer there (its transaction was rolled back)."""
    if replayable is None:
        replayable = not carries_secret(body, content_type)
    result = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == reservation_id)
        .values(
            state="done",
            status_code=status_code,
            response_body=body if replayable else None,
            content_type=content_type if replayable else None,
            replayable=replayable,
        )
        .execution_options(synchronize_session=False)  # no ORM object of it is read again
    )
    return bool(result.rowcount)


def release(factory: sessionmaker[Session], reservation_id: int) -> None:
    with factory() as session:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == reservation_id))
        session.commit()


def purge_expired(session: Session, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - KEY_TTL
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return result.rowcount or 0
