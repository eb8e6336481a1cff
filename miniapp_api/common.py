"""Request lifecycle shared by every blueprint.

- a request id (``X-Request-Id``, generated when absent), echoed back and put in audit records;
- one database session per request (``db()``), committed when the response is a success and
  rolled back otherwise, so a failed request changes nothing; GET, HEAD and OPTIONS requests
  (and the token check of every request) are read-only units of work: on SQLite they begin
  DEFERRED and never wait for the write lock (backend.platform.db.read_only);
- Bearer authentication for every /api/v1 endpoint except the public ones (``current_actor()``):
  the token is checked against the user's row on every request (one primary-key read, in a
  transaction of its own): a disabled or demoted user's tokens stop working at once;
- Idempotency-Key handling for every state-changing request (see backend/platform/idempotency).
  A view marked ``@key_in_request_transaction`` (it does all its work in ``db()``) has its key
  inserted at the start of the request's own transaction (``idempotency.reserve_in``): one
  write transaction per request instead of two; the others reserve the key in a short
  transaction of its own first (a view that writes through other sessions must not hold
  SQLite's write lock in ``db()`` meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import marshmallow as ma
from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.identity.sessions import verify_token
from backend.platform import idempotency
from backend.platform.clock import isoformat
from backend.platform.context import Actor, new_request_id, request_id_var
from backend.platform.db import read_only, reset_read_only, set_read_only
from backend.platform.errors import NotAuthenticated, ValidationFailed
from backend.platform.money import format_money, parse_money
from miniapp_api.errors import error_response

log = logging.getLogger("finedge.http")

API_PREFIX = "/api/v1"
PUBLIC_PATHS = {
    f"{API_PREFIX}/auth/token",
    f"{API_PREFIX}/auth/wx-login",
    f"{API_PREFIX}/openapi.json",
    f"{API_PREFIX}/health",
    f"{API_PREFIX}/health/live",
    # a clearing house's signed requests (miniapp_api/clearing.py checks the HMAC signature)
    f"{API_PREFIX}/clearing/instructions",
    f"{API_PREFIX}/clearing/reconciliation-files",
}
PUBLIC_PREFIXES = (f"{API_PREFIX}/docs",)
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Logins answer a token: nothing to replay, nothing to store (an Idempotency-Key is ignored).
NO_IDEMPOTENCY = {
    f"{API_PREFIX}/auth/token",
    f"{API_PREFIX}/auth/wx-login",
    f"{API_PREFIX}/auth/refresh",
}
READ_ONLY_METHODS = {"GET", "HEAD", "OPTIONS"}  # their transactions take no write lock


def db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["finedge"].session_factory()
    return g.db


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        raise NotAuthenticated("authentication required", code="unauthenticated")
    return actor


def client_address() -> str:
    return request.remote_addr or "unknown"


def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    if not header:
        raise NotAuthenticated("Authorization: Bearer <token> is required", code="unauthenticated")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated(
            "Authorization header must be 'Bearer <token>'", code="invalid_token"
        )
    ext = current_app.extensions["finedge"]
    # Its own short transaction: the request's session stays unopened, so a view that works
    # in other sessions (a job run, an idempotency record) never waits on SQLite's write lock.
    with read_only(), ext.session_factory() as session:
        g.actor = verify_token(session, token.strip(), ext.config.secret_key)


F = TypeVar("F", bound=Callable)
IN_REQUEST_TRANSACTION = "_finedge_key_in_request_transaction"
KEY_SAVEPOINT = "finedge_idempotency_key"


def key_in_request_transaction(view: F) -> F:
    """Mark a view method whose work is all in the request's session (``db()``, no other
    session that writes): its Idempotency-Key row is written in that same transaction."""
    setattr(view, IN_REQUEST_TRANSACTION, True)
    return view


def _key_in_request_transaction() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        view = getattr(view_class, request.method.lower(), None)
    return bool(getattr(view, IN_REQUEST_TRANSACTION, False))


def _idempotency_scope() -> str:
    actor = g.get("actor")
    return f"user:{actor.user_id}" if actor else f"anon:{client_address()}"


def _before_request():
    g.request_id = request.headers.get("X-Request-Id", "")[:40] or new_request_id()
    g.request_id_token = request_id_var.set(g.request_id)
    if request.method in READ_ONLY_METHODS:  # reads never queue behind SQLite's writers
        g.read_only_token = set_read_only(True)
    path = request.path
    if not path.startswith(API_PREFIX):
        return None
    if path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES):
        _authenticate()
    key = request.headers.get("Idempotency-Key")
    if key is not None and request.method in STATE_CHANGING and path not in NO_IDEMPOTENCY:
        ext = current_app.extensions["finedge"]
        fp = idempotency.fingerprint(
            request.method, request.full_path.rstrip("?"), request.get_data(), ext.config.secret_key
        )
        if _key_in_request_transaction():
            reservation, stored = idempotency.reserve_in(db(), _idempotency_scope(), key, fp)
            if reservation is not None:
                g.idempotency_in_request = True
                # a refused request (4xx) rolls back to here: its answer is stored on the key.
                # A plain SAVEPOINT (the ORM's begin_nested costs 5 % of a redemption)
                db().connection().exec_driver_sql(f"SAVEPOINT {KEY_SAVEPOINT}")
                g.idempotency_savepoint = True
        else:
            reservation, stored = idempotency.reserve(
                ext.session_factory, _idempotency_scope(), key, fp
            )
        if stored is not None:
            response = Response(
                stored.body, status=stored.status_code, content_type=stored.content_type
            )
            response.headers["Idempotent-Replayed"] = "true"
            return response
        g.idempotency_reservation = reservation
    return None


def _rollback_to_key(session: Session) -> bool:
    """Undo the work of a refused request but keep its key row: back to the SAVEPOINT taken
    after the key's insert, the ORM's objects of the work dropped unflushed. False when the
    transaction is gone (the view rolled it back)."""
    session.expunge_all()
    try:
        session.connection().exec_driver_sql(f"ROLLBACK TO SAVEPOINT {KEY_SAVEPOINT}")
    except Exception:  # no such savepoint, or a transaction the ORM has given up
        return False
    return True


def _after_request(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id", "")
    session: Session | None = g.pop("db", None)
    reservation = g.pop("idempotency_reservation", None)
    # the key row is in ``session``'s transaction: rolled back with it, nothing to release
    in_request = g.pop("idempotency_in_request", False)
    savepoint = g.pop("idempotency_savepoint", False)
    ext = current_app.extensions["finedge"]

    def release() -> None:
        if reservation is not None and not in_request:
            idempotency.release(ext.session_factory, reservation)

    try:
        if response.status_code >= 500:
            if session is not None:
                session.rollback()
            release()
            return response
        if session is None and reservation is not None:
            session = ext.session_factory()
        if session is not None:
            # a refused request changes nothing but its stored answer
            refused = response.status_code >= 400
            if refused and not (savepoint and _rollback_to_key(session)):
                session.rollback()
            if reservation is not None:
                stored = idempotency.complete(
                    session,
                    reservation,
                    response.status_code,
                    response.get_data(),
                    response.content_type,
                )
                if not stored and in_request:  # the work's transaction lost the key: undo
                    session.rollback()
                    log.warning("idempotency key lost in request %s", g.get("request_id"))
                    return error_response(
                        409, "conflict", "the change conflicts with another change; retry"
                    )
            session.commit()
    except IntegrityError:
        log.warning("conflict on commit in request %s", g.get("request_id"))
        if session is not None:
            session.rollback()
        release()
        return error_response(409, "conflict", "the change conflicts with another change; retry")
    except Exception:
        log.exception("commit failed in request %s", g.get("request_id"))
        if session is not None:
            session.rollback()
        release()
        return error_response(
            500, "internal_error", "internal error", {"request_id": g.get("request_id")}
        )
    finally:
        if session is not None:
            session.close()
    return response


def _teardown(_exc):
    session = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id_var.reset(token)
    read_only_token = g.pop("read_only_token", None)
    if read_only_token is not None:
        reset_read_only(read_only_token)


def install_request_lifecycle(app: Flask) -> None:
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown)


# --- schema helpers shared by every blueprint -------------------------------------------


MONEY_PATTERN = r"^-?[0-9]+\.[0-9]{2}$"


class Money(ma.fields.Field):
    """Decimal CNY as a string with two places; floats and three decimals are refused.
    Documented as ``{"type": "string", "format": "decimal", "pattern": MONEY_PATTERN}``."""

    DOC = {"type": "string", "format": "decimal", "pattern": MONEY_PATTERN, "example": "1250000.00"}

    def __init__(self, *args, **kwargs):
        kwargs["metadata"] = {**self.DOC, **kwargs.get("metadata", {})}
        super().__init__(*args, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else format_money(Decimal(value))

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_money(value, field=attr or "amount")
        except ValidationFailed as exc:
            raise ma.ValidationError(exc.message) from None


class Timestamp(ma.fields.DateTime):
    """A UTC instant in RFC 3339 with ``Z`` (``backend.platform.clock.isoformat``), the one
    rendering of time in responses and live pushes (``date-time`` in the spec); an already
    rendered ISO string is rendered again the same way. Response fields only: request bodies
    take ``AwareDateTime``."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        return isoformat(value)

    def _deserialize(self, value, attr, data, **kwargs):
        raise ma.ValidationError("read-only")


class StrictSchema(ma.Schema):
    """Unknown fields are refused (marshmallow's RAISE), so typos never pass silently."""

    class Meta:
        unknown = ma.RAISE


class PageArgs(StrictSchema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None)


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "next_cursor": ma.fields.String(allow_none=True),
        },
    )
