"""Branch hall tables (prefix ``branch_``): queue, flow, face consent, fleet, cash tasks.

- ``BranchHall``: one row per branch: its hall settings (time zone, face tolerance, remote
  ticket lifetime) and the row every queue change of the branch locks first, so that two
  counters calling at once never take the same ticket.
- ``HallService``, ``HallCounter`` (skills, status, the caller device at the window),
  ``CounterShift`` (open intervals, for utilisation), ``Ticket``, ``TicketSequence`` (the
  daily number per prefix) and ``ServiceLeg`` (one call of a ticket at a counter: wait and
  service times come from these).
- ``QueuePushState``: what the branch room was last pushed of the queue (its version and a
  fingerprint and standing per ticket and counter), so the next change pushes only what
  differs (queue/delta.py).
- ``ClientProfile``: what the hall knows of a client: VIP, elderly, relationship manager.
- ``SmartCounterDaily``: transactions done on smart counters (off-counter rate).
- ``FaceConsent`` (history of grants and withdrawals), ``FaceEncoding`` (Fernet ciphertext of
  the 128-d vector; deleted on withdrawal), ``FaceSighting`` (a consenting client recognised).
- ``FleetTemplate``, ``FleetRollout``, ``FleetRolloutDevice`` (what each device had before).
- ``CashTask``: a cash-loading task and everything the device flow reported.
- ``VeinConsent`` (a loader's history of grants and withdrawals) and ``VeinEnrolment`` (the
  centre's record that a lock holds a loader's vein: requested, enrolled, being revoked,
  failed). The template itself never leaves the lock; no table here holds biometric data.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.platform.db import Base, BigIntPK, JSONType

DEFAULT_TIMEZONE = "Asia/Shanghai"  # a new hall's; the branch edge's default is the same


class BranchHall(Base):
    __tablename__ = "branch_halls"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(20), unique=True)
    timezone: Mapped[str] = mapped_column(String(40), default=DEFAULT_TIMEZONE)
    face_tolerance: Mapped[float] = mapped_column(Float, default=0.6)
    remote_ticket_ttl_s: Mapped[int] = mapped_column(default=1800)
    queue_version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class QueuePushState(Base):
    __tablename__ = "branch_queue_push_states"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(20), unique=True)
    version: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(Text)  # JSON written and read by queue/delta.py only
    updated_at: Mapped[datetime]


class HallService(Base):
    __tablename__ = "branch_services"
    __table_args__ = (UniqueConstraint("branch_id", "code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(2))
    default_service_s: Mapped[int] = mapped_column(default=300)
    active: Mapped[bool] = mapped_column(default=True)


class HallCounter(Base):
    __tablename__ = "branch_counters"
    __table_args__ = (UniqueConstraint("branch_id", "counter_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(20))
    counter_id: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(80))
    skills: Mapped[list] = mapped_column(JSONType, default=list)
    borrowed_skills: Mapped[list] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(10))  # open | closed | offline
    device_id: Mapped[str | None] = mapped_column(String(64))
    current_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("branch_tickets.id"))
    updated_at: Mapped[datetime]


class CounterShift(Base):
    __tablename__ = "branch_counter_shifts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    counter_pk: Mapped[int] = mapped_column(ForeignKey("branch_counters.id"), index=True)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class Ticket(Base):
    __tablename__ = "branch_tickets"
    __table_args__ = (
        UniqueConstraint("branch_id", "day", "ticket_no", name="uq_branch_tickets_number"),
        UniqueConstraint("branch_id", "request_id", name="uq_branch_tickets_request"),
        Index("ix_branch_tickets_branch_status", "branch_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(20))
    day: Mapped[str] = mapped_column(String(10))  # the branch's local date
    ticket_no: Mapped[str] = mapped_column(String(12))
    service: Mapped[str] = mapped_column(String(20))
    original_service: Mapped[str] = mapped_column(String(20))
    return_service: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))  # remote | kiosk | staff
    category: Mapped[str] = mapped_column(String(12))  # normal | appointment | vip | elderly
    boost_s: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(12))
    client_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(80), default="central")
    issued_at: Mapped[datetime]
    queued_at: Mapped[datetime]  # where aging starts (kept across transfers)
    arrived_at: Mapped[datetime | None]
    appointment_at: Mapped[datetime | None]
    called_at: Mapped[datetime | None]
    first_called_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    counter_id: Mapped[str | None] = mapped_column(String(20))
    recalls: Mapped[int] = mapped_column(default=0)
    transfers: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class TicketSequence(Base):
    __tablename__ = "branch_ticket_sequences"
    __table_args__ = (UniqueConstraint("branch_id", "day", "prefix"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(20))
    day: Mapped[str] = mapped_column(String(10))
    prefix: Mapped[str] = mapped_column(String(4))
    last: Mapped[int] = mapped_column(default=0)


class ServiceLeg(Base):
    __tablename__ = "branch_service_legs"
    __table_args__ = (Index("ix_branch_service_legs_branch_day", "branch_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("branch_tickets.id"), index=True)
    branch_id: Mapped[str] = mapped_column(String(20))
    day: Mapped[str] = mapped_column(String(10))
    service: Mapped[str] = mapped_column(String(20))
    counter_id: Mapped[str] = mapped_column(String(20))
    waited_s: Mapped[float] = mapped_column(Float, default=0.0)
    called_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(12))


class ClientProfile(Base):
    __tablename__ = "branch_client_profiles"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    segment: Mapped[str] = mapped_column(String(12), default="normal")  # normal | vip
    elderly: Mapped[bool] = mapped_column(default=False)
    rm_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    display_name: Mapped[str] = mapped_column(String(80), default="")


class SmartCounterDaily(Base):
    __tablename__ = "branch_smart_counter_daily"
    __table_args__ = (UniqueConstraint("branch_id", "day", "device_id", "tx_type"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(20))
    day: Mapped[str] = mapped_column(String(10))
    device_id: Mapped[str] = mapped_column(String(64))
    tx_type: Mapped[str] = mapped_column(String(40))
    ok: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)


class FaceConsent(Base):
    __tablename__ = "branch_face_consents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(10))  # granted | withdrawn
    text_version: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class FaceEncoding(Base):
    __tablename__ = "branch_face_encodings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("branch_face_consents.id"))
    ciphertext: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(60))
    quality: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime]


class FaceSighting(Base):
    __tablename__ = "branch_face_sightings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(20), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(64))
    distance: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime]


class FleetTemplate(Base):
    __tablename__ = "branch_fleet_templates"
    __table_args__ = (UniqueConstraint("model", "name", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    model: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(80))
    version: Mapped[int]
    params: Mapped[dict]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class FleetRollout(Base):
    __tablename__ = "branch_fleet_rollouts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("branch_fleet_templates.id"))
    branch_id: Mapped[str | None] = mapped_column(String(20))  # None: every branch
    percentage: Mapped[int]
    status: Mapped[str] = mapped_column(String(12))  # running | halted | completed | rolled_back
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FleetRolloutDevice(Base):
    __tablename__ = "branch_fleet_rollout_devices"
    __table_args__ = (UniqueConstraint("rollout_id", "device_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("branch_fleet_rollouts.id"))
    device_id: Mapped[str] = mapped_column(String(64))
    previous: Mapped[dict]  # the keys the template changed, as they were (null: absent)
    applied_version: Mapped[int]
    state: Mapped[str] = mapped_column(String(12))  # applied | rolled_back
    applied_at: Mapped[datetime]


class CashTask(Base):
    __tablename__ = "branch_cash_tasks"
    __table_args__ = (Index("ix_branch_cash_tasks_device_status", "device_id", "status"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(20), index=True)
    device_id: Mapped[str] = mapped_column(String(64))
    lock_id: Mapped[str] = mapped_column(String(64))
    loader1_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    loader2_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amounts: Mapped[dict]  # {denomination: amount}, decimal strings
    total: Mapped[Decimal]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))
    phase: Mapped[str] = mapped_column(String(24))
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    verifications: Mapped[dict] = mapped_column(default=dict)  # loader -> verified at
    armed_at: Mapped[datetime | None]
    arm_expires_at: Mapped[datetime | None]
    arms: Mapped[int] = mapped_column(default=0)
    code_ciphertext: Mapped[str | None] = mapped_column(Text)
    unlocked_at: Mapped[datetime | None]
    exchange_at: Mapped[datetime | None]
    counts: Mapped[dict] = mapped_column(default=dict)  # unit -> {denomination, before, after}
    loaded: Mapped[dict] = mapped_column(default=dict)  # denomination -> amount
    review: Mapped[str | None] = mapped_column(String(40))
    review_note: Mapped[str | None] = mapped_column(String(200))
    loaded_at: Mapped[datetime | None]
    door_closed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class VeinConsent(Base):
    __tablename__ = "branch_vein_consents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(10))  # granted | withdrawn
    text_version: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class VeinEnrolment(Base):
    """One loader on one lock, as the centre knows it; ``username`` is the lock's loader id.

    ``user_id`` is empty only for a stray the lock reported without a request (being revoked).
    """

    __tablename__ = "branch_vein_enrolments"
    __table_args__ = (
        UniqueConstraint("lock_id", "username", name="uq_branch_vein_enrolments_lock_loader"),
        Index("ix_branch_vein_enrolments_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(20), index=True)
    lock_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    username: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(10))  # capturing | enrolled | revoking | failed
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("branch_vein_consents.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    captures: Mapped[int] = mapped_column(default=0)
    enrolled_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(String(80))
    revoke_requested_at: Mapped[datetime | None]
    revoke_sent_at: Mapped[datetime | None]
    revoke_attempts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]
