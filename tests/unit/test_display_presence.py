"""The hall display shows the branch's check-in QR code (``display.presence``): a good one is
shown and kept off the state document (births and telemetry never carry it); a malformed one
is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.branch.queue import presence
from backend.platform.clock import isoformat
from tests.unit.test_devices_simulators import ack_of, build, command

NOW = datetime(2026, 3, 2, 2, 0, 10, tzinfo=UTC)


def _args() -> dict:
    shown = presence.current_code("secret-key-for-the-test", "BR001", NOW)
    return {"code": shown.code, "qr": shown.qr, "valid_until": isoformat(shown.valid_until)}


def test_the_display_shows_the_code_and_keeps_it_off_its_state():
    display, secret = build("display")
    ack = ack_of(display, command(display, secret, "display.presence", _args()))
    assert ack.status == "ok"
    assert display.presence == _args()
    assert "presence" not in display.state_doc() and "presence" not in display.telemetry()[1]


@pytest.mark.parametrize(
    "change",
    [
        {"code": "not-a-code"},
        {"qr": "finedge://check-in?branch=BR001&code=AAAAAAAAAAAAAAAA"},
        {"valid_until": "tomorrow"},
        {"extra": 1},
    ],
)
def test_a_malformed_code_is_refused(change):
    display, secret = build("display")
    ack = ack_of(display, command(display, secret, "display.presence", {**_args(), **change}))
    assert ack.status == "rejected" and display.presence is None
