"""The hall display's queue board (``display.queue``): a good board is shown, kept in the
state and telemetry and announced; a malformed one (or one carrying anything but ticket
numbers) is refused before anything changes; an older board never replaces a newer one."""

from __future__ import annotations

import copy

import pytest

from tests.unit.test_devices_simulators import ack_of, build, command, outgoing

BOARD = {
    "version": 7,
    "updated_at": "2026-03-02T02:00:00Z",
    "services": [
        {
            "service": "cash",
            "letter": "A",
            "waiting": 3,
            "next": ["SA012", "A013", "RA014"],
            "estimated_wait_s": 540,
        },
        {"service": "loan", "letter": "C", "waiting": 0, "next": [], "estimated_wait_s": 0},
    ],
    "serving": [{"counter_id": "1", "ticket_no": "SA011"}],
}


def test_a_good_board_is_shown_kept_in_state_and_telemetry():
    display, secret = build("display")
    assert display.state["board"] is None
    ack = ack_of(display, command(display, secret, "display.queue", BOARD))
    assert ack.status == "ok"
    assert display.state["board"] == BOARD
    shown = [env for _ch, env in outgoing(display) if env.type == "display.board_shown"]
    assert [env.data for env in shown] == [{"services": 2, "version": 7}]
    kind, data = display.telemetry()
    assert kind == "display.status" and data["board"] == BOARD
    assert display.state_doc()["board"] == BOARD  # births carry it too
    # the last calls are untouched by the board, and the other way round
    command(display, secret, "display.show", {"ticket_no": "SA012", "counter_id": "2"})
    assert display.state["calls"][0]["ticket_no"] == "SA012" and display.state["board"] == BOARD


def test_an_older_board_never_replaces_a_newer_one():
    display, secret = build("display")
    command(display, secret, "display.queue", BOARD)
    older = {**copy.deepcopy(BOARD), "version": 6, "serving": []}
    ack = ack_of(display, command(display, secret, "display.queue", older))
    assert (ack.status, ack.reason) == ("ok", "stale")
    assert display.state["board"] == BOARD
    same = {**copy.deepcopy(BOARD), "serving": []}  # the same version again (a rebirth)
    command(display, secret, "display.queue", same)
    assert display.state["board"]["serving"] == []


def _with(path: tuple, value) -> dict:
    board = copy.deepcopy(BOARD)
    target = board
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return board


_DELETE = object()

MALFORMED = {
    "no services": _with(("services",), _DELETE),
    "services not a list": _with(("services",), {"cash": 1}),
    "no updated_at": _with(("updated_at",), _DELETE),
    "updated_at not a time": _with(("updated_at",), "yesterday"),
    "updated_at not UTC": _with(("updated_at",), "2026-03-02T10:00:00+08:00"),
    "negative waiting": _with(("services", 0, "waiting"), -1),
    "waiting a bool": _with(("services", 0, "waiting"), True),
    "estimate a string": _with(("services", 0, "estimated_wait_s"), "540"),
    "next not numbers": _with(("services", 0, "next"), ["Wang Wei"]),
    "too many next": _with(("services", 0, "next"), [f"A{n:03d}" for n in range(11)]),
    "a client in a service": _with(("services", 0, "client"), "client1"),
    "a client id when serving": _with(("serving", 0, "client_id"), 12),
    "serving without ticket": _with(("serving", 0, "ticket_no"), None),
    "unknown top-level field": {**BOARD, "names": ["Client One"]},
    "version negative": _with(("version",), -3),
    "too many services": {**BOARD, "services": BOARD["services"] * 9},
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_board_is_refused_and_changes_nothing(case):
    display, secret = build("display")
    command(display, secret, "display.queue", BOARD)
    ack = ack_of(display, command(display, secret, "display.queue", MALFORMED[case]))
    assert ack.status == "rejected", case
    assert display.state["board"] == BOARD
    shown = [env for _ch, env in outgoing(display) if env.type == "display.board_shown"]
    assert len(shown) == 1
