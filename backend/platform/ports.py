"""The ports between areas: what one area may ask of another, as Protocols.

Areas never import each other's modules (an import-linter contract holds them independent).
The area that needs a capability asks for its port (``backend.platform.wiring.port``); the
area that offers it declares an implementation in its ``area.py``; the composition root
(``backend/bootstrap.py``) installs the one from the other. This module is the vocabulary they
share: small Protocols and the plain values that cross them.

    floor-plan ──DisbursementGate, RiskEvents──> risk
    hall ──DeviceDirectory──> devices
    hall, devices API ──DeviceLink──> the hub, or a command link
    collateral ──FloorplanExposure, FactoringExposure──> floor-plan, factoring
    collateral ──RiskEvents──> risk (LTV over a product's thresholds)
    marketing ──HallArrivals──> hall (a known client recognised at a branch's door)
    devices ingest, hub ──HallForDevices──> hall
    ingest ──UplinkRoutes──> every area's uplink handlers
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, DomainError
from backend.platform.live import LiveEmitter
from backend.platform.wiring import port

# --------------------------------------------------------------------------- risk


class DisbursementGate(Protocol):
    """Risk early warning's answer before money leaves the bank (a bill issued, a car released
    before repayment, a payable financed): raises BusinessRuleViolation
    ``disbursement_blocked_by_risk`` while a signal of one of ``levels`` (default: hard only)
    is open for the enterprise linked to the org. Factoring also refuses on strong signals."""

    def ensure_no_blocking_signal(
        self, session: Session, org_id: int, *, levels: tuple[str, ...] = ("hard",)
    ) -> None: ...


DISBURSEMENT_BLOCKED = "disbursement_blocked_by_risk"


def ensure_disbursement_allowed(
    session: Session,
    actor: Actor,
    org_id: int,
    *,
    plain_message: str,
    levels: tuple[str, ...] = ("hard",),
) -> None:
    """The gate as a customer-facing area asks it: bank staff get the blocking signals in the
    error's details; anyone else (a dealer, an enterprise) learns only that it is refused, 422
    ``disbursement_refused`` with ``plain_message``, never which internal rule refused it."""
    try:
        port(session, DisbursementGate).ensure_no_blocking_signal(session, org_id, levels=levels)
    except DomainError as exc:
        if actor.is_bank_staff or exc.code != DISBURSEMENT_BLOCKED:
            raise
        raise BusinessRuleViolation(plain_message, code="disbursement_refused") from None


class RiskEvents(Protocol):
    """Facts other areas observe about a client (an out-of-trust car, a margin shortfall, an
    overdue loan) become risk events of that client, in the caller's transaction.
    ``severity``: low | medium | high | critical. ``external_id`` makes a repeat a no-op; a
    signal it raises is pushed through ``live`` (default: the process's emitter)."""

    def record_internal_event(
        self,
        session: Session,
        actor: Actor,
        *,
        org_id: int,
        source: str,
        kind: str,
        severity: str,
        data: dict[str, Any],
        source_time: datetime,
        external_id: str | None = None,
        live: LiveEmitter | None = None,
    ) -> None: ...


# --------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class DeviceInfo:
    """A device as other areas see it: identity, lifecycle, live state and twin."""

    device_id: str
    branch_id: str
    device_type: str
    model: str
    status: str
    online: bool
    state: dict[str, Any]
    desired: dict[str, Any]
    desired_version: int
    reported: dict[str, Any]
    reported_version: int


class DeviceDirectory(Protocol):
    """The device registry, read and changed by other areas (the hall)."""

    def find_device(self, session: Session, device_id: str) -> DeviceInfo | None: ...

    def devices_of(
        self,
        session: Session,
        branch_id: str | None,
        device_type: str | None = None,
        *,
        model: str | None = None,
    ) -> list[DeviceInfo]: ...

    def retired_among(self, session: Session, device_ids: Iterable[str]) -> set[str]: ...

    def set_desired(
        self, session: Session, actor: Actor, device_id: str, patch: dict[str, Any], now: datetime
    ) -> int: ...

    def raise_alarm(
        self,
        session: Session,
        device_id: str,
        rule: str,
        severity: str,
        message: str,
        details: dict[str, Any],
        now: datetime,
        *,
        active: bool = True,
    ) -> dict[str, Any] | None: ...

    def command_sent(
        self, session: Session, device_id: str, command_id: str
    ) -> tuple[str, dict[str, Any]] | None: ...


class DeviceLink(Protocol):
    """This process's link to the devices over MQTT: the device hub where it runs, else a
    command link that publishes signed commands on the central broker (the hub that ingests
    the acks records them; the sender waits on the database)."""

    def send(
        self,
        actor: Actor,
        device_id: str,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        command_id: str | None = None,
        wait_s: float | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """(command view, created); ``wait_s`` 0 returns once sent."""
        ...

    def registry_changed(self) -> None:
        """Registries or desired configs changed: publish them soon (a hub may poll instead)."""
        ...

    def queue_changed(self, branch_id: str) -> None:
        """A committed change of the branch's queue: tell its edge soon."""
        ...


# --------------------------------------------------------------------------- the hall


class HallForDevices(Protocol):
    """What the device area asks of the branch hall."""

    def cash_task_open(self, session: Session, cash_device_id: str, now: datetime) -> bool:
        """Is a cash-loading task open for this cash machine (the safe-door rule)?"""
        ...

    def counter_map(self, session: Session, branch_id: str) -> list[dict[str, Any]] | None:
        """The branch's counters ``[{"counter_id", "skills", "caller_id"}]`` for its edge's
        offline queue (None: no hall configuration)."""
        ...

    def timezone(self, session: Session, branch_id: str) -> str | None:
        """The IANA zone of the branch's local day (None: unknown)."""
        ...

    def edge_tickets(
        self, session: Session, branch_id: str, edge_id: str, now: datetime
    ) -> list[dict[str, Any]] | None:
        """The centre's state of the kiosk tickets that edge issued (``queue.sync``)."""
        ...


# --------------------------------------------------------------------------- credit exposure


@dataclass(frozen=True)
class CreditExposure:
    """A credit as the collateral area sees it: who borrowed, how much is outstanding now
    (principal drawn and not repaid), the limit, and whether it is still live."""

    credit_kind: str  # floorplan_line | factoring_agreement
    credit_ref: str
    borrower_org_id: int
    outstanding: Decimal
    limit: Decimal
    active: bool


class FloorplanExposure(Protocol):
    """Floor-plan's credit lines, read by collateral for the LTV of the property securing
    one. ``credit_ref`` is the line's id as a string; None: no such line."""

    def credit_exposure(self, session: Session, credit_ref: str) -> CreditExposure | None: ...

    def credits_of(self, session: Session, org_id: int) -> list[CreditExposure]: ...


class FactoringExposure(Protocol):
    """Factoring's agreements, read by collateral for the LTV of the property securing one
    (outstanding = the agreement's financed outstanding)."""

    def credit_exposure(self, session: Session, credit_ref: str) -> CreditExposure | None: ...

    def credits_of(self, session: Session, org_id: int) -> list[CreditExposure]: ...


# --------------------------------------------------------------------------- uplinks


@dataclass(frozen=True)
class Uplink:
    """One device message as the centre received it, parsed once (topic and envelope)."""

    branch_id: str
    device_type: str
    device_id: str
    channel: str
    type: str
    data: dict[str, Any]
    id: str = ""
    ts: datetime | None = None  # when the device says it happened (None: not given or unreadable)
    historical: bool = False  # replayed from an outbox after an outage

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.type}"


UplinkHandler = Callable[[Session, Uplink, datetime], "str | None"]


@dataclass
class UplinkRoutes:
    """Which areas' handlers see which uplinks, by device kind: ``routes[kind][key]`` with
    ``key`` ``"<channel>:<type>"`` or ``"<channel>:*"`` (any type on that channel). Built by the
    root from the areas' declarations; the ingest calls the matching handlers of every new
    uplink (never a duplicate), each in its own SAVEPOINT inside the storing transaction."""

    routes: dict[str, dict[str, list[UplinkHandler]]] = field(default_factory=dict)

    def add(self, kind: str, table: Mapping[str, UplinkHandler]) -> None:
        routes = self.routes.setdefault(kind, {})
        for key, handler in table.items():
            channel, _, type_ = key.partition(":")
            if not channel or not type_:
                raise ValueError(f"uplink route {key!r} of {kind!r}: '<channel>:<type or *>'")
            routes.setdefault(key, []).append(handler)

    def kinds(self) -> set[str]:
        return set(self.routes)

    def handlers(self, uplink: Uplink) -> list[UplinkHandler]:
        routes = self.routes.get(uplink.device_type)
        if not routes:
            return []
        return [*routes.get(uplink.key, ()), *routes.get(f"{uplink.channel}:*", ())]


# --------------------------------------------------------------------------- marketing


@dataclass(frozen=True)
class HallArrival:
    """A known person recognised at a branch's door (a face sighting with consent): marketing
    turns a VIP's arrival into an event for their RM. ``id`` orders the feed."""

    id: int
    user_id: int
    branch_id: str
    at: datetime


class HallArrivals(Protocol):
    """The hall's door sightings after ``after_id`` in id order, at most ``limit``."""

    def arrivals_after(self, session: Session, after_id: int, limit: int) -> list[HallArrival]: ...
