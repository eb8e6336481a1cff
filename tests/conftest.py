"""Shared fixtures.

Database tests take the ``db_url`` fixture, which runs each test twice: on SQLite (embedded
default) and on the machine's PostgreSQL (127.0.0.1:5432, database ``test``, trust auth).  Each
test run creates its own PostgreSQL database ``finedge_test_<random>`` and drops it afterwards;
where the server is absent the PostgreSQL variant skips with the reason printed (-ra).
Fixtures whose data is costly to build fill a PostgreSQL template once per run and give each
test its own copy (``pg_templates``), dropped after the test; the template at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

_VAR = tempfile.mkdtemp(prefix="finedge-test-var-")
os.environ["FINEDGE_ENV"] = "test"
os.environ["FINEDGE_VAR_DIR"] = _VAR
for _name in ("DATABASE_URL", "MQTT_URL", "BRANCH_MQTT_URL", "REDIS_URL", "FINEDGE_SECRET_KEY"):
    os.environ.pop(_name, None)

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = os.environ.get(
    "FINEDGE_TEST_PG_URL", f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test"
)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pg_reason() -> str | None:
    if not port_open(PG_HOST, PG_PORT):
        return f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT}"
    try:
        import psycopg

        with psycopg.connect(
            PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3
        ):
            pass
    except Exception as exc:  # any failure means: skip with the reason
        return f"PostgreSQL at {PG_HOST}:{PG_PORT} refused the test login: {exc}"
    return None


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test run, migrated to head; dropped at the end."""
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    import psycopg

    from backend.platform import migrate

    name = f"finedge_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _pg_admin(sql: str) -> None:
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def drop_pg_database(name: str) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PgTemplates:
    """PostgreSQL databases migrated to head and filled by ``build(url)`` once per key and run
    (templates), and per-test copies of them made by ``CREATE DATABASE ... TEMPLATE`` (far
    faster than seeding).  A copy takes ~0.35 s (the server fsyncs it), so the next test's copy
    is made in a thread while the current test runs.  Every database made here is dropped: a
    copy by the finalizer of the test that took it, templates and an unused spare at the end."""

    def __init__(self) -> None:
        self._built: dict[str, str | Exception] = {}
        self._templates: list[str] = []
        self._unclaimed: set[str] = set()  # copies made (or being made) that no test owns yet
        self._spares: dict[str, Future[str]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-copy")

    def template(self, key: str, build: Callable[[str], None]) -> str:
        from backend.platform import migrate

        if key not in self._built:
            name = f"finedge_tpl_{uuid.uuid4().hex[:10]}"
            self._templates.append(name)  # dropped at the end even if the build fails half way
            try:
                _pg_admin(f'CREATE DATABASE "{name}"')
                migrate.upgrade(pg_url(name))
                build(pg_url(name))  # must close its connections: a template must be idle
                self._built[key] = name
            except Exception as exc:
                self._built[key] = exc  # every test of this key fails at once, no rebuilding
        found = self._built[key]
        if isinstance(found, Exception):
            raise RuntimeError(f"building the PostgreSQL template {key!r} failed") from found
        return found

    def clone(self, request, key: str, build: Callable[[str], None]) -> str:
        """A copy of the ``key`` template for the requesting test, dropped at its teardown (a
        finalizer, so also when the test fails)."""
        template = self.template(key, build)
        spare = self._spares.pop(key, None)
        name = spare.result() if spare is not None else self._copy(template)
        self._unclaimed.discard(name)
        request.addfinalizer(lambda: drop_pg_database(name))
        self._spares[key] = self._pool.submit(self._copy, template)
        return pg_url(name)

    def _copy(self, template: str) -> str:
        name = f"finedge_test_{uuid.uuid4().hex[:10]}"
        self._unclaimed.add(name)
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for name in [*self._unclaimed, *self._templates]:
            drop_pg_database(name)


@pytest.fixture(scope="session")
def pg_templates():
    """This run's ``PgTemplates`` (PostgreSQL only: skipped with the reason where absent)."""
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    templates = PgTemplates()
    try:
        yield templates
    finally:
        templates.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for every test (migrating each time would be slow)."""
    from backend.platform import migrate

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def truncate_pg(url: str) -> None:
    """Empty every table of this run's PostgreSQL database (its tests share it)."""
    from sqlalchemy import text

    from backend.models import metadata
    from backend.platform.db import make_engine

    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    path = tmp_path / "finedge.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """Each test that takes this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    url = request.getfixturevalue("pg_database")
    truncate_pg(url)
    return url


@pytest.fixture
def engine(db_url):
    from backend.platform.db import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine):
    """Sessions wired by the composition root (role ``test``), as services expect them."""
    from tests.wiring import wired_factory

    return wired_factory(engine)


