"""FinEdge in its production shape on this machine, without Docker: the docker-compose.yml
services' command lines and environment, with only hosts, ports and the operator's secrets
replaced by this machine's (a fresh PostgreSQL database, the machine's Redis, and Mosquittos of
the checked-in dynamic-security configs with throwaway TLS certificates).

    rig = ProductionRig(tmp_path, database_url)
    rig.migrate_and_bootstrap()                 # what deploy/README.md has the operator run
    rig.start("web-1", "web", {"--port": free_port()})
    rig.wait_ready("web-1")
    ...
    rig.close()                                 # SIGTERM to everything, then the brokers

Used by tests/e2e/test_compose_services.py and tests/e2e/test_production_shape.py.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.dynsec_support import DynsecMosquitto, make_certs, start_dynsec_mosquitto
from tests.iot_support import wait_for
from tests.mosquitto_process import free_port

ROOT = Path(__file__).resolve().parents[1]
FINEDGE = str(Path(sys.executable).with_name("finedge"))
REDIS_URL = "redis://127.0.0.1:6379/0"
BRANCH = "BR001"


def compose_services() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def compose_command(service: dict[str, Any], ports: dict[str, int]) -> list[str]:
    """The service's command line, its ports (``--port`` and the like) moved to ``ports``."""
    command = service["command"]
    tokens = shlex.split(command) if isinstance(command, str) else list(command)
    assert tokens[0] == "finedge"
    tokens[0] = FINEDGE
    for flag, port in ports.items():
        if flag in tokens:
            tokens[tokens.index(flag) + 1] = str(port)
    return tokens


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path
    health: str | None  # the URL that answers 200 once the process is ready


