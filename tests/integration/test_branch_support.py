"""Helpers shared by the branch hall tests (imported by the other test_branch_* modules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.branch.runtime import Hall, RecordingCommands
from backend.devices.models import Device
from backend.identity import service as identity
from backend.identity.models import Org, User
from backend.identity.service import actor_for
from backend.platform.context import SYSTEM
from tests.wiring import recording_emitter

SECRET = "branch-hall-test-secret-key-0123456789abcdef"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday


class Clock:
    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 0, **kw) -> datetime:
        self.now += timedelta(seconds=seconds, **kw)
        return self.now


def make_hall(clock: Clock | None = None) -> Hall:
    return Hall(
        live=recording_emitter(),
        send_command=RecordingCommands(),
        secret_key=SECRET,
        clock=clock or Clock(),
    )


def actor(session, username: str):
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None, username
    return actor_for(user)


def user_id(session, username: str) -> int:
    return session.scalar(select(User.id).where(User.username == username))


def add_other_branch(session) -> None:
    """BR002 with its teller ``teller9``, and a second client ``client2``."""
    bank = session.scalar(select(Org).where(Org.code == "BANK"))
    org = identity.get_or_create_org(session, "BR002", "Branch BR002", "branch", bank)
    identity.get_or_create_branch(session, "BR002", "Branch BR002", org)
    clients = session.scalar(select(Org).where(Org.code == "CLIENTS"))
    for username, role, owner, branch in (
        ("teller9", "teller", org, "BR002"),
        ("client2", "client", clients, None),
        ("loader9", "loader", org, "BR002"),
    ):
        if session.scalar(select(User.id).where(User.username == username)) is None:
            identity.create_user(
                session,
                SYSTEM,
                username=username,
                password=f"{username}-demo",
                role=role,
                org=owner,
                branch_id=branch,
            )
    session.flush()


def set_device(session, device_id: str, *, online: bool = True, **state) -> None:
    """Fake what the ingest would know of a device: online, active and its state document."""
    device = session.scalar(select(Device).where(Device.device_id == device_id))
    device.online, device.status = online, "active"
    device.state = {**(device.state or {}), **state}
    session.flush()


def ready_devices(session, cash: str = "BR001-ATM-01", lock: str = "BR001-LCK-01") -> None:
    set_device(session, cash, mode="normal", safe_door="closed")
    set_device(session, lock, lock="locked", tamper=False)


def enrol_loaders(session, lock: str, *usernames: str, at: datetime = T0) -> None:
    """Fake what consent and a completed capture at the lock leave at the centre: a granted
    vein consent and an ``enrolled`` record per loader (the template itself stays on the lock,
    which the cash tests do not simulate)."""
    from backend.branch.models import VeinConsent, VeinEnrolment

    device = session.scalar(select(Device).where(Device.device_id == lock))
    for username in usernames:
        user = session.scalar(select(User).where(User.username == username))
        consent = session.scalar(
            select(VeinConsent).where(
                VeinConsent.user_id == user.id, VeinConsent.status == "granted"
            )
        )
        if consent is None:
            consent = VeinConsent(
                user_id=user.id,
                status="granted",
                text_version="vein-v1",
                channel="test",
                granted_at=at,
            )
            session.add(consent)
            session.flush()
        session.add(
            VeinEnrolment(
                branch_id=device.branch_id,
                lock_id=lock,
                user_id=user.id,
                username=username,
                status="enrolled",
                consent_id=consent.id,
                requested_at=at,
                captures=3,
                enrolled_at=at,
                revoke_attempts=0,
                updated_at=at,
            )
        )
    session.flush()


# --------------------------------------------------------------------------- fixtures

import shutil  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import pytest  # noqa: E402

from tests.api_client import ApiClient  # noqa: E402
from tests.conftest import truncate_pg  # noqa: E402
from tests.iot_support import require_shared_mosquitto  # noqa: E402


def seed_hall(url: str) -> None:
    """The hall tests' data on a migrated, empty database: the demo seed, BR002, teller9,
    client2 and loader9."""
    from backend.platform.config import Config
    from backend.platform.db import make_engine, session_scope
    from backend.seed import SeedOptions, seed
    from tests.wiring import wired_factory

    engine = make_engine(url)
    with session_scope(wired_factory(engine)) as session:
        seed(session, Config.from_env(database_url=url), SeedOptions(progress=False))
        add_other_branch(session)
    engine.dispose()


@pytest.fixture(scope="session")
def branch_seeded_db(sqlite_template, tmp_path_factory):
    """The hall's seed (``seed_hall``) once per run; tests get copies."""
    path = tmp_path_factory.mktemp("branch-seeded") / "seeded.db"
    shutil.copy(sqlite_template, path)
    seed_hall(f"sqlite:///{path}")
    return path


