"""Hall display (叫号屏): shows the last calls (ticket number and window) that the branch edge
or the centre sends with ``display.show``, and the queue board the centre sends with
``display.queue`` (per service: tickets waiting, the next numbers, the expected wait; who is
served where), and the branch's check-in QR code the centre sends each 30 s with
``display.presence {code, qr, valid_until}`` (a client scans it to check a remote ticket in:
backend/branch/queue/presence.py). A public screen: the board holds ticket numbers only, and
anything else in it is refused."""

from __future__ import annotations

import re
from typing import Any

from devices.base import CommandRejected, SimulatedDevice, command
from edge.protocol import ProtocolError, parse_ts

MAX_SERVICES = 16
MAX_NEXT = 10
MAX_SERVING = 64
TICKET_NO = re.compile(r"[A-Z]{1,4}[0-9]{1,6}")
SERVICE_KEYS = {"service", "letter", "waiting", "next", "estimated_wait_s"}
SERVING_KEYS = {"counter_id", "ticket_no"}
BOARD_KEYS = {"version", "updated_at", "services", "serving"}
PRESENCE_KEYS = {"code", "qr", "valid_until"}
PRESENCE_CODE = re.compile(r"[A-Z2-7]{16}")


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _ticket_no(value: object) -> bool:
    return isinstance(value, str) and TICKET_NO.fullmatch(value) is not None


def _short(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def _items(args: dict, key: str, limit: int, keys: set[str]) -> list[dict]:
    items = args.get(key)
    if not isinstance(items, list) or len(items) > limit:
        raise CommandRejected(f"{key} must be a list of at most {limit}")
    for entry in items:
        if not isinstance(entry, dict) or set(entry) != keys:
            raise CommandRejected(f"each of {key} has exactly {', '.join(sorted(keys))}")
    return items


def validate_board(args: dict) -> dict[str, Any]:
    """The board as shown, or CommandRejected saying what is wrong with it."""
    unknown = set(args) - BOARD_KEYS
    if unknown:
        raise CommandRejected(f"unknown fields: {', '.join(sorted(unknown))}")
    version = args.get("version")
    if version is not None and not _count(version):
        raise CommandRejected("version must be a non-negative integer")
    updated_at = args.get("updated_at")
    try:
        parse_ts(updated_at, field_name="updated_at")
    except ProtocolError:
        raise CommandRejected("updated_at must be an RFC 3339 UTC time") from None
    services = _items(args, "services", MAX_SERVICES, SERVICE_KEYS)
    for svc in services:
        if not _short(svc["service"], 32) or not _short(svc["letter"], 4):
            raise CommandRejected("service and letter must be short strings")
        if not _count(svc["waiting"]) or not _count(svc["estimated_wait_s"]):
            raise CommandRejected("waiting and estimated_wait_s must be non-negative integers")
        nexts = svc["next"]
        if not isinstance(nexts, list) or len(nexts) > MAX_NEXT or not all(map(_ticket_no, nexts)):
            raise CommandRejected(f"next must be at most {MAX_NEXT} ticket numbers")
    serving = _items(args, "serving", MAX_SERVING, SERVING_KEYS)
    for entry in serving:
        if not _short(entry["counter_id"], 32) or not _ticket_no(entry["ticket_no"]):
            raise CommandRejected("serving needs a counter_id and a ticket number")
    return {
        "version": version,
        "updated_at": updated_at,
        "services": [{**s, "next": list(s["next"])} for s in services],
        "serving": [dict(e) for e in serving],
    }


class HallDisplay(SimulatedDevice):
    device_type = "display"
    telemetry_interval_s = 120.0
    presence: dict[str, str] | None = None  # the check-in QR code shown now

    def default_config(self) -> dict[str, Any]:
        return {**super().default_config(), "brightness": 80, "rows": 5}

    def initial_state(self) -> dict[str, Any]:
        return {"calls": [], "board": None}

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

    @command("display.queue")
    def cmd_queue(self, args: dict) -> str:
        board = validate_board(args)
        shown = self.state.get("board") or {}
        if (
            board["version"] is not None
            and shown.get("version") is not None
            and board["version"] < shown["version"]
        ):
            return "stale"  # an older board overtaken by a newer one: keep the newer
        self.state["board"] = board
        self.publish(
            "event",
            "display.board_shown",
            {"services": len(board["services"]), "version": board["version"]},
        )
        return f"{len(board['services'])} services"

    @command("display.presence")
    def cmd_presence(self, args: dict) -> str:
        """Show the branch's current check-in QR code (a code, never anything of a client)."""
        if set(args) != PRESENCE_KEYS:
            raise CommandRejected(f"presence has exactly {', '.join(sorted(PRESENCE_KEYS))}")
        code, qr = args["code"], args["qr"]
        if not isinstance(code, str) or PRESENCE_CODE.fullmatch(code) is None:
            raise CommandRejected("code must be 16 base32 characters")
        if not _short(qr, 200) or not qr.endswith(f"code={code}"):
            raise CommandRejected("qr must carry the code")
        try:
            parse_ts(args["valid_until"], field_name="valid_until")
        except ProtocolError:
            raise CommandRejected("valid_until must be an RFC 3339 UTC time") from None
        # on the screen only: not in the state document, so births and telemetry never carry it
        self.presence = {"code": code, "qr": qr, "valid_until": args["valid_until"]}
        return "shown"
