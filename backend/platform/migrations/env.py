"""Alembic environment: the URL comes from the caller (finedge db upgrade), never from a file."""

from alembic import context
from sqlalchemy import pool

from backend.models import metadata
from backend.platform.db import make_engine

config = context.config


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(conn) -> None:
    """SQLite: batch mode rebuilds tables (copy, drop, rename), which foreign keys would refuse
    mid-way; they are off during the migration (set outside any transaction, as SQLite
    requires) and every reference is checked before they are on again."""
    sqlite = conn.dialect.name == "sqlite" and not conn.in_transaction()
    if sqlite:
        conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        if sqlite and conn.in_transaction():
            conn.commit()
    finally:
        if sqlite:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
