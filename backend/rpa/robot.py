"""What a robot is: a manifest and two plain functions, ``produce`` and ``process``.

A robot lives in a module (the built-in ones in the top-level ``robots`` package) that exposes
``ROBOT = Robot(manifest=..., produce=..., process=...)``; the registry deploys it by its entry
point ``"robots.margin_reconciliation:ROBOT"`` (docs/rpa.md).

- ``produce(ctx: RunContext) -> Iterable[dict]`` runs once per run (cron, interval, by hand,
  by API) and yields the run's work items' payloads (JSON-ready dicts). A robot fed only by
  another robot (a producer-consumer chain) may produce nothing.
- ``process(ctx: ItemContext, payload: dict) -> dict`` does one work item and returns its
  result (JSON-ready). It raises ``BusinessFailure`` when the item itself is wrong (a rejected
  form, a difference in a reconciliation, an unreadable field): not retried, it goes to a
  person's review queue. Any other exception is an APPLICATION failure (a system down, a
  timeout): retried with back-off up to the manifest's ``max_retries``.

Both get a context with a database session of the robot's transaction, the clock, the acting
system user, the process's ports (``ctx.port(SomePort)``), a logger whose lines are kept with
the run (``ctx.log``), artefacts (``ctx.artefact``) and, for items, ``ctx.emit(robot, payload)``
to hand a new item to the next robot of a chain, in the same transaction as this item's DONE.
A money-moving robot passes ``ctx.idempotency_key`` (derived from the work item's id) to the
ledger, so an item retried after a crash never moves money twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.config import Config
from backend.platform.context import Actor

DEPARTMENTS = ("operations", "finance", "risk", "retail")
FIELD_TYPES = ("str", "int", "decimal", "date", "bool", "object", "list")


class BusinessFailure(Exception):
    """The item is wrong, not the system: no retry, a person reviews it. ``code`` is a short
    machine reason (``form_rejected``, ``low_confidence``, ``difference``), ``details`` what the
    reviewer needs to decide (JSON-ready)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


class ApplicationFailure(Exception):
    """A system failure worth retrying (any other exception counts as one too); ``code`` is
    its short reason for the monitoring page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Schedule:
    """When the scheduler starts a run by itself: a five-field cron line (Asia/Shanghai) or
    every ``every_s`` seconds; neither: by hand or API only."""

    cron: str | None = None
    every_s: int | None = None


@dataclass(frozen=True)
class Manifest:
    name: str  # [a-z][a-z0-9_]{2,39}
    version: str  # MAJOR.MINOR.PATCH
    department: str  # one of DEPARTMENTS: who sees its runs and reviews its items
    title: str
    description: str = ""
    # the payload's fields: name -> one of FIELD_TYPES; a payload with a missing or mistyped
    # field is refused when it is queued (hand/API) and a produced one fails as BUSINESS
    input_schema: dict[str, str] = field(default_factory=dict)
    schedule: Schedule = field(default_factory=Schedule)
    concurrency: int = 1  # items of this robot processed at once across all workers
    timeout_s: int = 60  # one item; past it the worker process is killed
    max_retries: int = 3  # APPLICATION failures retried this many times, then FAILED
    manual_minutes: Decimal = Decimal("1")  # a person's minutes per item (time saved)
    feeds: tuple[str, ...] = ()  # robots this one may emit items to (a chain)
    moves_money: bool = False


@dataclass
class RunContext:
    """What ``produce`` gets. ``params`` are the run's parameters (hand/API trigger)."""

    session: Session
    config: Config
    actor: Actor
    now: datetime
    run_id: int
    params: dict[str, Any]
    logger: logging.Logger
    _log: Callable[[str, str], None]
    _artefact: Callable[[str, bytes, str], int]

    def log(self, message: str, level: str = "info") -> None:
        self._log(level, message)

    def artefact(self, name: str, data: bytes, content_type: str) -> int:
        """Keep a file with the run (a report, a screenshot); returns its id."""
        return self._artefact(name, data, content_type)

    def port(self, port_type: type) -> Any:
        from backend.platform.wiring import port

        return port(self.session, port_type)


@dataclass
class ItemContext(RunContext):
    """What ``process`` gets: the run's context plus the item."""

    item_id: int = 0
    attempt: int = 1
    _emit: Callable[[str, dict[str, Any]], None] | None = None
    _read_artefact: Callable[[int], bytes] | None = None

    @property
    def idempotency_key(self) -> str:
        """The ledger idempotency key of this item's money movement: the same on every
        retry of the item, different for every item."""
        return f"rpa:item:{self.item_id}"

    def read_artefact(self, artefact_id: int) -> bytes:
        """The bytes of a file kept with the factory (an uploaded scan the item points at)."""
        if self._read_artefact is None:
            raise RuntimeError("no artefact store")
        return self._read_artefact(artefact_id)

    def emit(self, robot: str, payload: dict[str, Any]) -> None:
        """Queue an item for ``robot`` (named in this manifest's ``feeds``), created in the
        same transaction as this item's DONE: a failed item hands nothing on."""
        if self._emit is None:
            raise RuntimeError("emit outside an item")
        self._emit(robot, payload)


Produce = Callable[[RunContext], Iterable[dict[str, Any]]]
Process = Callable[[ItemContext, dict[str, Any]], dict[str, Any]]


def produce_nothing(_ctx: RunContext) -> Iterable[dict[str, Any]]:
    """For a robot fed only by another robot's ``emit``."""
    return ()


@dataclass(frozen=True)
class Robot:
    manifest: Manifest
    process: Process
    produce: Produce = produce_nothing
