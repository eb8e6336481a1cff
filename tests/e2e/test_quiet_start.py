"""A quiet, honest start, with the real commands in subprocesses (docs/iot.md, README):

- a taken port is one line (``error: … port N … is in use …``) and a non-zero exit, with no
  banner and no traceback: ``finedge serve`` (its HTTP and its MQTT port), ``web``, ``hub``
  and ``scheduler`` (their probes), ``edge`` (its branch broker);
- ``finedge serve`` stops on SIGINT and SIGTERM however it was started: in the foreground,
  as a shell script's background job (SIGINT ignored), under a trap like `make demo`'s;
- devices and an edge started before ``serve`` wait quietly: one line that they wait, one
  when connected, not a line per refused login; serve's log has no scheduler chatter, no
  Werkzeug development-server warning and no ANSI colour codes (its output is a file).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from backend.roles.broker import free_port
from tests.iot_support import wait_for

FINEDGE = str(Path(sys.executable).with_name("finedge"))
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
ANSI = "\x1b["


@pytest.fixture
def env(tmp_path, sqlite_template):
    shutil.copy(sqlite_template, tmp_path / "demo.db")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MQTT_URL", "BRANCH_MQTT_URL", "DATABASE_URL", "NO_COLOR")
    }
    env.update(
        FINEDGE_ENV="demo",
        FINEDGE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/demo.db",
    )
    return env


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _one_line_refusal(args: list[str], env: dict, port: int) -> None:
    done = subprocess.run([FINEDGE, *args], env=env, capture_output=True, text=True, timeout=60)
    output = _lines(done.stdout + done.stderr)
    assert done.returncode != 0, output
    assert len(output) == 1, output
    assert output[0].startswith("error: ") and f"port {port} " in output[0], output
    assert "in use" in output[0]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(lambda p: ["serve", "--port", str(p), "--mqtt-port", "0"], id="serve-http"),
        pytest.param(lambda p: ["serve", "--port", "0", "--mqtt-port", str(p)], id="serve-mqtt"),
        pytest.param(lambda p: ["hub", "--health-host", "127.0.0.1", "--health-port", str(p)],
                     id="hub-probes"),
        pytest.param(
            lambda p: ["scheduler", "--health-host", "127.0.0.1", "--health-port", str(p)],
            id="scheduler-probes",
        ),
        pytest.param(
            lambda p: ["edge", "--branch", "BR001", "--mqtt-port", str(p),
                       "--central", f"mqtt://127.0.0.1:{free_port()}"],
            id="edge-mqtt",
        ),
    ],
)  # fmt: skip
def test_a_taken_port_is_one_line_and_a_non_zero_exit(
    command: Callable[[int], list[str]], env, taken_port
):
    if command(taken_port)[0] == "hub":
        env["MQTT_URL"] = f"mqtt://127.0.0.1:{free_port()}"  # the hub's broker (never reached)
    _one_line_refusal(command(taken_port), env, taken_port)


@pytest.mark.postgres
def test_a_taken_port_of_finedge_web_is_one_line(env, taken_port, pg_database):
    env.update(  # no REDIS_URL: its warning waits until the port is bound
        DATABASE_URL=pg_database,
        FINEDGE_SECRET_KEY="a-test-secret-key-of-at-least-32-characters",
    )
    env.pop("REDIS_URL", None)
    _one_line_refusal(["web", "--port", str(taken_port)], env, taken_port)


def _serve(env: dict, log: Path, *, sigint_ignored: bool = False) -> tuple[subprocess.Popen, int]:
    port = free_port()
    args = [FINEDGE, "serve", "--port", str(port), "--mqtt-port", str(free_port())]

    def child_signals() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN if sigint_ignored else signal.SIG_DFL)

    with log.open("w") as out:
        proc = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=child_signals
        )
    return proc, port


def _wait_serving(proc: subprocess.Popen, log: Path) -> None:
    def serving() -> bool:
        assert proc.poll() is None, log.read_text()[-3000:]
        return "Ctrl-C to stop" in log.read_text()

    wait_for(serving, 60, "serve's banner")


def _stopped(proc: subprocess.Popen, log: Path) -> str:
    try:
        code = proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"serve did not stop: {log.read_text()[-3000:]}") from None
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "stopped" in text and "Traceback" not in text, text[-3000:]
    return text


@pytest.mark.parametrize(
    ("signum", "sigint_ignored"),
    [
        (signal.SIGINT, False),  # Ctrl-C in a terminal
        (signal.SIGINT, True),  # a background job of a shell script: SIGINT ignored at start
        (signal.SIGTERM, False),  # kill, systemd, docker stop, `make demo`'s trap
    ],
    ids=["sigint", "sigint-as-a-background-job", "sigterm"],
)
def test_serve_stops_on_sigint_and_sigterm_however_started(env, tmp_path, signum, sigint_ignored):
    log = tmp_path / "serve.log"
    proc, _port = _serve(env, log, sigint_ignored=sigint_ignored)
    try:
        _wait_serving(proc, log)
        proc.send_signal(signum)
        _stopped(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_stops_under_a_shell_trap_like_make_demo(env, tmp_path):
    """`make demo`'s recipe: serve as a background job of ``sh``, stopped by its trap."""
    log = tmp_path / "serve.log"
    port, mqtt = free_port(), free_port()
    script = (
        "trap 'kill $serve 2>/dev/null; wait' EXIT INT TERM; "
        f"{FINEDGE} serve --port {port} --mqtt-port {mqtt} --no-scheduler & serve=$!; "
        "echo $serve > serve.pid; wait $serve"
    )
    with log.open("w") as out:
        shell = subprocess.Popen(
            ["sh", "-c", script], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: "Ctrl-C to stop" in log.read_text(), 60, "serve's banner")
        serve_pid = int((tmp_path / "serve.pid").read_text())
        shell.send_signal(signal.SIGTERM)
        shell.wait(30)
        wait_for(lambda: not _alive(serve_pid), 30, "serve gone")
        text = log.read_text()
        assert "stopped" in text and "Traceback" not in text, text[-3000:]
    finally:
        if shell.poll() is None:
            shell.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_devices_and_edge_started_before_serve_wait_quietly(env, tmp_path):
    seeded = subprocess.run(
        [FINEDGE, "seed", "--quiet"], env=env, capture_output=True, text=True, timeout=90
    )
    assert seeded.returncode == 0, seeded.stderr
    http, central, branch = free_port(), free_port(), free_port()
    logs = {name: tmp_path / f"{name}.log" for name in ("edge", "devices", "serve")}
    procs: dict[str, subprocess.Popen] = {}

    def start(name: str, args: list[str]) -> None:
        with logs[name].open("w") as out:
            procs[name] = subprocess.Popen(
                [FINEDGE, *args], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def logged(name: str) -> str:
        return logs[name].read_text()

    try:
        central_url = f"mqtt://127.0.0.1:{central}"
        start("edge", ["edge", "--branch", "BR001", "--mqtt-port", str(branch),
                       "--central", central_url])  # fmt: skip
        start("devices", ["devices", "--branch", "BR001", "--broker",
                          f"mqtt://127.0.0.1:{branch}"])  # fmt: skip
        # the edge has no registry yet: it refuses the devices, which say once that they wait
        wait_for(lambda: "waiting for the branch broker" in logged("devices"), 60, "waiting")
        wait_for(lambda: "central broker not reachable yet" in logged("edge"), 60, "edge waits")
        # the devices' logins are refused while they wait (each retries every few seconds)
        wait_for(lambda: "refused login" in logged("edge"), 30, "a refused login")
        start("serve", ["serve", "--port", str(http), "--mqtt-port", str(central)])
        wait_for(lambda: "13/13 devices connected" in logged("devices"), 90, "all connected")
        wait_for(lambda: "central host online" in logged("edge"), 30, "the edge online")
        wait_for(lambda: "scheduler: active" in logged("serve"), 30, "the scheduler active")
    finally:
        codes = {}
        for name in ("devices", "edge", "serve"):  # the devices first: no disconnect warnings
            if name in procs and procs[name].poll() is None:
                procs[name].send_signal(signal.SIGTERM)
            if name in procs:
                codes[name] = _wait(procs[name])

    devices, edge, serve = logged("devices"), logged("edge"), logged("serve")
    for name, text in (("devices", devices), ("edge", edge), ("serve", serve)):
        assert codes[name] == 0, (name, text[-3000:])
        assert "Traceback" not in text and ANSI not in text, (name, text[-3000:])
    # devices: one line that they wait, one when connected; no line per refusal
    assert devices.count("waiting for the branch broker") == 1, devices
    assert "refused" not in devices and "not reachable" not in devices, devices
    # edge: refused logins summarised (at most one line a minute), one line that it waits
    assert edge.count("refused login") <= 2, edge
    assert edge.count("central broker not reachable yet") == 1, edge
    assert len(_lines(edge)) < 30 and len(_lines(devices)) < 10, (edge, devices)
    # serve: no scheduler chatter, no development-server warning
    assert "apscheduler" not in serve and "Running job" not in serve, serve
    assert "development server" not in serve, serve


def _wait(proc: subprocess.Popen) -> int | str:
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "killed"
