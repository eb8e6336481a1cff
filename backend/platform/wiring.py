"""What the composition root hands to the work of one process: its role, configuration, live
emitter and the ports through which areas call each other.

An area never imports another peer area. When floor-plan must ask risk whether a hard signal
blocks a draw, or the hall must read a device's state, it asks for a *port* (a Protocol in
``backend.platform.ports``) and gets the implementation the root installed::

    gate = port(session, DisbursementGate)
    gate.ensure_no_blocking_signal(session, org_id)

The wiring rides on every session the root's session factory makes (``session.info``), so a
service, a job or an ingest handler reaches a port through the session it already has: no
module globals, no importlib, and two apps in one process (tests) never see each other's
ports. A session made without wiring (``make_session_factory(engine)`` alone) has none: asking
it for a port raises ``PortMissing``, which names the port, instead of quietly doing nothing.

``provide`` takes the implementation, or a factory ``(wiring) -> implementation`` that is
called once, on first use (so ports may need each other without an order of construction).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from backend.platform.config import Config
from backend.platform.live import LiveEmitter, NullEmitter

T = TypeVar("T")
INFO_KEY = "finedge.wiring"
ROLES = ("all", "web", "hub", "scheduler", "jobs", "worker", "cli", "test")


class PortMissing(LookupError):
    """A port was asked for that this process's root did not install."""


class Wiring:
    def __init__(self, config: Config, role: str = "cli", live: LiveEmitter | None = None):
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        self.config = config
        self.role = role
        self.live: LiveEmitter = live if live is not None else NullEmitter()
        self._ports: dict[type, Any] = {}
        self._factories: dict[type, Callable[[Wiring], Any]] = {}
        self._lock = threading.RLock()

    def provide(self, port_type: type[T], impl: T | Callable[[Wiring], T], *, lazy=False) -> None:
        """Install ``impl`` for ``port_type`` (with ``lazy=True``, ``impl`` is a factory
        called with this wiring on first use). A later call replaces an earlier one."""
        with self._lock:
            self._ports.pop(port_type, None)
            self._factories.pop(port_type, None)
            if lazy:
                self._factories[port_type] = impl  # type: ignore[assignment]
            else:
                self._ports[port_type] = impl

    def has(self, port_type: type) -> bool:
        return port_type in self._ports or port_type in self._factories

    def get(self, port_type: type[T]) -> T:
        impl = self._ports.get(port_type)
        if impl is not None:
            return impl
        with self._lock:
            if port_type not in self._ports:
                factory = self._factories.pop(port_type, None)
                if factory is None:
                    raise PortMissing(
                        f"no {port_type.__name__} in this process (role {self.role}): the "
                        "composition root (backend/bootstrap.py) installs the ports"
                    )
                self._ports[port_type] = factory(self)
            return self._ports[port_type]

    def close(self) -> None:
        """The process stops: every implementation built so far that has a ``close`` closes
        (a command link's MQTT client, the hall's board timers), each once."""
        with self._lock:
            built, self._ports = list(self._ports.values()), {}
        for impl in {id(i): i for i in built}.values():
            close = getattr(impl, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # one part failing to close must not keep the rest open
                    logging.getLogger(__name__).exception("closing %r failed", impl)

    def ports(self) -> list[str]:
        return sorted(t.__name__ for t in (*self._ports, *self._factories))


def wiring_of(session: Session) -> Wiring:
    wiring = session.info.get(INFO_KEY)
    if wiring is None:
        raise PortMissing(
            "this session carries no wiring: make its factory with the composition root "
            "(backend.bootstrap) or make_session_factory(engine, wiring)"
        )
    return wiring


def port(session: Session, port_type: type[T]) -> T:
    """The implementation of ``port_type`` for the work of this session."""
    return wiring_of(session).get(port_type)


def live_of(session: Session) -> LiveEmitter:
    """The process's live emitter, for work that has no request (jobs, the ingest)."""
    return wiring_of(session).live
