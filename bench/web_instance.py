"""A production web instance for the benchmarks and tests: a PostgreSQL database of its own
(``bench_database``: created, migrated, seeded with the demo users, dropped afterwards) and
``python -m backend.web_entry`` (what ``finedge web`` becomes) in production mode on a free
port, with the machine's Redis as the Socket.IO message queue (``WebInstance``)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import requests

SECRET_KEY = "bench-web-" + "k" * 40
# Until wx-login is optional in production (issue 12), the web role wants these; never used.
WX_PLACEHOLDERS = {"WX_APPID": "bench-unused", "WX_SECRET": "bench-unused"}
BANNER = re.compile(r"HTTP\s+(http://\S+?)/api/v1\b")


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"the web benchmark needs Redis at {url}: {exc}") from exc


@contextlib.contextmanager
def bench_database(admin_url: str, *, seeded: bool = True) -> Iterator[str]:
    """A new PostgreSQL database next to ``admin_url``'s, at head, with the demo users."""
    import psycopg

    from backend.bootstrap import bootstrap
    from backend.platform import migrate
    from backend.platform.config import Config
    from backend.platform.db import session_scope
    from backend.platform.seeding import SeedOptions
    from backend.seed import seed

    admin = admin_url.replace("postgresql+psycopg", "postgresql")
    name = f"finedge_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        if seeded:
            environ = {"FINEDGE_ENV": "demo", "FINEDGE_SECRET_KEY": SECRET_KEY}
            config = Config.from_env(environ, database_url=url)
            runtime = bootstrap(config, "cli")
            try:
                with session_scope(runtime.session_factory) as session:
                    seed(session, config, SeedOptions(progress=False))
            finally:
                runtime.stop()
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production_environment(database_url: str, redis_url: str | None, **extra: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MQTT_URL", "BRANCH_MQTT_URL", "REDIS_URL", "DATABASE_URL")
    }
    env.update(
        FINEDGE_ENV="production",
        FINEDGE_SECRET_KEY=SECRET_KEY,
        DATABASE_URL=database_url,
        **WX_PLACEHOLDERS,
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


class WebInstance:
    """``python -m backend.web_entry ROLE --port 0`` in production; ``base`` once it answers
    health. A context manager: SIGTERM at the end (then kill past 30 s)."""

    def __init__(
        self,
        database_url: str,
        redis_url: str | None,
        deadline: float,
        *,
        role: str = "web",
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.deadline = deadline
        self.env = production_environment(database_url, redis_url, **(env or {}))
        self.env.setdefault("FINEDGE_VAR_DIR", tempfile.mkdtemp(prefix="finedge-web-var-"))
        self.command = command or [
            sys.executable, "-m", "backend.web_entry", role,
            "--host", "127.0.0.1", "--port", "0", "--no-access-log", *args,
        ]  # fmt: skip
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []
        self.base = ""
        self._tokens: dict[str, dict[str, Any]] = {}
        self._http = requests.Session()
        self._http.trust_env = False
        self._emitter: Any = None
        self._drainer: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> WebInstance:
        self.proc = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self, last: int | None = None) -> str:
        """What it printed (the ``last`` lines only, when given)."""
        return "\n".join(self.lines[-last:] if last else self.lines)

    def _wait_ready(self) -> None:
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the web instance exited ({self.proc.returncode}):\n{self.output(40)}"
                )
            if time.monotonic() > self.deadline:
                raise TimeoutError(
                    f"time limit reached starting the web instance:\n{self.output(40)}"
                )
            if not self.base:
                found = next((m for line in self.lines if (m := BANNER.search(line))), None)
                self.base = found.group(1) if found else ""
            if self.base:
                with contextlib.suppress(requests.RequestException):
                    if self._http.get(f"{self.base}/api/v1/health", timeout=5).status_code == 200:
                        return
            time.sleep(0.1)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then wait (kill past ``timeout``); the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._drainer is not None:
            self._drainer.join(10)  # the whole output read, then its pipe closed
        self.proc.stdout.close()
        return self.proc.returncode

    # ------------------------------------------------------------------ looking at it

    def login(self, username: str, password: str | None = None) -> dict[str, Any]:
        if username not in self._tokens:
            response = self._http.post(
                f"{self.base}/api/v1/auth/token",
                json={"username": username, "password": password or f"{username}-demo"},
                timeout=30,
            )
            response.raise_for_status()
            self._tokens[username] = response.json()
        return self._tokens[username]

    def token(self, username: str) -> str:
        return self.login(username)["access_token"]

    def user_id(self, username: str) -> int:
        return self.login(username)["user"]["id"]

    def get(self, path: str, username: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(username)}"} if username else {}
        return self._http.get(f"{self.base}{path}", headers=headers, timeout=30, **kwargs)

    def post(self, path: str, username: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(username)}"}
        return self._http.post(f"{self.base}{path}", headers=headers, timeout=30, **kwargs)

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the instance has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def emitter(self, events: tuple[str, ...] = ("queue.update",)):
        """A live emitter on the same Redis, as the hub's and the scheduler's (one, made and
        connected on first use)."""
        from backend.bootstrap import collect_areas, live_audiences
        from backend.roles.live import external_emitter

        if self._emitter is None:
            rules = live_audiences(collect_areas())  # each event's audience rule, as the hub's
            audiences = {event: rules[event] for event in events}
            self._emitter = external_emitter(self.redis_url, dict.fromkeys(events), audiences)
            self._emitter.send(events[0], {"warm_up": True}, rooms=["user:0"])  # nobody
        return self._emitter
