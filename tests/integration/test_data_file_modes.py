"""Data files are private (issue 13, item 8): the central SQLite database and the edge's (which
holds device secrets and its sealing key) are 0600 with their -wal/-shm, their created
directories 0700, whatever the umask; files an older version created 0644 are tightened."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text

from backend.platform import migrate
from backend.platform.db import make_engine
from edge.store import EdgeStore


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0o022)  # the usual default: files 0644, directories 0755
    yield
    os.umask(old)


def test_central_sqlite_database_and_its_side_files_are_0600(tmp_path, open_umask):
    path = tmp_path / "var" / "data" / "finedge.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT count(*) FROM users"))
            assert (path.parent / "finedge.db-wal").exists()
            for name in ("finedge.db", "finedge.db-wal", "finedge.db-shm"):
                assert mode(path.parent / name) == 0o600, name
    finally:
        engine.dispose()
    assert mode(path.parent) == 0o700
    assert mode(tmp_path / "var") == 0o700


def test_an_existing_world_readable_database_is_tightened(tmp_path, open_umask):
    path = tmp_path / "old.db"
    migrate.upgrade(f"sqlite:///{path}")
    path.chmod(0o644)
    engine = make_engine(f"sqlite:///{path}")
    engine.dispose()
    assert mode(path) == 0o600


def test_edge_database_with_its_secrets_is_0600(tmp_path, open_umask):
    path = tmp_path / "edge" / "state" / "edge-1.db"
    store = EdgeStore(path)
    try:
        store.kv_set("probe", "1")
        assert (path.parent / "edge-1.db-wal").exists()
        for name in ("edge-1.db", "edge-1.db-wal", "edge-1.db-shm"):
            assert mode(path.parent / name) == 0o600, name
    finally:
        store.close()
    assert mode(path.parent) == 0o700
    assert mode(tmp_path / "edge") == 0o700
    path.chmod(0o644)  # made by an older edge
    EdgeStore(path).close()
    assert mode(path) == 0o600


def test_generated_secret_key_file_is_0600(tmp_path, open_umask):
    from backend.platform.config import _generated_secret

    key = _generated_secret(tmp_path)
    assert key and mode(tmp_path / "secret_key") == 0o600
