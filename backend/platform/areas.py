"""How an area declares itself to the composition root: one ``AREA = Area(...)`` in the area's
``area.py``, collected by ``backend/bootstrap.py``. Declaring is all an area does: importing
it wires nothing; the root reads the declaration and installs what each process role needs.

    Area(
        name="ledger",
        models=("backend.ledger.models",),            # tables (Alembic, tests, every process)
        blueprints=("miniapp_api.ledger",),            # HTTP modules exposing ``blp`` (web role)
        jobs=ledger_jobs.JOBS,                         # a JobRegistry of the area (scheduler role)
        seeders=(seed_ledger,),                        # (session, SeedOptions) -> dict, in order
        benchmarks={"ledger": "bench.ledger"},         # finedge bench NAME
        live_events=(LiveEvent("...", "miniapp_api.x.schemas:ThingOut"),),
        provides=(Provide(SomePort, factory),),        # ports it offers: factory(wiring) -> impl
        needs=(OtherPort,),                            # ports it uses (checked at bootstrap)
        uplinks={"lock": {"event:lock.unlocked": handler}},   # device uplinks it reacts to
        cli=("backend.ledger.cli:ledger_cli",),        # click groups added to ``finedge``
    )

Modules of the HTTP edge, benchmarks and CLI groups are named by dotted path (``module`` or
``module:attribute``), so that a domain package never imports Flask, marshmallow or the
benchmarks; the root imports them only in the roles that use them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.platform.jobs import JobRegistry
from backend.platform.live import Audience
from backend.platform.ports import UplinkHandler


@dataclass(frozen=True)
class LiveEvent:
    """A Socket.IO event of the area. ``schema`` ("module:Class") is the marshmallow schema
    that renders its payload: the HTTP API's response schema of the same object, so a push and
    a GET carry the same JSON. Without one the service hands over a JSON-ready dict.
    ``audience`` says in words who hears it; ``rule`` (required: the root refuses an event
    without one) is the ``Audience`` the emitter enforces: the rooms it may reach, the same
    people who may read the object over REST."""

    name: str
    schema: str | None = None
    audience: str = ""
    rule: Audience | None = None


@dataclass(frozen=True)
class Provide:
    """A port the area offers: ``factory(wiring)`` builds the implementation on first use."""

    port: type
    factory: Callable[[Any], Any]


@dataclass(frozen=True)
class Area:
    name: str
    description: str = ""
    models: tuple[str, ...] = ()
    blueprints: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    jobs: JobRegistry | None = None
    seeders: tuple[Callable[..., Any], ...] = ()
    benchmarks: Mapping[str, str] = field(default_factory=dict)
    live_events: tuple[LiveEvent, ...] = ()
    provides: tuple[Provide, ...] = ()
    needs: tuple[type, ...] = ()
    uplinks: Mapping[str, Mapping[str, UplinkHandler]] = field(default_factory=dict)
    cli: tuple[str, ...] = ()


def resolve(path: str) -> Any:
    """``"package.module"`` -> the module; ``"package.module:name"`` -> that attribute."""
    module_name, _, attribute = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module
