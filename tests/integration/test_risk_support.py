"""Helpers shared by the risk integration tests (imported by the other test_risk_* modules):
a seeded risk database built once per test run and copied per test, a JSON client, feed
record builders.  Plus a check of the seed itself."""

from __future__ import annotations

import functools
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.identity import service as identity
from backend.identity.models import Org, User
from backend.platform.context import SYSTEM
from backend.risk.creditcode import make_credit_code
from backend.risk.models import Enterprise, RiskModel, RiskSignal
from tests.api_client import ApiClient

SEEDED_ENTERPRISES = 200  # enough defaults for the out-of-time validation to find a champion


@functools.cache
def seeded_template() -> Path:
    """A migrated SQLite database with the demo seed and ``SEEDED_ENTERPRISES`` synthetic
    enterprises (models trained, full scan done): built once, copied by each test."""
    from backend.platform import migrate
    from backend.platform.config import Config
    from backend.platform.db import make_engine, session_scope
    from backend.seed import SeedOptions, seed
    from tests.wiring import wired_factory

    path = Path(tempfile.mkdtemp(prefix="finedge-risk-")) / "risk.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(wired_factory(engine)) as session:
        seed(
            session,
            Config.from_env(database_url=url),
            SeedOptions(enterprises=SEEDED_ENTERPRISES, progress=False),
        )
    engine.dispose()
    return path


@pytest.fixture
def risk_url(tmp_path) -> str:
    path = tmp_path / "risk.db"
    shutil.copy(seeded_template(), path)
    return f"sqlite:///{path}"


@pytest.fixture
def risk_app(make_app, risk_url):
    return make_app(risk_url)


class Client(ApiClient):
    def token(self, user: str) -> str:
        return self.headers(user)["Authorization"].split(" ", 1)[1]

    def get(self, user: str, path: str):
        return self.client.get(f"/api/v1/risk{path}", headers=self.headers(user))

    def post(self, user: str, path: str, json=None):
        return self.client.post(f"/api/v1/risk{path}", json=json or {}, headers=self.headers(user))

    def patch(self, user: str, path: str, json):
        return self.client.patch(f"/api/v1/risk{path}", json=json, headers=self.headers(user))

    def ok(self, response, status: int = 200):
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def session(self):
        return self.app.extensions["finedge"].session_factory()


def add_user(session, username: str, role: str, org_code: str = "BANK") -> User:
    org = session.scalar(select(Org).where(Org.code == org_code))
    return identity.create_user(
        session, SYSTEM, username=username, password=f"{username}-demo", role=role, org=org
    )


def code(i: int) -> str:
    return make_credit_code(900_000 + i)


def event(record_id: str, credit_code: str, kind: str, days_ago: float = 1, **kw) -> dict:
    when = datetime.now(UTC) - timedelta(days=days_ago)
    return {
        "record_id": record_id,
        "credit_code": credit_code,
        "name": kw.pop("name", f"测试企业{credit_code[-4:]}有限公司"),
        "kind": kind,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **kw,
    }


def test_the_seed_loads_a_scanned_world_with_models(risk_url):
    from backend.platform.db import make_engine
    from tests.wiring import wired_factory

    engine = make_engine(risk_url)
    with wired_factory(engine)() as s:
        assert s.scalar(select(func.count(Enterprise.id))) == SEEDED_ENTERPRISES
        rm1 = s.scalar(select(User.id).where(User.username == "rm1"))
        assert s.scalar(select(func.count(Enterprise.id)).where(Enterprise.rm_user_id != rm1)) == 0
        assert s.scalar(select(func.count(RiskModel.id)).where(RiskModel.status == "champion")) == 1
        assert s.scalar(select(func.count(RiskSignal.id))) > 0
        dealers = dict(
            s.execute(
                select(Org.code, Enterprise.org_id).join(Enterprise, Enterprise.org_id == Org.id)
            ).all()
        )
        assert set(dealers) == {"DEALER1", "DEALER2"}
    engine.dispose()
