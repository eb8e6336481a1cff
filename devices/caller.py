"""Counter caller (叫号器): the call button and small screen at a teller window. "Call next"
goes to the centre while the branch is online (it calls from the whole hall queue) and to the
branch edge's local queue while the uplink is down; either answers with ``caller.show_call``
(naming the press's ``request_id``) and tells the hall displays. The window's ``counter_id``
comes from the desired configuration (default: the number at the end of the device id).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from devices.base import CommandRejected, SimulatedDevice, command


class CounterCaller(SimulatedDevice):
    """The call button and small screen at a teller window (counter_id from config)."""

    device_type = "caller"
    telemetry_interval_s = 120.0

    def default_config(self) -> dict[str, Any]:
        match = re.search(r"(\d+)$", self.identity.device_id)
        counter = str(int(match.group(1))) if match else self.identity.device_id
        return {**super().default_config(), "counter_id": counter, "mean_service_s": 90}

    def initial_state(self) -> dict[str, Any]:
        return {"serving": None, "called_today": 0}

    def telemetry(self) -> tuple[str, dict[str, Any]]:
        return ("caller.status", {**self.state, "counter_id": self.config["counter_id"]})

    def call_next(self) -> str:
        """The teller presses "call next": the current customer is done, the edge picks next."""
        request_id = uuid.uuid4().hex[:16]
        with self.lock:
            done = self.state["serving"]
        if done:
            self.publish(
                "event",
                "caller.serving_done",
                {"ticket_no": done, "counter_id": self.config["counter_id"]},
            )
        self.publish(
            "event",
            "caller.call_next",
            {"request_id": request_id, "counter_id": self.config["counter_id"]},
        )
        return request_id

    @command("caller.show_call")
    def cmd_show_call(self, args: dict) -> str:
        ticket_no = args.get("ticket_no")
        if ticket_no is not None and not isinstance(ticket_no, str):
            raise CommandRejected("ticket_no must be a string or null")
        self.state["serving"] = ticket_no
        if ticket_no:
            self.state["called_today"] += 1
        return ticket_no or "queue empty"

    def simulate(self, now: float, dt: float) -> None:
        if self.rng.random() < dt / float(self.config["mean_service_s"]):
            self.call_next()
