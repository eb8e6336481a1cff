"""``finedge jobs run NAME`` does what the scheduler does: the same runtime (composition root),
so the same ports, emitter and device link. A cash unlock that expired is voided by hand and
the signed ``lock.disarm`` really reaches the lock over the central broker; every registered
job runs by hand on a seeded database."""

from __future__ import annotations

import json
import queue

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend.bootstrap import collect_areas, job_registry
from backend.branch.models import CashTask
from backend.cli import main
from backend.devices.models import Device, DeviceCommand
from backend.devices.secretbox import SecretBox
from backend.platform.config import Config
from backend.platform.mqtt import MqttClient
from backend.platform.mqtt.central import BACKEND_USER, central_broker, login_password
from edge.credentials import secret_bytes
from edge.protocol import NonceCache, verify_command
from tests.integration import test_branch_support as support
from tests.integration.test_branch_cash import LOCK, make_task, verify

branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_factory = support.hall_factory  # fixture
hall_url = support.hall_url  # fixture


@pytest.fixture
def s(hall_factory):
    with hall_factory() as session:
        support.ready_devices(session)
        support.enrol_loaders(session, LOCK, "loader1", "loader2")
        session.commit()
        yield session


@pytest.fixture
def central():
    """The embedded central broker with the backend's login, as ``finedge serve`` runs it."""
    secret = Config.from_env().secret_key
    broker = central_broker(secret, {})
    broker.start()
    yield broker, broker.url_for(BACKEND_USER, login_password(secret, BACKEND_USER))
    broker.stop()


def test_jobs_run_voids_an_expired_unlock_and_the_lock_gets_the_signed_disarm(
    s, hall, clock, hall_url, central, monkeypatch
):
    broker, backend_url = central
    view = make_task(s, hall, clock)
    verify(s, hall, clock, "loader1")
    assert verify(s, hall, clock, "loader2") == "armed"
    s.commit()
    clock.tick(130)  # the unlock was not used in time (the job runs at today's time: later)

    received: queue.Queue = queue.Queue()
    lock = MqttClient(backend_url, "test-lock-listener")
    lock.subscribe(f"fe/v1/BR001/lock/{LOCK}/cmd", lambda m: received.put(m.payload))
    lock.connect(timeout=10)
    try:
        monkeypatch.setenv("DATABASE_URL", hall_url)
        monkeypatch.setenv("MQTT_URL", broker.url)  # no login: the backend's is derived
        result = CliRunner().invoke(main, ["jobs", "run", "branch.expire_unlocks"])
        assert result.exit_code == 0, result.output
        outcome = json.loads(result.output.strip().splitlines()[-1])
        assert outcome["outcome"] == "ok" and outcome["result"] == {"expired": 1}
        payload = received.get(timeout=10)
    finally:
        lock.close()

    s.expire_all()
    enc = s.scalar(select(Device.hmac_secret_enc).where(Device.device_id == LOCK))
    secret = secret_bytes(SecretBox(Config.from_env().secret_key).decrypt(enc))
    env = verify_command(payload, secret, seen_nonce=NonceCache())
    assert env.type == "lock.disarm" and env.data == {"task_id": view["ref"]}
    command = s.scalar(select(DeviceCommand).where(DeviceCommand.command_id == env.id))
    assert command.name == "lock.disarm" and command.status == "sent"
    task = s.get(CashTask, view["id"])
    assert task.phase == "awaiting_loaders" and task.code_ciphertext is None


def test_without_a_broker_the_command_is_recorded_failed_not_lost(
    s, hall, clock, hall_url, monkeypatch
):
    make_task(s, hall, clock)
    verify(s, hall, clock, "loader1")
    verify(s, hall, clock, "loader2")
    s.commit()
    monkeypatch.setenv("DATABASE_URL", hall_url)
    monkeypatch.setenv("MQTT_URL", "mqtt://127.0.0.1:9")  # nobody listens there
    result = CliRunner().invoke(main, ["jobs", "run", "branch.expire_unlocks"])
    assert result.exit_code == 0, result.output
    s.expire_all()
    command = s.scalar(select(DeviceCommand).where(DeviceCommand.name == "lock.disarm"))
    assert command.status == "failed" and "not sent" in command.reason


def test_every_job_runs_by_hand_on_a_seeded_database(hall_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", hall_url)
    runner = CliRunner()
    names = sorted(job_registry(collect_areas()).jobs)
    assert "branch.expire_unlocks" in names and "ledger.expire_holds" in names
    for name in names:
        result = runner.invoke(main, ["jobs", "run", name])
        assert result.exit_code == 0, (name, result.output)
        assert json.loads(result.output.strip().splitlines()[-1])["outcome"] == "ok", name
