"""Queue kiosk (取号机): a customer presses a service button, the branch edge assigns the ticket
number from its local queue (which keeps working while the link to the centre is down) and
answers with ``kiosk.print_ticket`` (signed with the edge's derived key), and the kiosk prints it.
A request may carry the client's category (``elderly``, ``vip``, ``appointment``; absent is
``normal``), which the hall's priority rules honour; the autopilot marks ``elderly_share`` of
its customers (10 %) elderly.
"""

from __future__ import annotations

import uuid
from typing import Any

from devices.base import CommandFailed, CommandRejected, SimulatedDevice, command

SERVICES = ("cash", "account", "loan", "wealth", "corporate")
CATEGORIES = ("normal", "appointment", "elderly", "vip")


class QueueKiosk(SimulatedDevice):
    device_type = "kiosk"
    telemetry_interval_s = 60.0

    def default_config(self) -> dict[str, Any]:
        return {
            **super().default_config(),
            "services": list(SERVICES),
            "arrivals_per_min": 2.0,
            "elderly_share": 0.1,
        }

    def initial_state(self) -> dict[str, Any]:
        return {"paper_pct": 100, "printed_today": 0, "waiting_print": 0}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: dict[str, str] = {}  # request id -> service
        self.printed: list[dict[str, Any]] = []

    def telemetry(self) -> tuple[str, dict[str, Any]]:
        return ("kiosk.status", dict(self.state))

    def request_ticket(self, service: str = "cash", category: str | None = None) -> str:
        """A customer presses a service button (and, say, the "senior" key: ``category``)."""
        if service not in SERVICES:
            raise ValueError(service)
        if category is not None and category not in CATEGORIES:
            raise ValueError(category)
        request_id = uuid.uuid4().hex[:16]
        with self.lock:
            self.pending[request_id] = service
            self.state["waiting_print"] = len(self.pending)
        data = {"request_id": request_id, "service": service}
        if category is not None:
            data["category"] = category
        self.publish("event", "kiosk.ticket_requested", data)
        return request_id

    @command("kiosk.print_ticket")
    def cmd_print_ticket(self, args: dict) -> str:
        request_id, ticket_no = args.get("request_id"), args.get("ticket_no")
        if not isinstance(ticket_no, str) or not ticket_no:
            raise CommandRejected("ticket_no required")
        if self.state["paper_pct"] <= 0:
            raise CommandFailed("paper out")
        self.pending.pop(str(request_id), None)
        self.state["waiting_print"] = len(self.pending)
        self.state["printed_today"] += 1
        self.state["paper_pct"] = max(0, self.state["paper_pct"] - 1)
        ticket = {
            "request_id": request_id,
            "ticket_no": ticket_no,
            "service": args.get("service"),
            "position": args.get("position"),
        }
        self.printed.append(ticket)
        self.publish("event", "kiosk.ticket_printed", ticket)
        return ticket_no

    def simulate(self, now: float, dt: float) -> None:
        if self.rng.random() < dt * float(self.config["arrivals_per_min"]) / 60:
            service = self.rng.choice(self.config["services"] or list(SERVICES))
            elderly = self.rng.random() < float(self.config.get("elderly_share") or 0)
            self.request_ticket(service, "elderly" if elderly else None)
