"""SQLite transactions (issue 13, item 19): reads take no write lock, writers queue in order and
never leave the queue held, whatever way their transaction ends."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from backend.platform.db import make_engine, make_session_factory, read_only


@pytest.fixture
def engine(sqlite_url):
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def _writer_holding_the_lock(sqlite_url):
    """Another process's writer, as far as SQLite can tell: its own engine, lock held."""
    other = make_engine(sqlite_url)
    conn = other.connect()
    conn.execute(text("UPDATE users SET active = active"))  # BEGIN IMMEDIATE: write lock held
    return other, conn


def test_a_read_only_transaction_reads_beside_a_writer(engine, sqlite_url):
    other, conn = _writer_holding_the_lock(sqlite_url)
    try:
        with read_only(), make_session_factory(engine)() as session:
            assert session.execute(text("SELECT count(*) FROM users")).scalar() == 0
    finally:
        conn.rollback()
        conn.close()
        other.dispose()


def test_a_get_is_answered_while_another_writer_holds_the_lock(make_app, sqlite_url):
    from backend.identity import service as identity
    from backend.identity.tokens import issue_token
    from backend.platform.context import SYSTEM

    app = make_app(sqlite_url, seeded=False)
    ext = app.extensions["finedge"]
    with ext.session_factory() as s:
        bank = identity.get_or_create_org(s, "BANK", "Bank", "bank")
        user = identity.create_user(
            s, SYSTEM, username="admin", password=None, role="admin", org=bank
        )
        token = issue_token(identity.actor_for(user), ext.config.secret_key, 3600)
        s.commit()
    other, conn = _writer_holding_the_lock(sqlite_url)
    try:
        response = app.test_client().get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["username"] == "admin"
    finally:
        conn.rollback()
        conn.close()
        other.dispose()


def test_writers_queue_and_the_queue_is_free_after_every_ending(engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe (n INTEGER)"))
    errors: list[BaseException] = []

    def writer():
        try:
            for _ in range(25):
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO probe VALUES (1)"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    factory = make_session_factory(engine)
    session = factory()  # rolled back
    session.execute(text("INSERT INTO probe VALUES (2)"))
    session.rollback()
    session.close()
    session = factory()  # closed without commit or rollback
    session.execute(text("INSERT INTO probe VALUES (2)"))
    session.close()
    with pytest.raises(RuntimeError), engine.begin() as conn:  # an exception in the block
        conn.execute(text("INSERT INTO probe VALUES (2)"))
        raise RuntimeError("boom")
    # a writer from another thread still gets in: nothing left the queue held
    done = threading.Event()

    def last():
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO probe VALUES (3)"))
        done.set()

    t = threading.Thread(target=last)
    t.start()
    t.join(timeout=60)
    assert done.is_set()
    with read_only(), engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT n, count(*) FROM probe GROUP BY n")).all())
    assert counts == {1: 150, 3: 1}
