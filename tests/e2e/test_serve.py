"""`finedge serve` as a user runs it (what `make demo` does): migrate, seed, serve, Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from backend.roles.broker import free_port

FINEDGE = str(Path(sys.executable).with_name("finedge"))


@pytest.fixture
def env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("MQTT_URL", "DATABASE_URL")}
    env.update(
        FINEDGE_ENV="demo",
        FINEDGE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/demo.db",
    )
    return env


def _run(args, env):
    result = subprocess.run([FINEDGE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _wait_http(url, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read()}")
        try:
            return requests.get(url, timeout=10)
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine
            time.sleep(0.3)
    raise AssertionError("server did not answer in time")


@pytest.mark.slow
def test_demo_flow_serves_openapi_and_tokens_and_stops_on_ctrl_c(env):
    _run(["db", "upgrade"], env)
    out = _run(["seed", "--quiet"], env)
    assert "dealer1-demo" in out
    assert "dealer1" in _run(["seed", "--quiet"], env)  # runs again, changes nothing
    port, mqtt_port = free_port(), free_port()
    proc = subprocess.Popen(
        [FINEDGE, "serve", "--port", str(port), "--mqtt-port", str(mqtt_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        spec = _wait_http(f"{base}/openapi.json", proc)
        assert spec.status_code == 200 and spec.json()["info"]["title"] == "FinEdge API"
        for user in ("admin", "dealer1", "teller1", "loader2", "client1"):
            token = requests.post(
                f"{base}/auth/token",
                json={"username": user, "password": f"{user}-demo"},
                timeout=10,
            )
            assert token.status_code == 200, token.text
        import socket

        with socket.create_connection(("127.0.0.1", mqtt_port), timeout=5):
            pass  # the embedded central broker listens
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{port}/api/v1" in output and "stopped" in output
