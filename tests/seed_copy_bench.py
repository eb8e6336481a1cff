"""CPU and wall time of one seeded test app, seeded vs copied (``SeededTemplates``), on SQLite
and PostgreSQL: ``python -m tests.seed_copy_bench``. Not a test; figures in docs/DEVELOPING.md.
PostgreSQL's own server CPU is not counted (another process)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import tests.conftest as fixtures  # sets FINEDGE_ENV=test and a private var directory


def main(rounds: int = 6) -> None:
    from backend.app import create_app
    from backend.platform import migrate
    from backend.platform.config import Config
    from backend.platform.db import session_scope
    from backend.seed import SeedOptions, seed

    work = Path(tempfile.mkdtemp(prefix="seed-copy-bench-"))
    migrated = work / "migrated.db"
    migrate.upgrade(f"sqlite:///{migrated}")
    copies = fixtures.SeededTemplates(work)
    pg_reason = fixtures._pg_reason()
    templates = fixtures.PgTemplates() if pg_reason is None else None
    pg_name = f"finedge_bench_{os.getpid()}"
    if templates is not None:
        fixtures._pg_admin(f'CREATE DATABASE "{pg_name}"')
        migrate.upgrade(fixtures.pg_url(pg_name))

    def one(url: str, mode: str, dialect: str) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        if mode == "copy":
            if dialect == "sqlite":
                assert copies.fill_sqlite(url, migrated, SeedOptions())
            else:
                assert copies.fill_pg(url, templates, SeedOptions())
        config = Config.from_env(database_url=url)
        app = create_app(config)
        if mode == "seed":
            with session_scope(app.extensions["finedge"].session_factory) as session:
                seed(session, config, SeedOptions(progress=False))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        app.extensions["finedge"].runtime.stop()
        return cpu, wall

    try:
        for dialect in ("sqlite", "postgres"):
            if dialect == "postgres" and templates is None:
                print(f"postgres skipped: {pg_reason}")
                continue
            for mode in ("copy", "seed"):
                rows = []
                for i in range(rounds):
                    if dialect == "sqlite":
                        path = work / f"{mode}-{i}.db"
                        shutil.copyfile(migrated, path)
                        url = f"sqlite:///{path}"
                    else:
                        fixtures.truncate_pg(fixtures.pg_url(pg_name))
                        url = fixtures.pg_url(pg_name)
                    rows.append(one(url, mode, dialect))
                rows = rows[1:]  # the first: warming up (and the copy's template build)
                cpu = sum(r[0] for r in rows) / len(rows)
                wall = sum(r[1] for r in rows) / len(rows)
                print(f"{dialect} {mode}: {cpu:.3f} s CPU, {wall:.3f} s wall per app", flush=True)
    finally:
        if templates is not None:
            templates.close()
            fixtures.drop_pg_database(pg_name)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
