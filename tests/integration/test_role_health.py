"""Probes of the roles: the hub's and the scheduler's own listener (/healthz, /readyz), and the
web role's /api/v1/health/live and /api/v1/health, all without a login."""

from __future__ import annotations

import requests

from backend.bootstrap import bootstrap
from backend.platform.config import Config
from backend.roles.health import HealthServer
from backend.roles.scheduler import SchedulerRole
from tests.iot_support import wait_for


def test_the_scheduler_role_answers_its_probes(sqlite_url):
    runtime = bootstrap(Config.from_env(database_url=sqlite_url), "scheduler")
    health = HealthServer("scheduler", runtime.readiness, "127.0.0.1", 0).start()
    try:
        base = f"http://127.0.0.1:{health.port}"
        assert requests.get(f"{base}/healthz", timeout=5).json() == {
            "role": "scheduler",
            "status": "ok",
        }
        runtime.options["leader_retry_s"] = 0.2
        runtime.start()
        assert isinstance(runtime.scheduler, SchedulerRole)
        wait_for(lambda: runtime.scheduler.state == "active", 10, "leading")
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200
        assert ready.json()["database"] == "ok" and ready.json()["scheduler"] == "active"
        assert requests.get(f"{base}/nope", timeout=5).status_code == 404
    finally:
        runtime.stop()
        health.stop()


def test_a_role_whose_database_is_gone_is_not_ready(tmp_path):
    (tmp_path / "gone").write_text("a file where the database's folder should be")
    runtime = bootstrap(
        Config.from_env(database_url=f"sqlite:///{tmp_path}/gone/dir/db.sqlite"), "scheduler"
    )
    health = HealthServer("scheduler", runtime.readiness, "127.0.0.1", 0).start()
    try:
        response = requests.get(f"http://127.0.0.1:{health.port}/readyz", timeout=5)
        assert response.status_code == 503 and response.json()["status"] == "not_ready"
    finally:
        runtime.stop()
        health.stop()


def test_the_web_role_answers_its_probes_without_a_login(client):
    assert client.get("/api/v1/health/live").get_json() == {"status": "ok"}
    assert client.get("/api/v1/health").get_json() == {"status": "ok"}
