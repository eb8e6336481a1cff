"""Test helper: a private Mosquitto process on a free port, in a temporary directory.

Used by the MQTT integration tests (auth and ACL against the real broker) and by the compose
test (the checked-in configs, rewritten to a free port and temporary paths, must start).
"""

from __future__ import annotations

import getpass
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_mosquitto() -> None:
    """Skip (with the reason printed by -ra) where the mosquitto binaries are missing."""
    for binary in (MOSQUITTO, MOSQUITTO_PASSWD):
        if not Path(binary).is_file():
            pytest.skip(f"{Path(binary).name} binary not found (looked for {binary})")


def write_password_file(path: Path, users: dict[str, str]) -> Path:
    first = True
    for username, password in users.items():
        args = [MOSQUITTO_PASSWD, "-b"] + (["-c"] if first else []) + [str(path)]
        subprocess.run([*args, username, password], check=True, capture_output=True, timeout=10)
        first = False
    path.chmod(0o600)
    return path


def rewrite_config(
    text: str, *, port: int, workdir: Path, password_file: Path, acl_file: Path
) -> str:
    """A checked-in mosquitto.conf made runnable here: our port, paths and user."""
    replacements = {
        r"^listener\s+.*$": f"listener {port} 127.0.0.1",
        r"^password_file\s+.*$": f"password_file {password_file}",
        r"^acl_file\s+.*$": f"acl_file {acl_file}",
        r"^persistence_location\s+.*$": f"persistence_location {workdir}/",
        r"^log_dest\s+.*$": f"log_dest file {workdir / 'mosquitto.log'}",
        r"^user\s+.*$": "",
    }
    for pattern, replacement in replacements.items():
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        if count == 0 and not pattern.startswith("^user"):
            raise AssertionError(f"config has no line matching {pattern!r}")
    # Running as root, mosquitto drops to user "mosquitto", which cannot read pytest's 0700
    # temporary directories; stay the user we are.
    return text + f"\nuser {getpass.getuser()}\n"


class MosquittoProcess:
    """``mosquitto -c <conf>`` as a child process; ``restart()`` keeps the port."""

    def __init__(self, config_path: Path, port: int) -> None:
        self.config_path = config_path
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        log_file = self.config_path.parent / "mosquitto.log"
        return log_file.read_text(errors="replace") if log_file.exists() else ""

    def start(self, timeout: float = 5.0) -> MosquittoProcess:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(
                    f"mosquitto exited with {self.proc.returncode}: {err}\n{self.log}"
                )
            if port_open("127.0.0.1", self.port, timeout=0.2):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def start_mosquitto(
    workdir: Path,
    *,
    users: dict[str, str],
    acl: str | Path,
    config_text: str | None = None,
) -> MosquittoProcess:
    """Write password file, ACL and config into ``workdir`` and start mosquitto."""
    require_mosquitto()
    workdir.mkdir(parents=True, exist_ok=True)
    password_file = write_password_file(workdir / "passwd", users)
    if isinstance(acl, Path):
        acl_file = acl
    else:
        acl_file = workdir / "acl"
        acl_file.write_text(acl)
    if config_text is None:
        config_text = "\n".join(
            [
                "per_listener_settings false",
                "allow_anonymous false",
                "password_file x",
                "acl_file x",
                "listener 1883",
                "persistence false",
                "persistence_location x",
                "log_dest stderr",
                "log_type error",
                "log_type warning",
                "set_tcp_nodelay true",
                "max_queued_messages 10000",
            ]
        )
    port = free_port()
    config = rewrite_config(
        config_text, port=port, workdir=workdir, password_file=password_file, acl_file=acl_file
    )
    config_path = workdir / "mosquitto.conf"
    config_path.write_text(config)
    return MosquittoProcess(config_path, port).start()
