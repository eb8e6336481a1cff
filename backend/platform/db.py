"""Database: one declarative Base for every area, engines for SQLite and PostgreSQL, sessions.

No module-level engine: ``make_engine(url)`` is called by the composition root (create_app,
the CLI, tests).  Schema changes go through Alembic (backend/platform/migrations), never
``create_all`` on the production path.

Column types shared by every area:
- ``UTCDateTime``: timezone-aware UTC in and out, also on SQLite which stores naive values.
- ``MoneyType``: Decimal fen, exact: NUMERIC(20, 2) on PostgreSQL, INTEGER fen on SQLite.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import JSON, BigInteger, DateTime, Engine, MetaData, Numeric, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from backend.platform.money import CENT
from backend.platform.wiring import INFO_KEY as WIRING_INFO_KEY

log = logging.getLogger("finedge.db")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT primary keys on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigIntPK = BigInteger().with_variant(sqlite.INTEGER(), "sqlite")
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class MoneyType(TypeDecorator):
    """Money, exact on every database: NUMERIC(20, 2) on PostgreSQL, INTEGER fen on SQLite.

    SQLite has no decimal type: a NUMERIC column keeps a decimal as REAL (a float), and SUM()
    adds floats, so large balances lost fen.  In integer fen, storage and SUM() are exact up
    to 2**63 fen; values are Decimal in and out either way.  A float is refused (TypeError),
    so is a value beyond 2**63 - 1 fen on either database (ValueError; the ledger bounds its
    balances well below, ``backend.ledger.rules.MAX_TOTAL``).  Arithmetic in SQL keeps the unit:
    ``col + amount`` binds ``amount`` as money, ``col * 2`` binds ``2`` as a plain number.
    """

    impl = Numeric(20, 2, asdecimal=True)
    cache_ok = True
    MAX_FEN = 2**63 - 1  # SQLite's INTEGER; NUMERIC(20, 2) holds more

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sqlite.INTEGER())
        return dialect.type_descriptor(Numeric(20, 2, asdecimal=True))

    class comparator_factory(TypeDecorator.Comparator):
        def _adapt_expression(self, op, other_comparator):
            # money scaled by a number is still money (``amount * 2`` is fen on SQLite)
            if op in _SCALING_OPERATORS and not isinstance(other_comparator.type, MoneyType):
                return op, self.type
            return super()._adapt_expression(op, other_comparator)

    def coerce_compared_value(self, op, value):
        if op in _SCALING_OPERATORS:
            return Numeric(asdecimal=True)
        return self

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float | bool):
            raise TypeError(f"money must be Decimal, not {type(value).__name__}")
        value = Decimal(value).quantize(CENT)
        fen = int(value.scaleb(2))
        if abs(fen) > self.MAX_FEN:
            raise ValueError(f"money {value} is beyond the range of a money column")
        return fen if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, int):
                return Decimal(value).scaleb(-2).quantize(CENT)
            # an aggregate such as AVG() comes back as REAL: still fen
            return (Decimal(str(value)) / 100).quantize(CENT)
        return Decimal(str(value)).quantize(CENT)


_SCALING_OPERATORS = frozenset(
    {operators.mul, operators.truediv, operators.floordiv, operators.mod}
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), Decimal: MoneyType(), dict: JSONType}


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# Read-only units of work (GET and HEAD requests, authentication, reports) begin DEFERRED on
# SQLite: in WAL mode they read a snapshot and never wait for, nor hold up, a writer.
_READ_ONLY: ContextVar[bool] = ContextVar("finedge_db_read_only", default=False)
READ_ONLY_OPTION = "finedge_read_only"  # execution option with the same meaning


@contextmanager
def read_only() -> Iterator[None]:
    """Transactions begun inside are read-only: on SQLite they take no write lock (BEGIN
    DEFERRED).  A write inside still works while no other writer committed since the first read
    (else SQLite says "database is locked"); it is logged, so such code is found and fixed."""
    token = _READ_ONLY.set(True)
    try:
        yield
    finally:
        _READ_ONLY.reset(token)


def set_read_only(value: bool) -> Token:
    """For a framework's request hooks: ``token = set_read_only(True)`` ... ``reset_read_only``."""
    return _READ_ONLY.set(value)


def reset_read_only(token: Token) -> None:
    _READ_ONLY.reset(token)


def is_read_only() -> bool:
    return _READ_ONLY.get()