@pytest.fixture
def session(session_factory):
    with session_factory() as session:
        yield session


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_VAR, ignore_errors=True)


# --- application fixtures ---------------------------------------------------------------


class SeededTemplates:
    """The demo seed, made once per worker and copied into each test app's database: a seeded
    app costs a copy (SQLite: a file copy, ~10 ms; PostgreSQL: COPY of every table's rows,
    ~0.2 s) instead of a seed (~1.4 s CPU on SQLite, more on PostgreSQL).

    Only a database exactly as its fixture made it is filled (SQLite: the file is byte for byte
    the migrated template and no connection has opened it; PostgreSQL: every table empty), else
    ``make_app`` seeds as before. A template is keyed by the dialect, the migration head and the
    seed options, and is rebuilt once older than ``MAX_AGE_S`` or on a new day (the seed dates
    its rows from the clock). What the seed writes to the var directory (the devices'
    credentials, the fake notifier's outbox) is written again at each copy."""

    MAX_AGE_S = 120.0

    def __init__(self, tmp_dir: Path) -> None:
        self._dir = tmp_dir
        self._sqlite: dict[tuple, tuple[float, Path, list]] = {}
        self._pg: dict[tuple, tuple[float, dict[str, bytes], list, list]] = {}
        self._generation = 0
        self.copies = 0

    @staticmethod
    def _key(options) -> tuple:
        from alembic.script import ScriptDirectory

        from backend.platform import migrate

        head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
        return (head, repr(options))

    @classmethod
    def _fresh(cls, made_at: float) -> bool:
        import time
        from datetime import UTC, datetime, timedelta

        def days(at: float) -> tuple:
            moment = datetime.fromtimestamp(at, UTC)
            return moment.date(), (moment + timedelta(hours=8)).date()  # UTC and Beijing

        now = time.time()
        return now - made_at < cls.MAX_AGE_S and days(now) == days(made_at)

    @staticmethod
    def _var_files() -> dict[str, bytes]:
        from backend.platform.config import var_dir

        root = var_dir()
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and p.stat().st_size < 1_000_000
        }

    def _seed_into(self, url: str, options) -> list:
        """Seed ``url`` through an app, as ``make_app`` does; returns the var files it wrote:
        (path, bytes to append) where the seed appended, (path, content) where it rewrote."""
        from backend.app import create_app
        from backend.platform.config import Config
        from backend.platform.db import session_scope
        from backend.seed import seed

        config = Config.from_env(database_url=url)
        app = create_app(config)
        try:
            before = self._var_files()
            with session_scope(app.extensions["finedge"].session_factory) as session:
                seed(session, config, options)
        finally:
            app.extensions["finedge"].runtime.stop()
        after = self._var_files()
        writes = []
        for name, content in sorted(after.items()):
            old = before.get(name)
            if old == content:
                continue
            if old is not None and content.startswith(old):
                writes.append((name, "append", content[len(old) :]))
            else:
                writes.append((name, "write", content))
        return writes

    @staticmethod
    def _replay(writes: list) -> None:
        from backend.platform.config import var_dir

        root = var_dir()
        for name, how, data in writes:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if how == "append":
                with path.open("ab") as handle:
                    handle.write(data)
            else:
                path.write_bytes(data)

    # --- SQLite ------------------------------------------------------------------------------

    def fill_sqlite(self, url: str, migrated: Path, options) -> bool:
        import sqlite3

        path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        if any(path.with_name(path.name + s).exists() for s in ("-wal", "-shm", "-journal")):
            return False  # opened since the copy: not known to be empty
        try:
            if path.read_bytes() != migrated.read_bytes():
                return False
        except OSError:
            return False
        key = ("sqlite", *self._key(options))
        found = self._sqlite.get(key)
        if found is None or not self._fresh(found[0]):
            import time

            made_at = time.time()
            self._generation += 1
            seeded = self._dir / f"seeding-{self._generation}.db"
            shutil.copyfile(migrated, seeded)
            writes = self._seed_into(f"sqlite:///{seeded}", options)
            template = self._dir / f"seeded-{self._generation}.db"
            with sqlite3.connect(seeded) as src, sqlite3.connect(template) as dst:
                src.backup(dst)  # one file, whatever the -wal held
            src.close()
            dst.close()
            for suffix in ("", "-wal", "-shm"):
                seeded.with_name(seeded.name + suffix).unlink(missing_ok=True)
            if found is not None:
                found[1].unlink(missing_ok=True)
            found = self._sqlite[key] = (made_at, template, writes)
        shutil.copyfile(found[1], path)  # in place: the file keeps its inode and mode
        self._replay(found[2])
        self.copies += 1
        return True

    # --- PostgreSQL --------------------------------------------------------------------------

    @staticmethod
    def _pg_connect(url: str):
        import psycopg

        return psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True)

    @staticmethod
    def _pg_tables(conn) -> list[str]:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version' ORDER BY tablename"
        )
        return [name for (name,) in rows]

    def fill_pg(self, url: str, templates: PgTemplates, options) -> bool:
        import time

        from psycopg import sql

        def first_row(table: str):
            return sql.SQL("(SELECT 1 FROM {} LIMIT 1)").format(sql.Identifier(table))

        with self._pg_connect(url) as conn:
            tables = self._pg_tables(conn)
            probe = sql.SQL(" UNION ALL ").join(first_row(t) for t in tables)
            if tables and conn.execute(probe).fetchone() is not None:
                return False  # a table has rows: not as its fixture made it
        key = ("postgresql", *self._key(options))
        found = self._pg.get(key)
        if found is None or not self._fresh(found[0]):
            made_at = time.time()
            self._generation += 1
            writes: list = []

            def build(template_url: str) -> None:
                writes.extend(self._seed_into(template_url, options))

            name = templates.template(f"seeded:{key}:{self._generation}", build)
            rows: dict[str, bytes] = {}
            with self._pg_connect(pg_url(name)) as conn:
                for table in self._pg_tables(conn):
                    if conn.execute(first_row(table)).fetchone() is None:
                        continue
                    out = sql.SQL("COPY {} TO STDOUT (FORMAT BINARY)").format(sql.Identifier(table))
                    with conn.cursor() as cur, cur.copy(out) as copy:
                        rows[table] = b"".join(bytes(chunk) for chunk in copy)
                sequences = conn.execute(
                    "SELECT schemaname, sequencename, last_value FROM pg_sequences"
                    " WHERE schemaname = 'public'"
                ).fetchall()
            found = self._pg[key] = (made_at, rows, sequences, writes)
        _made_at, rows, sequences, writes = found
        with self._pg_connect(url) as conn, conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")  # no FK order
            with conn.cursor() as cur:
                for table, data in rows.items():
                    into = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(
                        sql.Identifier(table)
                    )
                    with cur.copy(into) as copy:
                        copy.write(data)
            for schema, sequence, last in sequences:
                qualified = f'"{schema}"."{sequence}"'
                if last is None:
                    conn.execute("SELECT setval(%s::regclass, 1, false)", (qualified,))
                else:
                    conn.execute("SELECT setval(%s::regclass, %s, true)", (qualified, last))
        self._replay(writes)
        self.copies += 1
        return True


