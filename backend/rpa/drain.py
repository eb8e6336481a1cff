"""Work the queue in this process until it is empty: the tests, ``finedge rpa drain`` and the
benchmark's one-process figure. The same ``Executor`` as a worker process, without the kill
(a timeout is recorded; the robot's late finish is refused by its lease)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from backend.platform.config import Config
from backend.rpa.queue import ITEM_TASK, RUN_TASK, dispatcher_for
from backend.rpa.worker import Executor


@dataclass
class Drained:
    tasks: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def drain(
    session_factory: sessionmaker[Session],
    config: Config,
    *,
    timeout_s: float = 60.0,
    wait_scheduled: bool = True,
) -> Drained:
    """Run queued and due scheduled messages until none is left (``wait_scheduled``: also
    wait for delayed ones, the back-off's retries) or ``timeout_s`` has passed."""
    dispatcher = dispatcher_for(config)
    huey = dispatcher.huey
    executor = Executor(session_factory, config, dispatcher=dispatcher, name="drain")
    done = Drained()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for task in huey.read_schedule():
            huey.enqueue(task)
        task = huey.dequeue()
        if task is None:
            if wait_scheduled and huey.scheduled_count():
                time.sleep(0.02)  # a retry's back-off (tests use a few ms)
                continue
            break
        if task.name == ITEM_TASK:
            outcome = executor.process_item(int(task.args[0]))
        elif task.name == RUN_TASK:
            outcome = executor.start_run(int(task.args[0]))
        else:
            outcome = "unknown"
        done.tasks += 1
        done.outcomes[outcome] = done.outcomes.get(outcome, 0) + 1
    return done
