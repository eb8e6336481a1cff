"""Contexts for calling a robot's ``produce`` and ``process`` directly, without the queue: the
robots' own unit tests and ``finedge bench rpa``'s bare loop use them. Logs and artefacts
are collected in lists instead of tables."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.clock import utcnow
from backend.platform.config import Config
from backend.platform.context import SYSTEM, Actor
from backend.rpa.robot import ItemContext, RunContext


@dataclass
class Collected:
    logs: list[tuple[str, str]] = field(default_factory=list)
    artefacts: list[tuple[str, bytes, str]] = field(default_factory=list)
    emitted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def run_context(
    session: Session,
    config: Config,
    *,
    params: dict[str, Any] | None = None,
    now: datetime | None = None,
    actor: Actor = SYSTEM,
    run_id: int = 0,
) -> tuple[RunContext, Collected]:
    got = Collected()
    ctx = RunContext(
        session=session,
        config=config,
        actor=actor,
        now=now or utcnow(),
        run_id=run_id,
        params=params or {},
        logger=logging.getLogger("robots"),
        _log=lambda level, message: got.logs.append((level, message)),
        _artefact=lambda name, data, ctype: _keep(got, name, data, ctype),
    )
    return ctx, got


def item_context(
    session: Session,
    config: Config,
    *,
    item_id: int = 1,
    attempt: int = 1,
    params: dict[str, Any] | None = None,
    now: datetime | None = None,
    actor: Actor = SYSTEM,
    run_id: int = 0,
    files: dict[int, bytes] | None = None,
) -> tuple[ItemContext, Collected]:
    """``files`` are the artefacts ``ctx.read_artefact(id)`` returns."""
    got = Collected()
    files = files or {}
    ctx = ItemContext(
        session=session,
        config=config,
        actor=actor,
        now=now or utcnow(),
        run_id=run_id,
        params=params or {},
        logger=logging.getLogger("robots"),
        _log=lambda level, message: got.logs.append((level, message)),
        _artefact=lambda name, data, ctype: _keep(got, name, data, ctype),
        item_id=item_id,
        attempt=attempt,
        _emit=lambda robot, payload: got.emitted.append((robot, payload)),
        _read_artefact=lambda artefact_id: files[artefact_id],
    )
    return ctx, got


def _keep(got: Collected, name: str, data: bytes, content_type: str) -> int:
    got.artefacts.append((name, data, content_type))
    return len(got.artefacts)