class _WriterQueue:
    """Writers of one engine in this process wait here, first come first served, before
    BEGIN IMMEDIATE.  SQLite's busy handler polls with growing sleeps, so a writer that lost a
    few rounds waited up to a second while others went ahead (the p99 tail); a lock queues them
    in order and SQLite's busy timeout is left to waits on other processes.  A thread that
    already holds the queue (a second session inside its own write transaction) does not wait
    for itself; a wait longer than the busy timeout falls through to SQLite's own handling."""

    def __init__(self, timeout_s: float) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._timeout_s = timeout_s

    def enter(self, record_info: dict) -> None:
        me = threading.get_ident()
        if self._owner == me:
            return
        if self._lock.acquire(timeout=self._timeout_s):
            self._owner = me
            record_info["finedge_writer_queue"] = self

    def leave(self, record_info: dict) -> None:
        if record_info.pop("finedge_writer_queue", None) is self:
            self._owner = None
            self._lock.release()
            # hand the GIL over now: the next writer wakes at once instead of after the
            # interpreter's switch interval (5 ms), during which the lock would sit idle
            time.sleep(0)


def _install_sqlite_transactions(engine: Engine) -> None:
    """SQLite upgrades a read transaction to a write lock lazily and then fails with "database
    is locked" instead of waiting. Writers therefore begin IMMEDIATE, taking the write lock up
    front, so they queue (in this process on ``_WriterQueue``, then on busy_timeout): SQLite's
    equivalent of row locks. Read-only work (``read_only()``) begins DEFERRED and so never
    queues behind a writer."""
    queue = _WriterQueue(timeout_s=30)

    def begin(conn):
        if _READ_ONLY.get() or conn.get_execution_options().get(READ_ONLY_OPTION):
            conn.info["finedge_deferred"] = True
            conn.exec_driver_sql("BEGIN DEFERRED")
            return
        conn.info.pop("finedge_deferred", None)
        queue.enter(conn.connection.info)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            queue.leave(conn.connection.info)
            raise

    # released once the transaction really ended (after COMMIT or ROLLBACK, also the pool's
    # rollback of a connection handed back), so the next writer finds the lock free
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def leave(dbapi_connection):
        try:
            info = dbapi_connection.info
        except (AttributeError, NotImplementedError):  # the dialect's first-connect probe
            return
        queue.leave(info)

    def do_commit(dbapi_connection):
        try:
            commit(dbapi_connection)
        finally:
            leave(dbapi_connection)

    def do_rollback(dbapi_connection):
        try:
            rollback(dbapi_connection)
        finally:
            leave(dbapi_connection)

    def pool_release(_dbapi_connection, record, *_args):
        if record is not None:
            queue.leave(record.info)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback
    event.listen(engine, "begin", begin)
    event.listen(engine.pool, "close", pool_release)
    event.listen(engine.pool, "invalidate", pool_release)
    event.listen(engine, "before_cursor_execute", _sqlite_write_in_read_only)


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _sqlite_write_in_read_only(conn, _cursor, statement, _params, _context, _executemany):
    if conn.info.get("finedge_deferred") and statement.lstrip()[:7].upper().startswith(_WRITES):
        conn.info.pop("finedge_deferred")  # once per transaction
        log.warning("write in a read-only transaction: %s", statement.split("\n", 1)[0][:120])


SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_sqlite_file(url: str) -> None:
    """A SQLite database file is private: its directories, where created here, are 0700 and
    the file and its -wal/-shm/-journal 0600 (created so before SQLite opens it, which gives
    its side files the database's mode; an existing file is tightened)."""
    if not url.startswith("sqlite:///") or ":memory:" in url or "uri=true" in url:
        return
    path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    if not path.name:
        return
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    try:
        for directory in reversed(missing):
            directory.mkdir(mode=0o700, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError:
        return  # not a place for a database: the first connection says so (readiness: 503)
    for suffix in SQLITE_SUFFIXES:
        side = path.with_name(path.name + suffix)
        if side.exists() and side.stat().st_mode & 0o077:
            side.chmod(0o600)


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        _install_sqlite_transactions(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine, wiring: Any = None) -> sessionmaker[Session]:
    """Sessions on ``engine``; with ``wiring`` (backend.platform.wiring.Wiring, from the
    composition root) every session carries it, so services reach their ports through it."""
    info = {WIRING_INFO_KEY: wiring} if wiring is not None else None
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True, info=info)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """Serialization failures and deadlocks (PostgreSQL), busy database (SQLite)."""
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if sqlstate in ("40001", "40P01", "55P03"):
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(orig):
            return True
    return False


def run_in_transaction(
    factory: sessionmaker[Session], work: Callable[[Session], T], *, attempts: int = 8
) -> T:
    """Run ``work`` in its own transaction, retrying serialization conflicts with backoff."""
    delay = 0.005
    for attempt in range(1, attempts + 1):
        session = factory()
        try:
            result = work(session)
            session.commit()
            return result
        except Exception as exc:
            session.rollback()
            if attempt == attempts or not is_retryable(exc):
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        finally:
            session.close()
    raise AssertionError("unreachable")
