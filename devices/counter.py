"""Smart counter (智能柜台): a self-service terminal for account and card business.

State machine: ``in_service`` (idle or with a customer session) / ``out_of_service``. A session
holds transactions by type; peripherals (card reader, printer, ID scanner, camera) report their
status; parameters (services offered, idle timeout) come from the desired configuration.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from devices.base import CommandFailed, CommandRejected, SimulatedDevice, command

PERIPHERALS = ("card_reader", "printer", "id_scanner", "camera")
PERIPHERAL_STATUSES = ("ok", "fault", "paper_low", "offline")
TRANSACTION_TYPES = ("account_open", "card_issue", "transfer", "statement", "password_reset")


class SmartCounter(SimulatedDevice):
    device_type = "counter"
    telemetry_interval_s = 30.0

    def default_config(self) -> dict[str, Any]:
        return {
            **super().default_config(),
            "services": list(TRANSACTION_TYPES),
            "idle_timeout_s": 120,
        }

    def initial_state(self) -> dict[str, Any]:
        return {
            "mode": "in_service",
            "session": None,
            "peripherals": dict.fromkeys(PERIPHERALS, "ok"),
            "sessions_today": 0,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transactions: Counter[str] = Counter()
        self._session_tx = 0

    def state_doc(self) -> dict[str, Any]:
        return {**self.state, "transactions": dict(self.transactions)}

    def telemetry(self) -> tuple[str, dict[str, Any]]:
        return (
            "counter.stats",
            {
                "mode": self.state["mode"],
                "session_active": self.state["session"] is not None,
                "sessions_today": self.state["sessions_today"],
                "transactions": dict(self.transactions),
                "peripherals": dict(self.state["peripherals"]),
            },
        )

    def apply_config(self, config: dict[str, Any]) -> dict[str, str]:
        rejected = {}
        services = config.get("services")
        if services is not None and (
            not isinstance(services, list) or not set(services) <= set(TRANSACTION_TYPES)
        ):
            rejected["services"] = f"a list drawn from {', '.join(TRANSACTION_TYPES)}"
            config = {k: v for k, v in config.items() if k != "services"}
        rejected.update(super().apply_config(config))
        return rejected

    # ------------------------------------------------------------------ customer actions

    def start_session(self, customer: str | None = None) -> str:
        with self.lock:
            if self.state["mode"] != "in_service":
                raise CommandRejected("out of service")
            if self.state["session"] is not None:
                self.end_session()
            session_id = uuid.uuid4().hex[:12]
            self.state["session"] = {"id": session_id, "customer": customer}
            self.state["sessions_today"] += 1
            self._session_tx = 0
        self.publish("event", "counter.session_started", {"session_id": session_id})
        return session_id

    def transaction(self, tx_type: str, *, ok: bool = True, duration_s: int = 60) -> None:
        with self.lock:
            session = self.state["session"]
            if session is None:
                raise CommandRejected("no session")
            if tx_type not in self.config["services"]:
                ok = False
            if ok:
                self.transactions[tx_type] += 1
            self._session_tx += 1
        self.publish(
            "event",
            "counter.transaction",
            {
                "session_id": session["id"],
                "type": tx_type,
                "result": "ok" if ok else "failed",
                "duration_s": duration_s,
            },
        )

    def end_session(self) -> None:
        with self.lock:
            session = self.state["session"]
            if session is None:
                return
            self.state["session"] = None
            count = self._session_tx
        self.publish(
            "event", "counter.session_ended", {"session_id": session["id"], "transactions": count}
        )

    def set_peripheral(self, name: str, status: str) -> None:
        if name not in PERIPHERALS or status not in PERIPHERAL_STATUSES:
            raise ValueError(f"peripheral {name}/{status}")
        with self.lock:
            if self.state["peripherals"][name] == status:
                return
            self.state["peripherals"][name] = status
        self.publish("event", "counter.peripheral_status", {"peripheral": name, "status": status})
        self.publish_state()

    # ------------------------------------------------------------------ commands

    @command("counter.set_mode")
    def cmd_set_mode(self, args: dict) -> str:
        mode = args.get("mode")
        if mode not in ("in_service", "out_of_service"):
            raise CommandRejected("mode must be in_service or out_of_service")
        if mode == "out_of_service":
            self.end_session()
        self.state["mode"] = mode
        self.publish_state()
        return mode

    @command("counter.print_test")
    def cmd_print_test(self, _args: dict) -> str:
        if self.state["peripherals"]["printer"] != "ok":
            raise CommandFailed(f"printer {self.state['peripherals']['printer']}")
        return "test page printed"

    # ------------------------------------------------------------------ autopilot

    def simulate(self, now: float, dt: float) -> None:
        rng = self.rng
        if self.state["mode"] != "in_service":
            return
        if self.state["session"] is None:
            if rng.random() < dt / 40:
                self.start_session()
        elif rng.random() < dt / 15:
            if self._session_tx >= rng.randint(1, 3):
                self.end_session()
            else:
                self.transaction(
                    rng.choice(self.config["services"] or list(TRANSACTION_TYPES)),
                    ok=rng.random() > 0.05,
                    duration_s=rng.randint(30, 400),
                )
        if rng.random() < dt / 3600:
            self.set_peripheral("printer", "paper_low")
        elif self.state["peripherals"]["printer"] != "ok" and rng.random() < dt / 300:
            self.set_peripheral("printer", "ok")
