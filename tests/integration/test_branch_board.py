"""The hall displays' queue board (``display.queue``) against the database: every committed
queue change gives the branch's active displays a board computed like the staff view (waiting
counts, next numbers in call order, estimates, who is served where), only ticket numbers, only
to that branch, coalesced to one a second with the final state always delivered; a display
coming online gets the current board. Changes and concurrent counters on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.branch import events
from backend.branch.models import HallCounter, ServiceLeg, Ticket
from backend.branch.queue import queries
from backend.branch.queue import service as queue
from backend.branch.queue.views import display_board
from backend.branch.runtime import BoardCoalescer
from backend.devices.models import Device
from backend.devices.registry import provision_device
from backend.devices.secretbox import SecretBox
from backend.identity.models import User
from backend.platform.context import SYSTEM
from backend.platform.db import run_in_transaction
from devices.display import validate_board
from edge.protocol import make_envelope
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import actor, make_hall, set_device

branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall_factory = support.hall_factory  # fixture
hall_url = support.hall_url  # fixture

B = "BR001"
DSP = "BR001-DSP-01"


class Manual:
    """Monotonic time and timers the test advances by hand."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list = []

    def clock(self) -> float:
        return self.now

    def schedule(self, delay: float, func) -> None:
        self.timers.append(func)

    def fire(self) -> None:
        timers, self.timers = self.timers, []
        for func in timers:
            func()


def clean_hall(session) -> None:
    """No demo tickets; counters 1 (cash, account) and 2 (cash, loan, wealth) open."""
    session.query(HallCounter).update({"current_ticket_id": None})
    session.query(ServiceLeg).delete()
    session.query(Ticket).delete()
    for c in session.scalars(select(HallCounter)):
        c.status = "closed" if c.counter_id in ("3", "9") else "open"


@pytest.fixture
def hall(clock):
    """A hall whose boards leave at every commit (no coalescing), to see each change."""
    hall = make_hall(clock)
    hall.boards = BoardCoalescer(0)
    return hall


@pytest.fixture
def s(hall_factory):
    with hall_factory() as session:
        clean_hall(session)
        set_device(session, DSP)  # the display is active (born)
        session.commit()
        yield session


def boards(hall, device_id: str = DSP) -> list[dict]:
    return [a for d, a in hall.send_command.named("display.queue") if d == device_id]


def staff_board(s, hall) -> dict:
    """The board as the staff's queue view sees the committed state now."""
    return display_board(queries.queue_view(s, actor(s, "teller1"), B, hall.now()))


def by_service(board: dict) -> dict[str, dict]:
    return {svc["service"]: svc for svc in board["services"]}


def issue(s, hall, service, user="teller1", **kw):
    view = queue.issue_ticket(s, actor(s, user), hall, B, service, **kw)
    s.commit()
    return view["ticket_no"]


def test_issue_call_and_finish_each_show_the_board(s, hall, clock):
    a1 = issue(s, hall, "cash")
    (board,) = boards(hall)
    cash = by_service(board)["cash"]
    assert cash["letter"] == "A" and cash["waiting"] == 1 and cash["next"] == [a1]
    assert board["serving"] == [] and board == staff_board(s, hall)

    clock.tick(30)
    a2, a3, a4 = issue(s, hall, "cash"), issue(s, hall, "cash"), issue(s, hall, "cash")
    c1 = issue(s, hall, "loan")
    assert len(boards(hall)) == 5  # one per committed change
    board = boards(hall)[-1]
    assert by_service(board)["cash"]["next"] == [a1, a2, a3]  # three, in call order
    assert by_service(board)["cash"]["waiting"] == 4
    assert by_service(board)["loan"] == {
        **by_service(board)["loan"],
        "waiting": 1,
        "next": [c1],
    }
    assert by_service(board)["cash"]["estimated_wait_s"] > 0

    clock.tick(30)
    queue.call_next(s, actor(s, "teller1"), hall, B, "1")
    s.commit()
    board = boards(hall)[-1]
    assert len(boards(hall)) == 6
    assert board["serving"] == [{"counter_id": "1", "ticket_no": a1}]
    assert by_service(board)["cash"]["waiting"] == 3
    assert by_service(board)["cash"]["next"] == [a2, a3, a4]
    assert board == staff_board(s, hall)

    clock.tick(120)
    queue.finish(s, actor(s, "teller1"), hall, B, "1")
    s.commit()
    board = boards(hall)[-1]
    assert len(boards(hall)) == 7
    assert board["serving"] == [] and by_service(board)["cash"]["waiting"] == 3
    assert board == staff_board(s, hall)
    assert all(validate_board(b) for b in boards(hall))  # the display accepts every one
    assert [b["version"] for b in boards(hall)] == sorted({b["version"] for b in boards(hall)})


def test_boards_leave_after_the_commit_and_one_per_transaction(s, hall):
    queue.issue_ticket(s, actor(s, "teller1"), hall, B, "cash")
    queue.issue_ticket(s, actor(s, "teller1"), hall, B, "account")
    assert boards(hall) == []
    s.rollback()
    assert boards(hall) == []  # a rolled-back change shows nothing
    for service in ("cash", "account", "loan"):
        queue.issue_ticket(s, actor(s, "teller1"), hall, B, service)
    s.commit()
    (board,) = boards(hall)  # what the transaction ended with, not its steps
    assert [by_service(board)[x]["waiting"] for x in ("cash", "account", "loan")] == [1, 1, 1]


