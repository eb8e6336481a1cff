"""The composition root: the one place that builds a FinEdge process.

``bootstrap(config, role)`` reads every area's declaration (``AREAS``: each ``area.py``
declares its models, blueprints, jobs, seeders, benchmarks, live events, the ports it offers
and needs, and the device uplinks it reacts to), and builds what the role runs:

    role        what it runs                                       DeviceLink (commands)
    all         HTTP + Socket.IO, embedded central broker unless   the hub
                MQTT_URL, hub (ingest, registries), scheduler      (``finedge serve``)
    web         HTTP + Socket.IO                                   a command link
    hub         the device hub: ingest, registries, queue.sync      the hub
    scheduler   the jobs on their schedules                         a command link
    jobs, cli   nothing running: ``finedge jobs run``, seeding      a command link
    test        nothing running (tests build sessions and halls)   none (commands fail)

Every role gets the same wiring (``backend.platform.wiring``): the process's live emitter (with
each event's renderer), the areas' ports and the uplink routes, carried by every session of
the runtime's session factory, so a job run by hand (``finedge jobs run``) reaches the same
ports, emitter and device link a scheduled run does. Importing a module wires nothing: only
``bootstrap`` does, and ``Runtime.start`` starts the role's threads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from backend.platform.areas import Area, resolve
from backend.platform.config import Config
from backend.platform.db import make_engine, make_session_factory
from backend.platform.jobs import JobRegistry, JobRun, run_job
from backend.platform.live import Audience, LiveEmitter, NullEmitter, Renderer
from backend.platform.ports import DeviceLink, UplinkRoutes
from backend.platform.redaction import install_log_redaction
from backend.platform.wiring import PortMissing, Wiring

log = logging.getLogger(__name__)

# The areas of this installation, in seeding order. Adding an area is one line here plus its
# package (with ``area.py``) and its migration: docs/DEVELOPING.md.
AREAS: tuple[str, ...] = (
    "backend.platform.area",
    "backend.identity.area",
    "backend.ledger.area",
    "backend.floorplan.area",
    "backend.assetpool.area",
    "backend.risk.area",
    "backend.devices.area",
    "backend.branch.area",
    "backend.factoring.area",
    "backend.clearing.area",
    "backend.collateral.area",
    "backend.marketing.area",
    "backend.rpa.area",
)

ROLES_WITH_WEB = ("all", "web")


# --------------------------------------------------------------------------- declarations


def collect_areas(extra: Iterable[Area] = ()) -> list[Area]:
    """The declared areas (``AREAS``) and any ``extra`` ones, names unique."""
    areas = [resolve(f"{module}:AREA") for module in AREAS] + list(extra)
    seen: set[str] = set()
    for area in areas:
        if area.name in seen:
            raise ValueError(f"area {area.name!r} declared twice")
        seen.add(area.name)
    return areas


def load_models(areas: Iterable[Area]) -> None:
    """Import every area's models, so the metadata is complete (Alembic, mappers)."""
    for area in areas:
        for module in area.models:
            resolve(module)


def job_registry(areas: Iterable[Area]) -> JobRegistry:
    jobs = JobRegistry()
    for area in areas:
        if area.jobs is not None:
            jobs.merge(area.jobs)
    return jobs


def benchmarks(areas: Iterable[Area] | None = None) -> dict[str, str]:
    found: dict[str, str] = {}
    for area in areas if areas is not None else collect_areas():
        for name, module in area.benchmarks.items():
            if name in found:
                raise ValueError(f"benchmark {name!r} declared twice")
            found[name] = module
    return found


def live_renderers(areas: Iterable[Area]) -> dict[str, Renderer | None]:
    """Every declared live event and its renderer: the ``dump`` of its schema (the HTTP
    response schema of the same object), or None where the service hands over a dict."""
    renderers: dict[str, Renderer | None] = {}
    for area in areas:
        for event in area.live_events:
            if event.name in renderers:
                raise ValueError(f"live event {event.name!r} declared twice")
            renderers[event.name] = resolve(event.schema)().dump if event.schema else None
    return renderers


def live_audiences(areas: Iterable[Area]) -> dict[str, Audience]:
    """Every declared live event's audience rule; an event without one is refused."""
    audiences: dict[str, Audience] = {}
    for area in areas:
        for event in area.live_events:
            if event.rule is None:
                raise ValueError(f"live event {event.name!r} declares no audience rule")
            audiences[event.name] = event.rule
    return audiences


