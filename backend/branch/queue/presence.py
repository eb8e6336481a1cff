"""Proof that a client is in the hall: the branch's rotating check-in code.

A remote ticket is called only once its client is in the hall, so checking in needs proof of
presence. Each branch shows a QR code on its hall displays (and the kiosk's screen) that
changes every ``STEP_S`` seconds: a TOTP-style code (RFC 6238's construction, with HMAC-SHA256
and 80 bits instead of six digits, because it is scanned, not typed), computed from a key per
branch derived from the process's secret key, so that

- a code is good only for the branch that shows it (another branch's key differs);
- a code is accepted during its own step and ``GRACE_STEPS`` step after it (30 to 60 s after it
  appeared: a client who scans just before it changes still gets in), never later, so a code
  photographed yesterday, or a minute ago, opens nothing;
- nothing is stored: any web instance checks a code with the shared secret key alone; the
  displays are handed the current code (``GET /api/v1/branches/{b}/presence-code`` for the
  branch's staff and the hall display page, ``display.presence`` pushed to the display devices).

The QR code holds ``finedge://check-in?branch=<b>&code=<code>``; the mini-program sends the code
with the check-in (``presence_code``). Staff of the branch (a lobby manager beside the client)
check a client in without a code; that is recorded as such.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.platform.clock import ensure_utc
from backend.platform.crypto import derive_key

STEP_S = 30
GRACE_STEPS = 1
CODE_BYTES = 10  # 80 bits: 16 base32 characters
PURPOSE = "finedge/branch-presence/v1/"  # + the branch id: crypto.derive_key's purpose


@dataclass(frozen=True)
class PresenceCode:
    branch_id: str
    code: str
    valid_from: datetime
    shown_until: datetime  # when the display shows the next one
    valid_until: datetime  # when this one stops being accepted

    @property
    def qr(self) -> str:
        return f"finedge://check-in?branch={self.branch_id}&code={self.code}"


def _step(when: datetime) -> int:
    return int(ensure_utc(when).timestamp()) // STEP_S


def _code(secret_key: str, branch_id: str, step: int) -> str:
    key = derive_key(secret_key, PURPOSE + branch_id)
    mac = hmac.new(key, step.to_bytes(8, "big"), hashlib.sha256).digest()
    return base64.b32encode(mac[:CODE_BYTES]).decode()


def current_code(secret_key: str, branch_id: str, now: datetime) -> PresenceCode:
    """The code the branch's displays show at ``now``."""
    step = _step(now)

    def at(n: int) -> datetime:
        return datetime.fromtimestamp(n * STEP_S, UTC)

    return PresenceCode(
        branch_id=branch_id,
        code=_code(secret_key, branch_id, step),
        valid_from=at(step),
        shown_until=at(step + 1),
        valid_until=at(step + 1 + GRACE_STEPS),
    )


def is_valid(secret_key: str, branch_id: str, code: str, now: datetime) -> bool:
    """``code`` is the branch's code of now or of the ``GRACE_STEPS`` steps before."""
    if not isinstance(code, str) or len(code) > 64:
        return False
    given = code.strip().upper().encode()
    step = _step(now)
    return any(
        hmac.compare_digest(given, _code(secret_key, branch_id, step - back).encode())
        for back in range(GRACE_STEPS + 1)
    )
