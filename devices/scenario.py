"""The people of the demo branch: a cash-loading task played end to end.

``finedge devices --branch BR001 --scenario cash-loading`` runs this next to the simulated
devices. It plays, as the real people would:

- through the mini-program's HTTP API (``/api/v1``): teller1 makes the task, approver1 approves
  it, loader1 and loader2 record their vein consent, teller1 asks the lock to enrol them, the
  loaders read the one-time code from their view of the task;
- physically, at the simulated devices of this process: the loaders present their fingers at
  the finger-vein lock (three captures to enrol, then to verify), type the code, open the cash
  machine's safe door, refill its cash units in exchange mode, end the exchange on its panel
  and close the door.

Everything else is the platform's own work: the centre checks the task, both identities, the
window and the devices, signs the one-time unlock, puts the machine in exchange mode,
reconciles the counted notes, books them through the ledger and closes the task. Each step is
printed; a step the platform does not complete in time stops the run with one line that says
which and why (the fleet keeps running).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests

from devices.base import CommandRejected, SimulatedDevice
from devices.cash import CashRecycler
from devices.lock import VeinLock

log = logging.getLogger(__name__)

SCENARIOS = ("cash-loading",)
CONSENT_TEXT = "vein-v1"
CAPTURES = 3


class ScenarioFailed(Exception):
    """A step did not complete: the message says which and why."""


class Person:
    """One demo user talking to the API with their own token."""

    def __init__(self, api: str, username: str, *, timeout_s: float = 10.0) -> None:
        self.api = api.rstrip("/")
        self.username = username
        self.timeout_s = timeout_s
        self.http = requests.Session()
        self.user: dict[str, Any] = {}

    def login(self) -> Person:
        answer = self.http.post(
            f"{self.api}/auth/token",
            json={"username": self.username, "password": f"{self.username}-demo"},
            timeout=self.timeout_s,
        )
        body = self._body(answer, "log in")
        self.http.headers["Authorization"] = f"Bearer {body['access_token']}"
        self.user = body["user"]
        return self

    @property
    def id(self) -> int:
        return int(self.user["id"])

    def get(self, path: str) -> Any:
        return self._body(self.http.get(self.api + path, timeout=self.timeout_s), f"GET {path}")

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.post(
            self.api + path,
            json=body or {},
            headers={"Idempotency-Key": uuid.uuid4().hex},
            timeout=self.timeout_s,
        )
        return self._body(answer, f"POST {path}")

    def delete(self, path: str) -> Any:
        answer = self.http.delete(
            self.api + path, headers={"Idempotency-Key": uuid.uuid4().hex}, timeout=self.timeout_s
        )
        return self._body(answer, f"DELETE {path}")

    def _body(self, answer: requests.Response, what: str) -> Any:
        try:
            body = answer.json() if answer.content else {}
        except ValueError:
            body = {}
        if answer.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise ScenarioFailed(
                f"{self.username}: {what} -> {answer.status_code} "
                f"{error.get('code', '')}: {error.get('message', answer.text[:200])}"
            )
        return body


class CashLoading:
    """One cash-loading task at one cash machine of the fleet, start to finish."""

    def __init__(
        self,
        devices: list[SimulatedDevice],
        api: str,
        *,
        branch_id: str,
        echo: Callable[[str], None] = print,
        stop: threading.Event | None = None,
        step_timeout_s: float = 30.0,
        amounts: dict[str, str] | None = None,
        maker: str = "teller1",
        checker: str = "approver1",
        loaders: tuple[str, str] = ("loader1", "loader2"),
    ) -> None:
        self.devices = {d.device_id: d for d in devices}
        self.api = api
        self.branch_id = branch_id
        self.echo = echo
        self.stop = stop or threading.Event()
        self.step_timeout_s = step_timeout_s
        self.amounts = amounts or {"100.00": "20000.00"}
        self.names = {"maker": maker, "checker": checker}
        self.loader_names = loaders

    # ------------------------------------------------------------------ helpers

    def say(self, text: str) -> None:
        self.echo(f"cash-loading: {text}")

    def wait(self, what: str, check: Callable[[], Any], timeout_s: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout_s or self.step_timeout_s)
        while True:
            value = check()
            if value:
                return value
            if self.stop.is_set():
                raise ScenarioFailed(f"stopped while waiting for {what}")
            if time.monotonic() > deadline:
                raise ScenarioFailed(f"{what}: not within {timeout_s or self.step_timeout_s:.0f} s")
            time.sleep(0.2)

    def wait_for_api(self, timeout_s: float = 120.0) -> None:
        def up() -> bool:
            try:
                requests.get(f"{self.api.rstrip('/')}/health", timeout=2)
            except requests.RequestException:
                return False
            return True

        self.wait("the central API", up, timeout_s)

    # ------------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.wait_for_api()
        maker = Person(self.api, self.names["maker"]).login()
        checker = Person(self.api, self.names["checker"]).login()
        loaders = [Person(self.api, name).login() for name in self.loader_names]
        atm = self._pick_machine(maker)
        self.say(f"{maker.username} prepares a task for cash machine {atm.device_id}")

        now = datetime.now(UTC)
        task = maker.post(
            "/cash-tasks",
            {
                "device_id": atm.device_id,
                "loaders": [p.id for p in loaders],
                "window_start": (now - timedelta(minutes=1)).isoformat(),
                "window_end": (now + timedelta(hours=1)).isoformat(),
                "amounts": self.amounts,
            },
        )
        path = f"/cash-tasks/{task['id']}"
        lock = self._device(task["lock_id"], VeinLock)
        self.say(
            f"task {task['ref']} {task['status']}: {task['total']} CNY into {atm.device_id}, "
            f"lock {lock.device_id}, loaders {' + '.join(p.username for p in loaders)}"
        )
        self._online(maker, lock.device_id)
        for loader in loaders:
            self._ensure_enrolled(maker, lock, loader)

        task = checker.post(f"{path}/approve")
        self.say(f"{checker.username} approved: {task['status']}")

        for loader in loaders:
            score = lock.present_finger(loader.username)
            self.say(f"{loader.username} verifies at the lock: {'matched' if score else 'NO'}")
        self.wait("the centre's signed one-time unlock", lambda: lock.state["armed"])
        code = self.wait(
            "the one-time code in loader's view",
            lambda: loaders[0].get(path).get("unlock_code"),
        )
        self.say(
            f"the centre armed the lock (valid 120 s); {loaders[0].username} reads the code "
            "in the mini-program"
        )

        for loader in loaders:
            lock.present_finger(loader.username)
        if not lock.enter_code(code):
            raise ScenarioFailed("the lock refused the one-time code")
        self.wait("the lock to open", lambda: lock.state["lock"] == "unlocked")
        self.wait("task unlocked", lambda: maker.get(path)["status"] == "unlocked")
        self.wait("exchange mode", lambda: atm.state["mode"] == "exchange")
        self.say("lock open, task unlocked; the machine is in exchange mode")

        atm.open_safe_door()
        for denomination, amount in self.amounts.items():
            notes = int(Decimal(amount) / Decimal(denomination))
            unit = self._unit_for(atm, denomination, notes)
            atm.replenish(unit["unit"], unit["count"] + notes)
            self.say(f"loaded {notes} notes of {denomination} into {unit['unit']}")
        atm.end_exchange()
        loaded = self.wait(
            "counts reconciled and booked",
            lambda: (v := maker.get(path))["status"] in ("loaded", "closed") and v,
        )
        if loaded["phase"] == "count_mismatch":
            raise ScenarioFailed(f"counts differ from the task: {loaded['counts']}")
        booked = ", ".join(f"{a} in {d} notes" for d, a in loaded["loaded"].items())
        self.say(f"counts reconciled, booked through the ledger: {booked}")

        atm.close_safe_door()
        closed = self.wait(
            "task closed", lambda: (v := maker.get(path))["status"] == "closed" and v
        )
        self.wait("the lock to relock", lambda: lock.state["lock"] == "locked")
        elapsed = time.monotonic() - started
        self.say(f"door closed, lock relocked: task {closed['ref']} closed in {elapsed:.1f} s")
        return closed

    # ------------------------------------------------------------------ steps

    def _device(self, device_id: str | None, kind: type) -> Any:
        device = self.devices.get(device_id or "")
        if not isinstance(device, kind):
            raise ScenarioFailed(f"{device_id} is not a simulated {kind.__name__} of this fleet")
        return device

    def _pick_machine(self, maker: Person) -> CashRecycler:
        """A connected cash machine in service that the centre sees online."""
        atm = self.wait(
            f"a cash machine of {self.branch_id} connected",
            lambda: next(
                (
                    d
                    for d in self.devices.values()
                    if isinstance(d, CashRecycler) and d.connected and d.state["mode"] == "normal"
                ),
                None,
            ),
            timeout_s=60,
        )
        self._online(maker, atm.device_id)
        self.wait("the safe door closed", lambda: atm.state["safe_door"] == "closed")
        return atm

    def _online(self, person: Person, device_id: str) -> None:
        self.wait(
            f"{device_id} online at the centre",
            lambda: person.get(f"/devices/{device_id}").get("online"),
            timeout_s=60,
        )

    def _ensure_enrolled(self, maker: Person, lock: VeinLock, loader: Person) -> None:
        consent = loader.get("/vein/consent")
        if consent.get("status") != "granted":
            loader.post("/vein/consent", {"text_version": CONSENT_TEXT})
            self.say(f"{loader.username} records vein consent ({CONSENT_TEXT})")
        enrolments = f"/locks/{lock.device_id}/enrolments"

        def record() -> dict[str, Any] | None:
            items = maker.get(enrolments)["items"]
            return next((e for e in items if e["loader_id"] == loader.id), None)

        current = record()
        if current and current["status"] == "enrolled" and loader.username in lock.templates:
            return
        if current:  # the lock forgot them (a new or reset lock): enrol again
            maker.delete(f"{enrolments}/{loader.id}")
            self.wait(f"{loader.username}'s old enrolment revoked", lambda: record() is None)
        commands_before = len(lock.acted)
        maker.post(enrolments, {"loader_id": loader.id})
        self.wait(
            "the lock's capture session",
            lambda: any(
                name == "lock.enroll" and args.get("loader_id") == loader.username
                for name, args in lock.acted[commands_before:]
            ),
        )
        for _ in range(CAPTURES):
            lock.present_finger(loader.username)
            time.sleep(0.1)
        self.wait(
            f"{loader.username} enrolled",
            lambda: (record() or {}).get("status") == "enrolled",
        )
        self.say(f"{loader.username} enrolled at lock {lock.device_id} (template kept on the lock)")

    @staticmethod
    def _unit_for(atm: CashRecycler, denomination: str, notes: int) -> dict[str, Any]:
        with atm.lock:
            units = [
                dict(u)
                for u in atm.state["units"]
                if u["denomination"] == denomination and u["count"] + notes <= u["capacity"]
            ]
        if not units:
            raise CommandRejected(f"no cash unit of {denomination} has room for {notes} notes")
        return min(units, key=lambda u: u["count"])


def play(
    name: str,
    devices: list[SimulatedDevice],
    api: str,
    *,
    branch_id: str,
    stop: threading.Event,
    every_s: float = 0.0,
    echo: Callable[[str], None] = print,
) -> threading.Thread:
    """Play a scenario in a thread: once, or every ``every_s`` seconds until ``stop``."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")

    def loop() -> None:
        while True:
            try:
                CashLoading(devices, api, branch_id=branch_id, echo=echo, stop=stop).run()
            except (ScenarioFailed, CommandRejected, requests.RequestException) as exc:
                echo(f"cash-loading: failed: {exc}")
            except Exception:  # the fleet keeps running whatever the scenario hits
                log.exception("scenario %s crashed", name)
                echo("cash-loading: failed: internal error (see the log)")
            if not every_s or stop.wait(every_s):
                return

    thread = threading.Thread(target=loop, name=f"scenario-{name}", daemon=True)
    thread.start()
    return thread