def uplink_routes(areas: Iterable[Area]) -> UplinkRoutes:
    routes = UplinkRoutes()
    for area in areas:
        for kind, table in area.uplinks.items():
            routes.add(kind, table)
    return routes


def build_wiring(
    config: Config,
    role: str,
    areas: list[Area],
    live: LiveEmitter,
    ports: Mapping[type, Any] | None = None,
) -> Wiring:
    """The areas' ports (built on first use), the uplink routes and the role's own ports;
    refuses an area whose needs nobody provides."""
    wiring = Wiring(config, role, live)
    for area in areas:
        for offer in area.provides:
            wiring.provide(offer.port, offer.factory, lazy=True)
    wiring.provide(UplinkRoutes, uplink_routes(areas))
    for port_type, impl in (ports or {}).items():
        wiring.provide(port_type, impl)
    role_ports = {DeviceLink}  # installed by the role below when not given
    for area in areas:
        for need in area.needs:
            if not wiring.has(need) and need not in role_ports:
                raise PortMissing(
                    f"area {area.name!r} needs {need.__name__}, which no area provides"
                )
    return wiring


# --------------------------------------------------------------------------- the runtime


@dataclass
class Runtime:
    """One built process: its config, areas, database, wiring, jobs and, by role, the web app,
    the central broker, the hub and the scheduler. ``start`` starts the role's threads,
    ``stop`` stops them in reverse order."""

    config: Config
    role: str
    areas: list[Area]
    engine: Engine
    session_factory: sessionmaker[Session]
    wiring: Wiring
    jobs: JobRegistry
    app: Any = None
    socketio: Any = None
    hub: Any = None
    broker: Any = None
    scheduler: Any = None
    mqtt_url: str | None = None
    mqtt_shown: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    _stoppers: list[Any] = field(default_factory=list)

    @property
    def live(self) -> LiveEmitter:
        return self.wiring.live

    def run_job(self, name: str, **kwargs: Any) -> JobRun:
        """Run one job now, recorded like a scheduled run, with this process's wiring."""
        return run_job(self.session_factory, name, jobs=self.jobs, **kwargs)

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether this process can do its work now, and why not (the readiness probe)."""
        details: dict[str, Any] = {}
        try:
            with self.session_factory() as session:
                session.execute(text("SELECT 1"))
            details["database"] = "ok"
        except Exception as exc:
            details["database"] = type(exc).__name__
        ok = details["database"] == "ok"
        if self.hub is not None:
            details["mqtt"] = "connected" if self.hub.connected else "disconnected"
            details.update(self.hub.status())
            ok = ok and self.hub.ready
        if self.scheduler is not None:
            details["scheduler"] = self.scheduler.state
        return ok, details

    def start(self) -> Runtime:
        """Start what the role runs: the embedded broker, the hub, the scheduler."""
        role = self.role
        if role in ("all", "hub"):
            self._start_hub()
        if role == "scheduler" or (role == "all" and self.options.get("scheduler", True)):
            from backend.roles.scheduler import SchedulerRole

            self.scheduler = SchedulerRole(
                self.session_factory,
                self.jobs,
                self.engine,
                retry_s=self.options.get("leader_retry_s", 5.0),
            ).start()
            self._stoppers.append(self.scheduler.stop)
        return self

    def _start_hub(self) -> None:
        from backend.roles.hub import DeviceHub, HubSettings

        if self.config.mqtt_url is None and self.role == "all":
            from backend.roles.broker import start_central_broker

            self.broker = start_central_broker(
                self.config,
                self.session_factory,
                host=self.options.get("host", "127.0.0.1"),
                port=self.options.get("mqtt_port", 18830),
            )
            self._stoppers.append(self.broker.stop)
            self.mqtt_url, self.mqtt_shown = self.broker.backend_url, self.broker.shown
        else:
            from backend.platform.mqtt import parse_mqtt_url
            from backend.roles.command_link import central_url

            self.mqtt_url = central_url(self.config)
            host, port, _user, _password = parse_mqtt_url(self.mqtt_url)
            self.mqtt_shown = f"mqtt://{host}:{port}"  # no password on the console
            from backend.roles.central_accounts import keeper_for

            # The central broker's accounts follow the branches (dynamic security), applied
            # before the hub connects with the backend's login.
            keeper = keeper_for(self.config, self.session_factory)
            if keeper is not None:
                keeper.start()
                self._stoppers.append(keeper.stop)
        # A clean session (HubSettings' default): the edges' outboxes keep every uplink until
        # a receipt, and a session per hub id left in the broker would queue for nobody.
        settings = HubSettings(
            hub_id=self.options.get("hub_id") or "",
            host_id=self.options.get("host_id") or HubSettings.host_id,
        )
        self.hub = DeviceHub(
            self.session_factory, self.live, self.config.secret_key, self.mqtt_url, settings
        ).start()
        self.wiring.provide(DeviceLink, self.hub)
        self._stoppers.append(self.hub.stop)

    def stop(self) -> None:
        while self._stoppers:
            stop = self._stoppers.pop()
            try:
                stop()
            except Exception:
                log.exception("error while stopping")
        self.wiring.close()
        self.engine.dispose()


def bootstrap(
    config: Config | None = None,
    role: str = "cli",
    *,
    areas: list[Area] | None = None,
    extra_areas: Iterable[Area] = (),
    live: LiveEmitter | None = None,
    ports: Mapping[type, Any] | None = None,
    engine: Engine | None = None,
    **options: Any,
) -> Runtime:
    """Build the process of ``role`` (see the module). ``extra_areas`` adds areas to the
    declared ones (tests); ``live``, ``ports`` and ``engine`` replace the role's own (tests)."""
    install_log_redaction()  # every role: no token in any log line
    config = config or Config.from_env()
    areas = areas if areas is not None else collect_areas(extra_areas)
    load_models(areas)
    renderers = live_renderers(areas)
    audiences = live_audiences(areas)
    app = socketio = None
    if role in ROLES_WITH_WEB:
        from backend.roles.web import new_app

        app, socketio = new_app(config)
    if live is None:
        live = _live_emitter(config, role, socketio, renderers, audiences)
    else:
        if not live.renderers:
            live.renderers = dict(renderers)
        if not live.audiences:
            live.audiences = dict(audiences)
    wiring = build_wiring(config, role, areas, live, ports)  # refuses unmet needs first
    engine = engine if engine is not None else make_engine(config.database_url)
    session_factory = make_session_factory(engine, wiring)
    runtime = Runtime(
        config=config,
        role=role,
        areas=areas,
        engine=engine,
        session_factory=session_factory,
        wiring=wiring,
        jobs=job_registry(areas),
        app=app,
        socketio=socketio,
        options=options,
    )
    if not wiring.has(DeviceLink):
        wiring.provide(DeviceLink, _device_link(runtime), lazy=False)
    if app is not None:
        from backend.roles.web import build_app

        blueprints = [resolve(name) for area in areas for name in area.blueprints]
        events = [
            (e, resolve(e.schema) if e.schema else None) for a in areas for e in a.live_events
        ]
        pages = [resolve(name) for area in areas for name in area.pages]
        build_app(app, socketio, runtime, blueprints, events, pages)
    return runtime


def _live_emitter(
    config: Config,
    role: str,
    socketio: Any,
    renderers: Mapping[str, Renderer | None],
    audiences: Mapping[str, Audience],
) -> LiveEmitter:
    if socketio is not None:
        from backend.roles.live import SocketIOEmitter

        return SocketIOEmitter(socketio, renderers, audiences)
    if config.redis_url:
        from backend.roles.live import external_emitter

        return external_emitter(config.redis_url, renderers, audiences)
    return NullEmitter(renderers, audiences)


def _device_link(runtime: Runtime) -> Any:
    """Until the hub starts (roles all, hub) or for good (other roles): a command link to the
    central broker, or, in tests without MQTT_URL, no link (commands end ``failed``)."""
    from backend.devices.commands import CommandDispatcher, DispatcherLink
    from backend.devices.secretbox import SecretBox

    config = runtime.config
    if runtime.role == "test" or (config.env == "test" and config.mqtt_url is None):
        return DispatcherLink(
            CommandDispatcher(runtime.session_factory, SecretBox(config.secret_key), None)
        )
    from backend.roles.command_link import CommandLink

    return CommandLink(runtime.session_factory, config, role=runtime.role)
