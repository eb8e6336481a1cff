"""Every FinEdge service of docker-compose.yml, its command line run without Docker in
FINEDGE_ENV=production against this machine's PostgreSQL and Redis and Mosquittos of the
checked-in dynamic-security configs (with throwaway TLS certificates), becomes healthy: the
migration exits 0, then, after the documented bootstrap and branch commands, web answers its
health endpoint, hub and scheduler their /readyz, and the edge's birth reaches the database.
The compose file's values are used as they are; only hosts, ports and the operator's secrets
are this machine's."""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from sqlalchemy import create_engine, text

from tests.conftest import _pg_admin, _pg_reason, drop_pg_database, pg_url
from tests.dynsec_support import make_certs, start_dynsec_mosquitto
from tests.iot_support import wait_for
from tests.mosquitto_process import free_port

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
FINEDGE = str(Path(sys.executable).with_name("finedge"))
LONG_RUNNING = ("web", "hub", "scheduler", "edge-br001")


def _services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def _command(service: dict, ports: dict[str, int]) -> list[str]:
    command = service["command"]
    tokens = shlex.split(command) if isinstance(command, str) else list(command)
    assert tokens[0] == "finedge"
    tokens[0] = FINEDGE
    for flag, port in ports.items():  # the compose ports, moved to free ones here
        if flag in tokens:
            tokens[tokens.index(flag) + 1] = str(port)
    return tokens


@pytest.fixture
def database():
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    name = f"finedge_compose_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    drop_pg_database(name)


def test_every_compose_service_becomes_healthy_in_production(database, tmp_path):
    services = _services()
    certs = make_certs(tmp_path / "certs")
    central = start_dynsec_mosquitto(tmp_path / "central", "central", certs)
    branch = start_dynsec_mosquitto(tmp_path / "branch", "branch", certs)
    operator = {
        "FINEDGE_SECRET_KEY": secrets.token_urlsafe(48),
        "MQTT_BACKEND_PASSWORD": secrets.token_urlsafe(16),
        "MQTT_EDGE_BR001_PASSWORD": secrets.token_urlsafe(16),
    }

    def local(name: str, value: str) -> str:
        """A compose environment value with this machine's hosts, ports and secrets."""
        if name == "FINEDGE_SECRET_KEY":
            return operator[name]
        if name == "FINEDGE_VAR_DIR":
            return str(tmp_path / "var")
        if name == "DATABASE_URL":
            return database
        if name == "REDIS_URL":
            return "redis://127.0.0.1:6379/0"
        if name == "MQTT_URL" and value.startswith("mqtt://backend:"):
            return central.url("backend", operator["MQTT_BACKEND_PASSWORD"])
        if name == "MQTT_URL" and value.startswith("mqtts://"):
            return f"mqtts://127.0.0.1:{central.tls_port}"  # the edge's login is derived
        if name == "MQTT_ADMIN_URL":
            return central.admin_url
        if name == "BRANCH_MQTT_URL":
            return branch.url("edge-br001", operator["MQTT_EDGE_BR001_PASSWORD"])
        if name == "BRANCH_MQTT_ADMIN_URL":
            return branch.admin_url
        if name == "FINEDGE_MQTT_CA_FILE":
            return str(certs.ca)
        assert "${" not in value, f"{name}: no local value for {value}"
        return value

    def env_of(service: dict) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FINEDGE_", "WX_"))}
        for key in ("DATABASE_URL", "MQTT_URL", "BRANCH_MQTT_URL", "REDIS_URL"):
            env.pop(key, None)
        env.update({k: local(k, str(v)) for k, v in service["environment"].items()})
        assert env["FINEDGE_ENV"] == "production"
        return env

    central_env = env_of(services["web"])
    processes: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    files = contextlib.ExitStack()
    try:
        # the one-shot migration, then what deploy/README.md has the operator run
        migrate = subprocess.run(
            _command(services["migrate"], {}),
            env=env_of(services["migrate"]),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr
        for argv, stdin in (
            (["bootstrap", "--org-code", "BANK", "--org-name", "Bank", "--admin", "admin"], "pw"),
            (["branches", "add", "BR001", "--name", "Main", "--services", "cash,account"], ""),
        ):
            done = subprocess.run(
                [FINEDGE, *argv],
                env=central_env,
                input=f"{stdin}-{operator['FINEDGE_SECRET_KEY'][:12]}\n" if stdin else "",
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, (argv, done.stdout, done.stderr)

        ports = {"--port": free_port(), "--health-port": 0}
        for name in LONG_RUNNING:
            service_ports = dict(ports, **{"--health-port": free_port()})
            logs[name] = tmp_path / f"{name}.log"
            processes[name] = subprocess.Popen(
                _command(services[name], service_ports),
                env=env_of(services[name]),
                stdout=files.enter_context(logs[name].open("w")),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            ports[name] = service_ports
        web = f"http://127.0.0.1:{ports['web']['--port']}"

        def answers(url: str) -> bool:
            try:
                return requests.get(url, timeout=3).status_code == 200
            except requests.RequestException:
                return False

        def alive(name: str) -> str:
            assert processes[name].poll() is None, f"{name} exited:\n{logs[name].read_text()}"
            return name

        wait_for(lambda: answers(f"{web}/api/v1/health") or not alive("web"), 90, "web")
        for name in ("hub", "scheduler"):
            probe = f"http://127.0.0.1:{ports[name]['--health-port']}/readyz"
            wait_for(lambda p=probe, n=name: answers(p) or not alive(n), 90, f"{name} ready")
        engine = create_engine(database)
        try:

            def edge_online() -> bool:
                alive("edge-br001")
                with engine.connect() as conn:
                    return bool(
                        conn.execute(
                            text(
                                "SELECT online FROM devices WHERE branch_id = 'BR001' "
                                "AND device_type = 'edge'"
                            )
                        ).scalar()
                    )

            wait_for(edge_online, 90, "the edge's birth in the database")
        finally:
            engine.dispose()
        token = requests.post(
            f"{web}/api/v1/auth/token",
            json={"username": "admin", "password": f"pw-{operator['FINEDGE_SECRET_KEY'][:12]}"},
            timeout=10,
        )
        assert token.status_code == 200, token.text
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        devices = requests.get(f"{web}/api/v1/devices?branch_id=BR001", headers=auth, timeout=10)
        assert [d["device_type"] for d in devices.json()["items"]] == ["edge"]
        for name in LONG_RUNNING:
            alive(name)
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        central.stop()
        branch.stop()
        files.close()
    for name, process in processes.items():  # SIGTERM is a clean stop for every role
        assert process.returncode == 0, (
            f"{name} exited {process.returncode}:\n" + (logs[name].read_text()[-3000:])
        )
