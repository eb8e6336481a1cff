"""The hall displays' board coalescer (backend/branch/runtime.py) with time driven by hand:
at most one board per branch per interval, always the newest version, the last one never
lost, and a failing sender never raising into the caller or the timer."""

from __future__ import annotations

import threading

from backend.branch.runtime import BOARD_COMMAND, BoardCoalescer, RecordingCommands


class Manual:
    """A monotonic clock and a scheduler the test advances itself."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, object]] = []

    def clock(self) -> float:
        return self.now

    def schedule(self, delay: float, func) -> None:
        self.timers.append((self.now + delay, func))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now]
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _at, func in due:
            func()


def coalescer(interval: float = 1.0):
    manual = Manual()
    return BoardCoalescer(interval, clock=manual.clock, schedule=manual.schedule), manual


def board(version: int) -> dict:
    return {"version": version, "services": [], "serving": []}


def test_first_board_leaves_at_once_then_one_per_interval_with_the_newest():
    boards, manual = coalescer()
    sent = RecordingCommands()
    boards.submit("B1", 1, board(1), ["D1", "D2"], sent)
    assert [(d, a["version"]) for d, _n, a in sent.sent] == [("D1", 1), ("D2", 1)]
    assert {n for _d, n, _a in sent.sent} == {BOARD_COMMAND}
    for version in range(2, 22):  # a burst of 20 changes within the second
        manual.advance(0.01)
        boards.submit("B1", version, board(version), ["D1", "D2"], sent)
    assert len(sent.sent) == 2 and len(manual.timers) == 1  # one timer, nothing more sent
    manual.advance(1.0)
    assert [(d, a["version"]) for d, _n, a in sent.sent[2:]] == [("D1", 21), ("D2", 21)]
    manual.advance(5.0)
    assert len(sent.sent) == 4  # nothing owed: the timer does not repeat
    boards.submit("B1", 22, board(22), ["D1"], sent)  # quiet for a while: at once again
    assert sent.sent[-1][2]["version"] == 22 and len(sent.sent) == 5


def test_an_older_board_arriving_late_never_replaces_the_newer():
    boards, manual = coalescer()
    sent = RecordingCommands()
    boards.submit("B1", 5, board(5), ["D1"], sent)
    manual.advance(0.1)
    boards.submit("B1", 7, board(7), ["D1"], sent)
    boards.submit("B1", 6, board(6), ["D1"], sent)  # its commit's callback ran late
    manual.advance(1.0)
    assert [a["version"] for _d, _n, a in sent.sent] == [5, 7]


def test_branches_are_independent_and_targets_accumulate():
    boards, manual = coalescer()
    sent = RecordingCommands()
    boards.submit("B1", 1, board(1), ["D1"], sent)
    boards.submit("B2", 1, board(1), ["X1"], sent)  # another branch: not held back by B1
    assert [d for d, _n, _a in sent.sent] == ["D1", "X1"]
    boards.submit("B1", 2, board(2), ["D1"], sent)
    boards.submit("B1", 2, board(2), ["D3"], sent)  # a display born meanwhile
    manual.advance(1.0)
    assert [(d, a["version"]) for d, _n, a in sent.sent[2:]] == [("D1", 2), ("D3", 2)]


def test_flush_sends_what_waits_and_the_timer_then_finds_nothing():
    boards, manual = coalescer()
    sent = RecordingCommands()
    boards.submit("B1", 1, board(1), ["D1"], sent)
    boards.submit("B1", 2, board(2), ["D1"], sent)
    boards.flush()
    assert [a["version"] for _d, _n, a in sent.sent] == [1, 2]
    manual.advance(1.0)
    assert len(sent.sent) == 2


def test_a_failing_sender_is_logged_not_raised(caplog):
    boards, manual = coalescer()

    def broken(device_id, name, args):
        raise RuntimeError("broker gone")

    boards.submit("B1", 1, board(1), ["D1", "D2"], broken)  # the caller survives
    boards.submit("B1", 2, board(2), ["D1"], broken)
    manual.advance(1.0)  # so does the timer
    assert sum("not sent" in r.getMessage() for r in caplog.records) == 3


def test_real_timers_deliver_the_last_board_of_a_burst():
    boards = BoardCoalescer(0.2)
    sent = RecordingCommands()
    done = threading.Event()

    def record(device_id, name, args):
        sent(device_id, name, args)
        if args["version"] == 50:
            done.set()

    for version in range(1, 51):
        boards.submit("B1", version, board(version), ["D1"], record)
    assert done.wait(10), "the last board never left"
    versions = [a["version"] for _d, _n, a in sent.sent]
    assert versions[0] == 1 and versions[-1] == 50 and versions == sorted(versions)
