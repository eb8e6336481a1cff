"""What `make demo` starts, as processes: serve, the BR001 edge and its simulated devices with
the demo's people (``--scenario cash-loading``).

The seeded devices come online through the edge, a command round-trips, the people play a
cash-loading task end to end (vein consent and enrolment, maker-checker, both loaders verified,
the signed one-time unlock, exchange, reconciliation and booking, door closed), and Ctrl-C
(SIGINT to each, as the terminal sends it to the process group) stops all three cleanly.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from backend.roles.broker import free_port

FINEDGE = str(Path(sys.executable).with_name("finedge"))
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _env(tmp_path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MQTT_URL", "BRANCH_MQTT_URL", "DATABASE_URL")
    }
    env.update(
        FINEDGE_ENV="demo",
        FINEDGE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/demo.db",
    )
    return env


def _start(args, env, log: Path) -> subprocess.Popen:
    with log.open("w") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [FINEDGE, *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def test_demo_processes_bring_branch_br001_online(tmp_path, sqlite_template):
    env = _env(tmp_path)
    shutil.copy(sqlite_template, tmp_path / "demo.db")  # `finedge db upgrade` is test_serve's
    done = subprocess.run(
        [FINEDGE, "seed", "--quiet"], env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    http, central, branch = free_port(), free_port(), free_port()
    procs = {
        "serve": _start(
            ["serve", "--port", str(http), "--mqtt-port", str(central), "--no-scheduler"],
            env,
            tmp_path / "serve.log",
        ),
        "edge": _start(
            [
                "edge",
                "--branch",
                "BR001",
                "--mqtt-port",
                str(branch),
                "--central",
                f"mqtt://127.0.0.1:{central}",
            ],
            env,
            tmp_path / "edge.log",
        ),
        "devices": _start(
            [
                "devices",
                "--branch",
                "BR001",
                "--broker",
                f"mqtt://127.0.0.1:{branch}",
                "--scenario",
                "cash-loading",
                "--api",
                f"http://127.0.0.1:{http}/api/v1",
            ],
            env,
            tmp_path / "devices.log",
        ),
    }
    base = f"http://127.0.0.1:{http}/api/v1"
    started = time.monotonic()
    try:
        deadline = time.monotonic() + 60
        token = None
        while token is None and time.monotonic() < deadline:
            try:
                answer = requests.post(
                    f"{base}/auth/token",
                    json={"username": "admin", "password": "admin-demo"},
                    timeout=10,
                )
                token = answer.json()["access_token"]
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine
                time.sleep(0.3)
        headers = {"Authorization": f"Bearer {token}"}
        online: list[dict] = []
        while time.monotonic() < deadline:
            items = requests.get(
                f"{base}/devices?branch_id=BR001&limit=50", headers=headers, timeout=5
            ).json()["items"]
            online = [d for d in items if d["online"]]
            if len(online) >= 14:  # 13 seeded devices and the edge
                break
            time.sleep(0.5)
        assert len(online) >= 14, (online, (tmp_path / "edge.log").read_text()[-2000:])
        answer = requests.post(
            f"{base}/devices/BR001-CNT-01/commands",
            json={"name": "counter.print_test"},
            headers=headers,
            timeout=15,
        )
        assert answer.status_code == 201 and answer.json()["status"] == "ok", answer.text
        print(f"branch online and a command answered {time.monotonic() - started:.1f}s after start")

        devices_log = tmp_path / "devices.log"
        played = devices_log.read_text()
        while time.monotonic() < deadline + 60 and not (
            "closed in" in played or "cash-loading: failed" in played
        ):
            time.sleep(0.5)
            played = devices_log.read_text()
        assert "cash-loading: failed" not in played, played[-3000:]
        assert "closed in" in played, played[-3000:]
        tasks = requests.get(
            f"{base}/cash-tasks?branch_id=BR001", headers=headers, timeout=5
        ).json()["items"]
        assert [t["status"] for t in tasks] == ["closed"], tasks
        task = tasks[0]
        assert task["loaded"] == {"100.00": "20000.00"}, task
        assert task["review"] is None and task["checker_id"] != task["maker_id"]
        print(f"cash-loading task closed {time.monotonic() - started:.1f}s after start")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        codes = {}
        for name, proc in procs.items():
            try:
                codes[name] = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = "killed"
    for name in procs:
        log = (tmp_path / f"{name}.log").read_text()
        assert codes[name] == 0, (name, log[-3000:])
        assert "stopped" in log, (name, log[-3000:])
        assert "Traceback" not in log, (name, log[-3000:])