def test_a_burst_of_changes_gives_few_boards_and_ends_on_the_final_state(s, clock):
    manual = Manual()
    hall = make_hall(clock)
    hall.boards = BoardCoalescer(1.0, clock=manual.clock, schedule=manual.schedule)
    for step in range(20):  # 20 committed changes within the same second
        clock.tick(10)
        if step % 5 == 4:
            queue.call_next(s, actor(s, "teller1"), hall, B, "1")
        else:
            queue.issue_ticket(s, actor(s, "teller1"), hall, B, ("cash", "account")[step % 2])
        s.commit()
    assert len(boards(hall)) == 1  # the first at once, the rest wait for the second to end
    manual.fire()
    assert len(boards(hall)) == 2
    assert boards(hall)[-1] == staff_board(s, hall)
    assert boards(hall)[-1]["serving"] and by_service(boards(hall)[-1])["cash"]["waiting"]


def test_the_public_board_carries_no_client_identity(s, hall, clock):
    client1 = actor(s, "client1")
    remote = queue.issue_ticket(s, client1, hall, B, "cash")["ticket_no"]
    s.commit()
    queue.check_in(s, client1, hall, B, remote, presence_code=support.presence_code(hall, B))
    s.commit()
    client_id = support.user_id(s, "client1")
    issue(s, hall, "wealth", client_id=client_id, category="vip")
    queue.call_next(s, actor(s, "teller1"), hall, B, "2")
    s.commit()
    assert len(boards(hall)) == 4
    client = s.get(User, client_id)
    for board in boards(hall):
        assert set(board) == {"version", "updated_at", "services", "serving"}
        for svc in board["services"]:
            assert set(svc) == {"service", "letter", "waiting", "next", "estimated_wait_s"}
        for entry in board["serving"]:
            assert set(entry) == {"counter_id", "ticket_no"}
        text = json.dumps(board)
        for secret in (client.username, "Client One", "vip", '"id"', "client"):
            assert secret not in text
    assert remote in json.dumps(boards(hall)[-2])  # its number is shown, nothing else of it


def test_only_active_displays_of_the_branch_get_boards(s, hall):
    support.add_other_branch(s)
    for device_id, branch in (("BR002-DSP-01", "BR002"), ("BR001-DSP-02", B)):
        provision_device(
            s,
            SYSTEM,
            SecretBox(support.SECRET),
            branch_id=branch,
            device_type="display",
            device_id=device_id,
        )
    set_device(s, "BR002-DSP-01")  # active, but in the other branch
    s.commit()  # BR001-DSP-02 stays provisioned: never born, it gets its board at birth
    issue(s, hall, "cash")
    queue.call_next(s, actor(s, "teller1"), hall, B, "1")
    s.commit()
    assert {d for d, _a in hall.send_command.named("display.queue")} == {DSP}
    s.query(Device).filter(Device.device_id == DSP).update({"status": "retired"})
    s.commit()
    issue(s, hall, "cash")
    assert {d for d, _a in hall.send_command.named("display.queue")} == {DSP}
    assert len(boards(hall)) == 2  # nothing after the display was retired


def test_a_display_coming_online_gets_the_current_board(s, hall, clock):
    a1 = issue(s, hall, "cash")
    before = len(boards(hall))
    state = make_envelope("display.state", {"online": True, "state": {}}, 3, now=clock())
    events.on_device_event(s, B, "display", DSP, state, channel="state", hall=hall)
    s.commit()
    assert len(boards(hall)) == before  # a state message echoes nothing back
    birth = make_envelope("device.birth", {"online": True, "state": {}}, 1, now=clock())
    assert (
        events.on_device_event(s, B, "display", DSP, birth, channel="state", hall=hall)
        == "board_sent"
    )
    assert len(boards(hall)) == before  # after the commit only
    s.commit()
    board = boards(hall)[-1]
    assert by_service(board)["cash"]["next"] == [a1] and board == staff_board(s, hall)


def test_boards_on_both_databases_with_concurrent_counters(make_app, db_url):
    """Issue, call and finish from several threads on SQLite and PostgreSQL: each change
    commits its board, the highest version is the final state, and nobody else gets one."""
    app = make_app(db_url)
    factory = app.extensions["finedge"].session_factory
    hall = make_hall(support.Clock(support.T0 + timedelta(days=401)))
    hall.boards = BoardCoalescer(0)

    def setup(session):
        clean_hall(session)
        for c in session.scalars(select(HallCounter)):
            c.status = "open"
        set_device(session, DSP)

    run_in_transaction(factory, setup)
    issued = [
        run_in_transaction(
            factory, lambda s: queue.issue_ticket(s, actor(s, "teller1"), hall, B, "cash")
        )["ticket_no"]
        for _ in range(2)
    ]
    first = boards(hall)
    assert len(first) == 2 and by_service(first[-1])["cash"]["next"] == issued
    errors = []

    def work(counter: str) -> None:
        try:
            for _ in range(3):
                run_in_transaction(
                    factory,
                    lambda s: queue.issue_ticket(s, actor(s, "teller1"), hall, B, "cash"),
                )
                run_in_transaction(
                    factory, lambda s: queue.call_next(s, actor(s, "teller2"), hall, B, counter)
                )
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in ("1", "2", "9")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    sent = boards(hall)
    assert len(sent) == 2 + 18
    newest = max(sent, key=lambda b: b["version"])
    with factory() as s:
        assert newest == staff_board(s, hall)
        waiting = s.query(Ticket).filter(Ticket.status == "waiting", Ticket.service == "cash")
        assert by_service(newest)["cash"]["waiting"] == waiting.count()
    assert {d for d, _a in hall.send_command.named("display.queue")} == {DSP}