@pytest.fixture(scope="session")
def seeded_templates(tmp_path_factory) -> SeededTemplates:
    return SeededTemplates(tmp_path_factory.mktemp("seeded-templates"))


@pytest.fixture
def make_app(request, sqlite_template, seeded_templates):
    """Build an app on a given database URL; seeded with the demo orgs and users (a copy of
    the seed made once, where the database is as its fixture made it: ``SeededTemplates``)."""
    from backend.app import create_app
    from backend.platform.config import Config
    from backend.platform.db import session_scope
    from backend.seed import SeedOptions, seed

    apps = []

    def build(url: str, seeded: bool = True, **overrides):
        config = Config.from_env(database_url=url, **overrides)
        copied = False
        if seeded and url.startswith("sqlite:///"):
            copied = seeded_templates.fill_sqlite(url, sqlite_template, SeedOptions())
        elif seeded and url.startswith("postgresql"):
            templates = request.getfixturevalue("pg_templates")
            copied = seeded_templates.fill_pg(url, templates, SeedOptions())
        app = create_app(config)
        app.config["TESTING"] = True
        if seeded and not copied:
            with session_scope(app.extensions["finedge"].session_factory) as session:
                seed(session, config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["finedge"].runtime.stop()  # closes what it built, disposes the engine


@pytest.fixture
def app(make_app, sqlite_url):
    return make_app(sqlite_url)


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, username: str, password: str | None = None) -> dict:
    response = client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password or f"{username}-demo"},
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


@pytest.fixture
def auth(client):
    """auth("dealer1") -> headers with a Bearer token for that demo user."""
    cache: dict[str, dict] = {}

    def headers(username: str) -> dict:
        if username not in cache:
            cache[username] = login(client, username)
        return cache[username]

    return headers
