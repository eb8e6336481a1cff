"""Finger-vein dynamic lock (指静脉动态密码锁) on a cash machine's safe.

It opens only for an *armed* task (``lock.arm`` from the centre: task id, the two loaders, the
one-time code sealed for this lock), after two different enrolled loaders of that task verified
their vein (match score above the threshold) and the one-time code was entered: the two-person rule.
It relocks by itself after ``relock_after_s``. Tamper (forced open, cover removed) latches an
alarm state that only ``lock.reset_tamper`` clears; while tampered it never opens.

The code is never sent in clear nor as a plain digest: ``code_mac`` is an HMAC of
"<task_id>:<code>" keyed by this lock's own secret (edge/protocol/sealed.py), so only the centre
and this lock can compute it; the lock computes it from the typed code and compares.

Enrolment is on the device, as on a real finger-vein lock: ``lock.enroll {loader_id, captures,
valid_for_s}`` opens a capture session (a command carrying a template is refused: templates are
captured here and never travel); the loader's next ``captures`` finger presentations are
captures (``lock.capture {loader_id, n}``), after the last one the lock keeps a template in its
own memory and reports ``lock.enrolled {loader_id}``; a session not completed in time ends with
``lock.enrol_failed``. ``lock.revoke`` deletes the template (and any open session) and reports
``lock.revoked``. Templates never appear in a message, the state document or a log.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from devices.base import CommandRejected, SimulatedDevice, command
from edge.protocol import code_mac

MATCH_THRESHOLD = 0.8
TEMPLATE_BYTES = 64  # what the sensor's feature extractor would keep (random here)
MAX_CAPTURES = 10
MAX_CAPTURE_S = 600
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class CaptureSession:
    needed: int
    deadline: float  # time.monotonic()
    taken: int = 0


class VeinLock(SimulatedDevice):
    device_type = "lock"
    telemetry_interval_s = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.templates: dict[str, bytes] = {}  # on the device only
        self.captures: dict[str, CaptureSession] = {}
        self._code_mac: str | None = None
        self._armed_until = 0.0
        self._unlocked_at: float | None = None
        self._code_ok = False

    def default_config(self) -> dict[str, Any]:
        return {**super().default_config(), "relock_after_s": 300, "match_threshold": 0.8}

    def initial_state(self) -> dict[str, Any]:
        return {
            "lock": "locked",
            "tamper": False,
            "armed": None,
            "verified": [],
            "enrolled": [],
            "battery_pct": 97,
        }

    def telemetry(self) -> tuple[str, dict[str, Any]]:
        return (
            "lock.status",
            {
                "lock": self.state["lock"],
                "tamper": self.state["tamper"],
                "armed": self.state["armed"] is not None,
                "battery_pct": self.state["battery_pct"],
            },
        )

    # ------------------------------------------------------------------ physical actions

    def present_finger(self, loader_id: str, *, genuine: bool = True) -> bool:
        """A loader presents a finger: a capture while an enrolment session for them is open,
        otherwise a verification event with a match score."""
        if self._capture(loader_id):
            return True
        with self.lock:
            enrolled = loader_id in self.templates
            score = (
                self.rng.uniform(0.86, 0.99)
                if genuine and enrolled
                else self.rng.uniform(0.05, 0.5)
            )
            matched = score >= float(self.config["match_threshold"])
            armed = self._armed_task()
            task_id = armed["task_id"] if armed else None
            verified = self.state["verified"]
            if matched and armed and loader_id in armed["loaders"] and loader_id not in verified:
                verified.append(loader_id)
        self.publish(
            "event",
            "lock.verification",
            {
                "loader_id": loader_id,
                "score": round(score, 3),
                "matched": matched,
                "task_id": task_id,
            },
        )
        self._maybe_unlock()
        return matched

    def _capture(self, loader_id: str) -> bool:
        """One capture of an open enrolment session; False when there is none."""
        with self.lock:
            self._expire_captures(time.monotonic())
            session = self.captures.get(loader_id)
            if session is None:
                return False
            session.taken += 1
            n, done = session.taken, session.taken >= session.needed
            if done:
                del self.captures[loader_id]
                self.templates[loader_id] = secrets.token_bytes(TEMPLATE_BYTES)
                self.state["enrolled"] = sorted(self.templates)
        self.publish("event", "lock.capture", {"loader_id": loader_id, "n": n})
        if done:
            self.publish("event", "lock.enrolled", {"loader_id": loader_id})
            self.publish_state()
        return True

    def _expire_captures(self, now: float) -> None:
        for loader_id, session in list(self.captures.items()):
            if now > session.deadline:
                del self.captures[loader_id]
                self.publish(
                    "event", "lock.enrol_failed", {"loader_id": loader_id, "reason": "timeout"}
                )

    def sealed(self, task_id: str, code: str) -> str:
        """The code as the centre seals it for this lock (only this lock has the key)."""
        return code_mac(self._secret, task_id, code)

    def enter_code(self, code: str) -> bool:
        with self.lock:
            armed = self._armed_task()
            ok = bool(
                armed
                and self._code_mac
                and isinstance(code, str)
                and hmac.compare_digest(self.sealed(armed["task_id"], code), self._code_mac)
            )
            self._code_ok = self._code_ok or ok
            task_id = armed["task_id"] if armed else None
        self.publish("event", "lock.code_entered", {"task_id": task_id, "ok": ok})
        self._maybe_unlock()
        return ok

    def tamper(self, kind: str = "forced_open") -> None:
        with self.lock:
            self.state["tamper"] = True
            self.state["lock"] = "locked"
        self.publish("event", "lock.tamper", {"kind": kind})
        self.publish_state()

    def relock(self, reason: str = "manual") -> None:
        with self.lock:
            if self.state["lock"] == "locked":
                return
            self.state["lock"] = "locked"
            self._unlocked_at = None
        self.publish("event", "lock.locked", {"reason": reason})
        self.publish_state()

    def _armed_task(self) -> dict[str, Any] | None:
        armed = self.state["armed"]
        if armed is not None and time.monotonic() > self._armed_until:
            self.state["armed"] = None
            self.state["verified"] = []
            self._code_mac = None
            self._code_ok = False
            return None
        return armed

    def _maybe_unlock(self) -> None:
        with self.lock:
            armed = self._armed_task()
            if (
                armed is None
                or self.state["tamper"]
                or self.state["lock"] == "unlocked"
                or not self._code_ok
                or len(set(self.state["verified"])) < 2
            ):
                return
            self.state["lock"] = "unlocked"
            self._unlocked_at = time.monotonic()
            loaders = list(self.state["verified"])
            self.state["armed"] = None  # one task, one opening
            self.state["verified"] = []
            self._code_mac = None
            self._code_ok = False
        self.publish("event", "lock.unlocked", {"task_id": armed["task_id"], "loaders": loaders})
        self.publish_state()

    def on_tick(self, now: float) -> None:
        self._expire_captures(now)
        if self._unlocked_at is not None and time.monotonic() - self._unlocked_at > float(
            self.config["relock_after_s"]
        ):
            self.relock("timeout")

    # ------------------------------------------------------------------ commands

    @command("lock.enroll")
    def cmd_enroll(self, args: dict) -> str:
        """Open a capture session; the template is made here, from the loader's finger."""
        if "template" in args:
            raise CommandRejected("templates are captured at the lock")
        loader_id = args.get("loader_id")
        captures, valid_for = args.get("captures", 3), args.get("valid_for_s", 120)
        if (
            not isinstance(loader_id, str)
            or not 0 < len(loader_id) <= 80
            or not isinstance(captures, int)
            or isinstance(captures, bool)
            or not 1 <= captures <= MAX_CAPTURES
            or not isinstance(valid_for, int)
            or isinstance(valid_for, bool)
            or not 1 <= valid_for <= MAX_CAPTURE_S
        ):
            raise CommandRejected(
                f"loader_id, captures 1..{MAX_CAPTURES} and valid_for_s 1..{MAX_CAPTURE_S}"
            )
        if self.state["tamper"]:
            raise CommandRejected("tampered")
        self.captures[loader_id] = CaptureSession(captures, time.monotonic() + valid_for)
        return f"capturing {loader_id}"

    @command("lock.revoke")
    def cmd_revoke(self, args: dict) -> str:
        loader_id = args.get("loader_id")
        if not isinstance(loader_id, str) or not loader_id:
            raise CommandRejected("loader_id is required")
        self.captures.pop(loader_id, None)
        had = self.templates.pop(loader_id, None) is not None
        self.state["enrolled"] = sorted(self.templates)
        self.publish("event", "lock.revoked", {"loader_id": loader_id})
        if had:
            self.publish_state()
        return "revoked"

    @command("lock.arm")
    def cmd_arm(self, args: dict) -> str:
        task_id, loaders = args.get("task_id"), args.get("loaders")
        digest, valid_for = args.get("code_mac"), args.get("valid_for_s", 1800)
        if self.state["tamper"]:
            raise CommandRejected("tampered")
        if (
            not isinstance(task_id, str)
            or not isinstance(loaders, list)
            or len(set(loaders)) != 2
            or not isinstance(digest, str)
            or not _HEX64.fullmatch(digest)
            or not isinstance(valid_for, int)
            or not 0 < valid_for <= 86400
        ):
            raise CommandRejected("task_id, two distinct loaders, code_mac and valid_for_s")
        missing = [loader for loader in loaders if loader not in self.templates]
        if missing:
            raise CommandRejected(f"not enrolled: {', '.join(missing)}")
        self.state["armed"] = {"task_id": task_id, "loaders": list(loaders)}
        self.state["verified"] = []
        self._code_mac = digest
        self._code_ok = False
        self._armed_until = time.monotonic() + valid_for
        self.publish("event", "lock.armed", {"task_id": task_id, "loaders": list(loaders)})
        return task_id

    @command("lock.disarm")
    def cmd_disarm(self, _args: dict) -> str:
        self.state["armed"] = None
        self.state["verified"] = []
        self._code_mac = None
        return "disarmed"

    @command("lock.lock")
    def cmd_lock(self, _args: dict) -> str:
        self.relock("command")
        return "locked"

    @command("lock.reset_tamper")
    def cmd_reset_tamper(self, _args: dict) -> str:
        self.state["tamper"] = False
        self.publish("event", "lock.tamper_cleared", {})
        self.publish_state()
        return "tamper cleared"