def _sqlite_hall(branch_seeded_db, tmp_path) -> str:
    path = tmp_path / "hall.db"
    shutil.copy(branch_seeded_db, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hall_url(request, tmp_path) -> str:
    """The hall's seeded database for one test, on SQLite and on PostgreSQL (so ``hall_factory``,
    ``hall_app`` and ``api`` too): a copy of ``branch_seeded_db``, or a database of its own made
    by ``CREATE DATABASE ... TEMPLATE`` from this run's ``seed_hall``-ed template (built once,
    ``pg_templates``) and dropped after the test; skipped with the reason where absent."""
    if request.param == "sqlite":
        return _sqlite_hall(request.getfixturevalue("branch_seeded_db"), tmp_path)
    return request.getfixturevalue("pg_templates").clone(request, "hall", seed_hall)


@dataclass(frozen=True)
class HallStack:
    """Where an end-to-end hall test runs: its seeded database and its brokers
    (``tests.iot_support.hall_brokers``)."""

    database_url: str
    brokers: str  # "amqtt": embedded; "mosquitto": the machine's, with a private branch one


HALL_STACKS = [
    pytest.param("sqlite", id="sqlite-amqtt"),
    pytest.param(
        "postgres", id="postgres-mosquitto", marks=[pytest.mark.postgres, pytest.mark.mosquitto]
    ),
]


@pytest.fixture(params=HALL_STACKS)
def hall_stack(request) -> HallStack:
    """Each end-to-end hall test runs twice: on SQLite with the embedded amqtt brokers (a copy
    of ``branch_seeded_db``), and on the machine's PostgreSQL (this run's database, emptied as
    for ``db_url``, then ``seed_hall``) with its Mosquitto; skipped with the reason where absent."""
    if request.param == "sqlite":
        return HallStack(
            _sqlite_hall(
                request.getfixturevalue("branch_seeded_db"), request.getfixturevalue("tmp_path")
            ),
            "amqtt",
        )
    require_shared_mosquitto()  # before paying for the seed
    url = request.getfixturevalue("pg_database")
    truncate_pg(url)
    seed_hall(url)
    return HallStack(url, "mosquitto")


@pytest.fixture
def hall_factory(hall_url):
    from backend.platform.db import make_engine
    from tests.wiring import wired_factory

    engine = make_engine(hall_url)
    yield wired_factory(engine)
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hall(clock) -> Hall:
    return make_hall(clock)


class Api(ApiClient):
    """A test client that logs users in once and speaks JSON to /api/v1."""

    def get(self, user: str, path: str, **kw):
        return self.client.get(f"/api/v1{path}", headers=self.headers(user), **kw)

    def post(self, user: str, path: str, json=None, headers=None, **kw):
        h = {**self.headers(user), **(headers or {})}
        return self.client.post(f"/api/v1{path}", json=json or {}, headers=h, **kw)

    def send(self, method: str, user: str, path: str, json=None):
        return self.client.open(
            f"/api/v1{path}", method=method, json=json or {}, headers=self.headers(user)
        )

    @staticmethod
    def ok(response, status: int = 200) -> dict:
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def session(self):
        return self.app.extensions["finedge"].session_factory()


@pytest.fixture
def hall_app(make_app, hall_url, hall):
    app = make_app(hall_url, seeded=False)
    app.extensions["finedge"].wiring.provide(Hall, hall)
    return app


@pytest.fixture
def api(hall_app) -> Api:
    return Api(hall_app)


def presence_code(hall: Hall, branch_id: str) -> str:
    """The code the branch's hall display shows now (by the hall's clock)."""
    from backend.branch.queue import presence

    return presence.current_code(hall.key(), branch_id, hall.now()).code


def check_in(api: Api, user: str, branch_id: str, ticket_no: str, hall: Hall) -> dict:
    """A client in the hall scans the display's QR code and checks in."""
    body = {"presence_code": presence_code(hall, branch_id)}
    return api.ok(api.post(user, f"/branches/{branch_id}/tickets/{ticket_no}/check-in", body))
