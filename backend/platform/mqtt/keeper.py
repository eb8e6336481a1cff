"""A thread that keeps one Mosquitto's dynsec accounts equal to what a process says they are.

``AccountsKeeper`` is the lifecycle both keepers share (the edge's of a branch Mosquitto,
edge/branch_accounts.py, and the hub's of the central one, backend/roles/central_accounts.py):
an admin connection (``DynsecAdmin``) and a worker that runs ``reconcile`` with the subclass's
``accounts()``:

- once in ``start()``, before it returns (so what must exist does, before the caller goes on;
  a broker or plugin that is not there fails the start);
- at once after ``wake()`` (new accounts were handed in, or something changed);
- after the admin connection comes back (a restarted broker, which may have lost changes);
- whenever ``due()`` says so (polled every ``look_s``: e.g. the branches in the database
  changed), and every ``repair_s`` anyway, so a change made by hand is undone.

A pass that fails (the broker away) is retried with backoff until it goes through; the
worker never dies. ``passes`` counts the passes that completed; ``last`` is the latest
``ReconcileResult``, ``last_error`` the latest failure (None once a pass went through).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from backend.platform.mqtt.dynsec import Account, DynsecAdmin, ReconcileResult, reconcile
from backend.platform.mqtt.messages import MqttError

log = logging.getLogger(__name__)


class AccountsKeeper:
    """Subclasses say ``accounts()`` and, optionally, ``due()``; ``name`` is for the logs."""

    def __init__(
        self,
        admin_url: str,
        *,
        tag: str,
        name: str,
        client_id: str | None = None,
        look_s: float = 60.0,
        repair_s: float = 60.0,
        retry_max_delay: float = 5.0,
    ) -> None:
        self.tag = tag
        self.name = name
        self.look_s = look_s
        self.repair_s = repair_s
        self.retry_max_delay = retry_max_delay
        self._admin = DynsecAdmin(
            admin_url,
            client_id,
            on_connected=lambda _client: self._wake.set(),  # a restarted broker: look
            reconnect_max_delay=retry_max_delay,
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        self._applied_at = 0.0
        self._asked = 0  # wake() calls so far
        self._answered = 0  # of those, how many a completed pass had seen
        self.passes = 0
        self.last: ReconcileResult | None = None
        self.last_error: str | None = None

    # ------------------------------------------------------------------ what subclasses say

    def accounts(self) -> Mapping[str, Account]:
        raise NotImplementedError

    def due(self) -> bool:
        """Polled every ``look_s`` between passes: True to apply now."""
        return False

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> AccountsKeeper:
        self._admin.connect(timeout)
        try:
            self._apply(timeout)
        except BaseException:
            self._admin.close()
            raise
        self._wake.clear()  # the connection's own wake: that pass just ran
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._admin.close()

    def wake(self) -> None:
        """Apply now."""
        with self._done:
            self._asked += 1
        self._wake.set()

    def wait_current(self, timeout: float) -> bool:
        """True once a pass that began after the latest ``wake()`` has completed: what was
        handed in before this call is in force."""
        with self._done:
            asked = self._asked
            return self._done.wait_for(lambda: self._answered >= asked, timeout)

    def wait_passes(self, count: int, timeout: float) -> bool:
        """True once ``count`` passes have completed."""
        with self._done:
            return self._done.wait_for(lambda: self.passes >= count, timeout)

    # ------------------------------------------------------------------ the worker

    def _apply(self, timeout: float = 10.0) -> ReconcileResult:
        with self._done:
            asked = self._asked
        result = reconcile(self._admin, self.accounts(), tag=self.tag, timeout=timeout)
        if result.changed or result.missing or result.errors:
            log.info("%s: %s", self.name, result.summary())
        for error in result.errors:
            log.error("%s: %s", self.name, error)
        self._applied_at = time.monotonic()
        with self._done:
            self.last, self.last_error = result, None
            self._answered = max(self._answered, asked)
            self.passes += 1
            self._done.notify_all()
        return result

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            woken = self._wake.wait(self.look_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                repair = time.monotonic() - self._applied_at >= self.repair_s
                if woken or repair or self.due():
                    self._apply()
                delay = 0.2
            except Exception as exc:  # the broker or a database away: never let it die
                if isinstance(exc, MqttError | ValueError):
                    log.warning("%s: not applied: %s", self.name, exc)
                else:
                    log.exception("%s: unexpected error", self.name)
                self.last_error = str(exc) or type(exc).__name__
                self._stop.wait(delay)
                delay = min(2 * delay, self.retry_max_delay)
                self._wake.set()  # again, until it goes through
