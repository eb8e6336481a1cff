"""Hall display (叫号屏): shows the last calls (ticket number and window) that the branch edge
sends with ``display.show``."""

from __future__ import annotations

from typing import Any

from devices.base import CommandRejected, SimulatedDevice, command


class HallDisplay(SimulatedDevice):
    device_type = "display"
    telemetry_interval_s = 120.0

    def default_config(self) -> dict[str, Any]:
        return {**super().default_config(), "brightness": 80, "rows": 5}

    def initial_state(self) -> dict[str, Any]:
        return {"calls": []}

    def telemetry(self) -> tuple[str, dict[str, Any]]:
        return ("display.status", {"brightness": self.config["brightness"], **self.state})

    @command("display.show")
    def cmd_show(self, args: dict) -> str:
        ticket_no, counter_id = args.get("ticket_no"), args.get("counter_id")
        if not isinstance(ticket_no, str) or not ticket_no:
            raise CommandRejected("ticket_no required")
        call = {"ticket_no": ticket_no, "counter_id": counter_id}
        self.state["calls"] = [call, *self.state["calls"]][: int(self.config["rows"])]
        self.publish("event", "display.shown", call)
        return ticket_no