@dataclass
class ProductionRig:
    tmp_path: Path
    database: str
    services: dict[str, Any] = field(default_factory=compose_services)
    processes: dict[str, Process] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._files = contextlib.ExitStack()
        certs = make_certs(self.tmp_path / "certs")
        self.certs = certs
        self.central: DynsecMosquitto = start_dynsec_mosquitto(
            self.tmp_path / "central", "central", certs
        )
        try:
            self.branch: DynsecMosquitto = start_dynsec_mosquitto(
                self.tmp_path / "branch", "branch", certs
            )
        except BaseException:
            self.central.stop()
            raise
        self.operator = {
            "FINEDGE_SECRET_KEY": secrets.token_urlsafe(48),
            "MQTT_BACKEND_PASSWORD": secrets.token_urlsafe(16),
            "MQTT_EDGE_BR001_PASSWORD": secrets.token_urlsafe(16),
        }
        self.admin_password = f"pw-{secrets.token_urlsafe(12)}"

    # ------------------------------------------------------------------ environment

    def _local(self, name: str, value: str) -> str:
        """A compose environment value with this machine's hosts, ports and secrets."""
        if name == "FINEDGE_SECRET_KEY":
            return self.operator[name]
        if name == "FINEDGE_VAR_DIR":
            return str(self.tmp_path / "var")
        if name == "DATABASE_URL":
            return self.database
        if name == "REDIS_URL":
            return REDIS_URL
        if name == "FINEDGE_RPA_QUEUE" and value.startswith("redis://redis:"):
            return REDIS_URL.rsplit("/", 1)[0] + "/" + value.rsplit("/", 1)[1]
        if name == "MQTT_URL" and value.startswith("mqtt://backend:"):
            return self.central.url("backend", self.operator["MQTT_BACKEND_PASSWORD"])
        if name == "MQTT_URL" and value.startswith("mqtts://"):
            return f"mqtts://127.0.0.1:{self.central.tls_port}"  # the edge's login is derived
        if name == "MQTT_ADMIN_URL":
            return self.central.admin_url
        if name == "BRANCH_MQTT_URL" and "edge-br001" in value:
            return self.branch.url("edge-br001", self.operator["MQTT_EDGE_BR001_PASSWORD"])
        if name == "BRANCH_MQTT_URL":  # the simulators: their own logins, from the registry
            return f"mqtts://127.0.0.1:{self.branch.tls_port}"
        if name == "BRANCH_MQTT_ADMIN_URL":
            return self.branch.admin_url
        if name == "FINEDGE_MQTT_CA_FILE":
            return str(self.certs.ca)
        assert "${" not in value, f"{name}: no local value for {value}"
        return value

    def env_of(self, service: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FINEDGE_", "WX_"))}
        for key in ("DATABASE_URL", "MQTT_URL", "BRANCH_MQTT_URL", "REDIS_URL"):
            env.pop(key, None)
        env.update(
            {k: self._local(k, str(v)) for k, v in self.services[service]["environment"].items()}
        )
        env.update(extra)
        return env

    # ------------------------------------------------------------------ one-shot commands

    def run(self, argv: list[str], stdin: str = "", service: str = "web") -> str:
        """A ``finedge`` command with the service's environment; its stdout (exit 0 asserted)."""
        done = subprocess.run(
            [FINEDGE, *argv],
            env=self.env_of(service),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return done.stdout

    def migrate_and_bootstrap(self, *branch_args: str) -> None:
        """The one-shot migration, the bank and its first admin, and branch BR001."""
        migrate = subprocess.run(
            compose_command(self.services["migrate"], {}),
            env=self.env_of("migrate"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr
        self.run(
            ["bootstrap", "--org-code", "BANK", "--org-name", "Bank", "--admin", "admin"],
            stdin=f"{self.admin_password}\n",
        )
        self.run(["branches", "add", BRANCH, "--name", "Main", *branch_args])

    # ------------------------------------------------------------------ long-running roles

    def start(
        self,
        name: str,
        service: str,
        *,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> Process:
        """Start the compose service ``service`` as process ``name`` on free ports."""
        ports: dict[str, int] = {}
        health = None
        if service == "web":
            ports["--port"] = free_port()
            health = f"http://127.0.0.1:{ports['--port']}/api/v1/health"
        elif service in ("hub", "scheduler"):
            ports["--health-port"] = free_port()
            health = f"http://127.0.0.1:{ports['--health-port']}/readyz"
        command = argv or compose_command(self.services[service], ports)
        log = self.tmp_path / f"{name}.log"
        popen = subprocess.Popen(
            command,
            env=env or self.env_of(service),
            stdout=self._files.enter_context(log.open("w")),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log, health)
        self.processes[name] = process
        return process

    def port(self, name: str) -> int:
        health = self.processes[name].health
        assert health is not None
        return int(health.split(":")[2].split("/")[0])

    def base(self, name: str) -> str:
        """A web process's address."""
        return f"http://127.0.0.1:{self.port(name)}"

    def alive(self, name: str) -> bool:
        process = self.processes[name]
        assert process.popen.poll() is None, (
            f"{name} exited {process.popen.returncode}:\n{process.log.read_text()[-4000:]}"
        )
        return True

    def probe(self, name: str) -> dict[str, Any] | None:
        """The health answer's body when it is 200, else None."""
        health = self.processes[name].health
        assert health is not None
        try:
            answer = requests.get(health, timeout=3)
        except requests.RequestException:
            return None
        if answer.status_code != 200:
            return None
        try:
            return answer.json()
        except ValueError:
            return {}

    def wait_ready(self, name: str, timeout: float = 90) -> None:
        wait_for(
            lambda: self.alive(name) and self.probe(name) is not None, timeout, f"{name} ready"
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        process = self.processes[name].popen
        os.killpg(process.pid, sig)
        return process.wait(60)

    def token(self, web: str, username: str = "admin", password: str | None = None) -> str:
        answer = requests.post(
            f"{self.base(web)}/api/v1/auth/token",
            json={"username": username, "password": password or self.admin_password},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    def close(self) -> dict[str, int | None]:
        """SIGTERM to every process still running (then SIGKILL after 30 s), the brokers
        stopped; each process's exit code."""
        try:
            for process in self.processes.values():
                if process.popen.poll() is None:
                    os.killpg(process.popen.pid, signal.SIGTERM)
            for process in self.processes.values():
                try:
                    process.popen.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.popen.pid, signal.SIGKILL)
                    process.popen.wait(10)
        finally:
            self.central.stop()
            self.branch.stop()
            self._files.close()
        return {name: p.popen.returncode for name, p in self.processes.items()}

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return self.processes[name].log.read_text()[-chars:]
