"""Database: one declarative Base for every area, engines for SQLite and PostgreSQL, sessions.

No module-level engine: ``make_engine(url)`` is called by the composition root (create_app,
the CLI, tests).  Schema changes go through Alembic (backend/platform/migrations), never
``create_all`` on the production path.

Column types shared by every area:
- ``UTCDateTime``: timezone-aware UTC in and out, also on SQLite which stores naive values.
- ``MoneyType``: Decimal fen, exact: NUMERIC(20, 2) on PostgreSQL, INTEGER fen on SQLite.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import JSON, BigInteger, DateTime, Engine, MetaData, Numeric, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from backend.platform.money import CENT
from backend.platform.wiring import INFO_KEY as WIRING_INFO_KEY

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
    so is a value beyond the column's range (ValueError).  Arithmetic in SQL keeps the unit:
    ``col + amount`` binds ``amount`` as money, ``col * 2`` binds ``2`` as a plain number.
    """

    impl = Numeric(20, 2, asdecimal=True)
    cache_ok = True
    MAX_FEN = 10**18 - 1  # NUMERIC(20, 2): 18 digits before the point; < 2**63 in fen

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
            raise ValueError(f"money {value} is beyond NUMERIC(20, 2)")
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


def _sqlite_begin_immediate(conn):
    # SQLite upgrades a read transaction to a write lock lazily and then fails with
    # "database is locked" instead of waiting. BEGIN IMMEDIATE takes the write lock up
    # front, so writers queue on busy_timeout: SQLite's equivalent of row locks.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
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
