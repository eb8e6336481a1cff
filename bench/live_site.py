"""A live FinEdge for the pages benchmark and the browser tests: ``finedge serve`` on a seeded
database (SQLite in a temporary folder, or a PostgreSQL database of its own), driven by Debian's
Chromium through Playwright (bench/pages.py; tests/browser/ through tests/browser_support.py,
which adds screenshots). Nothing is downloaded: Playwright's own browsers are never installed;
``CHROMIUM`` is the system's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from backend.roles.broker import free_port

FINEDGE = str(Path(sys.executable).with_name("finedge"))
CHROMIUM = os.environ.get("FINEDGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def chromium_reason() -> str | None:
    """Why browser tests cannot run here (None: they can)."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is absent (make venv installs Debian's chromium as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    proc: subprocess.Popen
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def finedge(self, *args: str, timeout: float = 300) -> str:
        """Run a ``finedge`` command against this server's database."""
        result = subprocess.run(
            [FINEDGE, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise AssertionError(f"finedge {' '.join(args)}: {result.stderr[-2000:]}")
        return result.stdout

    def token(self, username: str, password: str | None = None, *, fresh: bool = False) -> str:
        """A token of ``username`` (password ``<username>-demo`` unless given), kept for the
        next calls unless ``fresh``."""
        if fresh or username not in self.tokens:
            r = requests.post(
                f"{self.url}/api/v1/auth/token",
                json={"username": username, "password": password or f"{username}-demo"},
                timeout=30,
            )
            r.raise_for_status()
            self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    def api(self, method: str, path: str, username: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(username)}", **kwargs.pop("headers", {})}
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            headers.setdefault("Idempotency-Key", os.urandom(8).hex())
        response = requests.request(
            method, f"{self.url}/api/v1{path}", headers=headers, timeout=60, **kwargs
        )
        if response.status_code == 401 and username in self.tokens:  # expired or revoked
            headers["Authorization"] = f"Bearer {self.token(username, fresh=True)}"
            response = requests.request(
                method, f"{self.url}/api/v1{path}", headers=headers, timeout=60, **kwargs
            )
        return response


def _wait_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"finedge serve exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/api/v1/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"finedge serve did not answer within {timeout} s")


def _finedge(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([FINEDGE, *args], env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"finedge {args[0]}: {result.stderr[-3000:]}"


def _seed_with_progress(env: dict[str, str], seed_args: tuple[str, ...]) -> None:
    """``finedge seed`` with its progress bars, passed on to standard error one line per
    update (at most one a second), so that they show through a pipe too (a benchmark's log)."""
    proc = subprocess.Popen(
        [FINEDGE, "seed", *seed_args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    tail: list[str] = []
    pending, held, last_shown = "", "", 0.0
    for raw in iter(lambda: proc.stderr.read1(4096), b""):
        pending += raw.decode(errors="replace")
        *parts, pending = re.split(r"[\r\n]", pending)
        if "%|" in pending:  # tqdm writes each state of a bar whole: "seed:  45%|####  | 45/100"
            parts, pending = [*parts, pending], ""
        for part in filter(None, (p.strip() for p in parts)):
            tail = [*tail[-40:], part]
            now = time.monotonic()
            if "%|" not in part:
                print(part, file=sys.stderr, flush=True)
            elif now - last_shown >= 1.0:
                print(part, file=sys.stderr, flush=True)
                held, last_shown = "", now
            else:
                held = part  # shown if no later state comes
    if held:
        print(held, file=sys.stderr, flush=True)
    code = proc.wait(timeout=1800)
    assert code == 0, "finedge seed: " + "\n".join(tail)


@contextmanager
def live_server(
    *,
    database_url: str | None = None,
    seed_args: tuple[str, ...] = ("--enterprises", "40"),
    progress: bool = False,
    env: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    """Migrate and seed a database (demo users: password ``<username>-demo``), start
    ``finedge serve`` on free ports, yield it, stop it (and remove its folder). ``seed_args``
    go to ``finedge seed`` (e.g. ``--dealers 2 --cars 10000``); with ``progress`` its progress
    bars go to this process's standard error; ``env``: more variables for both."""
    folder = Path(tempfile.mkdtemp(prefix="finedge-browser-"))
    extra_env = env or {}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MQTT_URL", "DATABASE_URL", "REDIS_URL", "BRANCH_MQTT_URL")
    }
    env.update(
        FINEDGE_ENV="demo",
        FINEDGE_VAR_DIR=str(folder),
        DATABASE_URL=database_url or f"sqlite:///{folder}/browser.db",
        FINEDGE_WX_LOGIN="on",
    )
    env.update(extra_env)
    log = folder / "serve.log"
    proc = None
    try:
        _finedge(env, "db", "upgrade")
        if progress:
            _seed_with_progress(env, seed_args)
        else:
            _finedge(env, "seed", "--quiet", *seed_args)
        port, mqtt_port = free_port(), free_port()
        with log.open("w") as out:
            proc = subprocess.Popen(
                [FINEDGE, "serve", "--port", str(port), "--mqtt-port", str(mqtt_port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        _wait_up(url, proc, log)
        yield LiveServer(url, env, proc, log)
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def login(
    page,
    server_url: str,
    username: str,
    surface: str = "m",
    password: str | None = None,
    *,
    home: bool = True,
):
    """Log in through the login page as a person would; waits for the role's home page (with
    ``home=False`` only for leaving the login page: the session is then in the tab, whether
    or not the home page exists)."""
    page.goto(f"{server_url}/{surface}/login")
    page.fill("#username", username)
    page.fill("#password", password or f"{username}-demo")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    if home:
        page.wait_for_selector("#fe-user:not([hidden])")
