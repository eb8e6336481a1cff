"""The engine under the factory's queues: huey (coleifer/huey), a maintained task queue.

Why huey: it is the one maintained engine whose storage comes in both shapes FinEdge runs in.
On the demo's single machine it keeps its queue in a SQLite file (no server to install, like
the embedded broker), and real worker processes (``finedge rpa worker --workers 4``) consume
it; in production it keeps the queue in Redis (already part of the production shape), and
workers run on any number of machines. procrastinate and pgqueuer need PostgreSQL (the demo
runs on SQLite); rq, dramatiq and celery need Redis or RabbitMQ even for the demo. huey gives
process workers that are restarted when they die, delayed (scheduled) tasks for back-off, and
a consumer that runs anywhere the queue URL reaches.

What huey does not give, the factory keeps in its own tables, where a bank wants it anyway
(``rpa_work_items``): the item's state, its lease and heartbeat, attempts and failure kinds.
huey only carries "process item N" and "start run N" messages; a message that arrives twice,
late, or for an item someone else holds is harmless, because a worker takes an item only by a
conditional UPDATE of its row (backend/rpa/worker.py). A message lost with a dead Redis or a
killed worker is made good by the reaper, which re-sends for NEW items that wait too long.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey

from backend.platform.config import Config

ITEM_TASK = "rpa_item"
RUN_TASK = "rpa_run"


def make_huey(url: str, name: str = "finedge-rpa") -> Huey:
    """A huey instance on ``url`` ("sqlite:///file", "redis://…", "memory" or "")."""
    if not url or url == "memory":
        return MemoryHuey(name, results=False)
    if url.startswith("sqlite:///"):
        return SqliteHuey(name, filename=url.removeprefix("sqlite:///"), results=False)
    if url.startswith(("redis://", "rediss://")):
        return RedisHuey(name, url=url, results=False)
    raise ValueError(f"not a queue URL: {url!r}")


@dataclass
class Dispatcher:
    """Sends the factory's two messages on one huey instance. The worker side registers the
    same two task names (``worker.register``) with the functions that do the work."""

    huey: Huey
    item_task: Any
    run_task: Any

    def send_item(self, item_id: int, delay_s: float = 0.0) -> None:
        if delay_s > 0:
            self.item_task.schedule(args=(item_id,), delay=delay_s)
        else:
            self.item_task(item_id)

    def send_run(self, run_id: int) -> None:
        self.run_task(run_id)

    def pending(self) -> int:
        return self.huey.pending_count() + self.huey.scheduled_count()


_lock = threading.Lock()
_dispatchers: dict[str, Dispatcher] = {}
# what this process does with the two messages: set by a worker process (``finedge rpa
# worker``); a process that only sends has none and refuses to run them
_handlers: dict[str, Any] = {}


def rpa_item(item_id: int) -> Any:
    """huey's task "process item N" (the same function, so the same task name, in the
    sending and the working process)."""
    return _handler("item")(item_id)


def rpa_run(run_id: int) -> Any:
    """huey's task "start run N"."""
    return _handler("run")(run_id)


def _handler(kind: str) -> Any:
    found = _handlers.get(kind)
    if found is None:
        raise RuntimeError("this process sends robot work; it does not run it")
    return found


def dispatcher_for(config: Config, handlers: Any = None) -> Dispatcher:
    """The process's dispatcher for the config's queue (one per queue URL and process).
    ``handlers`` (a worker process) is ``(process_item, start_run)``."""
    key = f"{config.rpa_queue}|{config.database_url}"
    with _lock:
        if handlers is not None:
            _handlers["item"], _handlers["run"] = handlers
        found = _dispatchers.get(key)
        if found is not None:
            return found
        huey = make_huey(config.rpa_queue, _queue_name(config))
        item_task = huey.task(name=ITEM_TASK)(rpa_item)
        run_task = huey.task(name=RUN_TASK)(rpa_run)
        dispatcher = Dispatcher(huey, item_task, run_task)
        _dispatchers[key] = dispatcher
        return dispatcher


def forget(config: Config) -> None:
    """Drop the process's dispatcher of this config (tests that throw the database away)."""
    with _lock:
        _dispatchers.pop(f"{config.rpa_queue}|{config.database_url}", None)


def _queue_name(config: Config) -> str:
    """One queue per database: two test databases on one Redis never share a queue."""
    import hashlib

    digest = hashlib.sha256(config.database_url.encode()).hexdigest()[:12]
    return f"finedge-rpa-{digest}"
