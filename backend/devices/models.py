"""Device tables (prefix ``device``): the registry, what devices said, alarms and commands.

- ``Device``: one row per device (and per branch edge, device_type ``edge``). Credentials are
  kept only as a Mosquitto-format password hash and the HMAC secret encrypted at rest (Fernet,
  key derived from FINEDGE_SECRET_KEY). The row also holds the *twin*: ``desired`` (set by
  staff, versioned) and ``reported`` (what the device last applied), and the live view
  (online, session, last_seen, the last state document).
- ``DeviceMessage``: every uplink once (unique envelope id: the ingest's exactly-once).
- ``DeviceAlarm``: ThingsBoard's alarm model: a condition is active or cleared, and separately
  acknowledged or not; an alarm closes when it is both cleared and acknowledged.
- ``DeviceCommand``: one row per command id; the id is the command envelope's id, so a retry
  with the same id finds the row and nothing is sent twice.
- ``HubMember`` and ``HubLease``: the hubs alive (a heartbeat each) and which hub ingests which
  branch (a lease with an expiry and a fencing epoch): backend/devices/leases.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.platform.db import Base, BigIntPK

DEVICE_STATUSES = ("provisioned", "active", "maintenance", "retired")
SEVERITIES = ("critical", "major", "minor", "warning")
COMMAND_STATUSES = ("pending", "sent", "ok", "rejected", "failed", "timeout")


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    branch_id: Mapped[str] = mapped_column(String(20), index=True)
    device_type: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(12))
    mqtt_username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    hmac_secret_enc: Mapped[str | None] = mapped_column(Text)
    online: Mapped[bool] = mapped_column(default=False)
    session: Mapped[str | None] = mapped_column(String(64))
    last_seen: Mapped[datetime | None]
    offline_since: Mapped[datetime | None]
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[dict] = mapped_column(default=dict)
    state_at: Mapped[datetime | None]
    desired: Mapped[dict] = mapped_column(default=dict)
    desired_version: Mapped[int] = mapped_column(default=0)
    reported: Mapped[dict] = mapped_column(default=dict)
    reported_version: Mapped[int] = mapped_column(default=0)
    command_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)


def device_row(
    device_id: str, branch_id: str, device_type: str, now: datetime, **fields: object
) -> dict[str, object]:
    """One active device as a row for a bulk ``insert(Device)`` (benchmark and test
    populators that skip provisioning): its login is its id unless ``fields`` say otherwise,
    and every column not given takes its default (offline, empty twin, version 0)."""
    return {
        "device_id": device_id,
        "branch_id": branch_id,
        "device_type": device_type,
        "status": "active",
        "mqtt_username": device_id,
        "created_at": now,
        "updated_at": now,
        **fields,
    }


class DeviceMessage(Base):
    __tablename__ = "device_messages"
    __table_args__ = (
        Index("ix_device_messages_device_pk_id", "device_pk", "id"),
        Index(
            "ix_device_messages_received_at", "received_at"
        ),  # retention (devices.prune_messages)
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    envelope_id: Mapped[str] = mapped_column(String(36), unique=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    branch_id: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime]
    received_at: Mapped[datetime]
    historical: Mapped[bool] = mapped_column(default=False)
    data: Mapped[dict]


class DeviceAlarm(Base):
    __tablename__ = "device_alarms"
    __table_args__ = (Index("ix_device_alarms_device_pk_rule", "device_pk", "rule"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    branch_id: Mapped[str] = mapped_column(String(20), index=True)
    rule: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    acknowledged: Mapped[bool] = mapped_column(default=False)
    closed: Mapped[bool] = mapped_column(default=False, index=True)
    occurrences: Mapped[int] = mapped_column(default=1)
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    acked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def status(self) -> str:
        return ("active" if self.active else "cleared") + (
            "_ack" if self.acknowledged else "_unack"
        )


class DeviceCommand(Base):
    __tablename__ = "device_commands"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    command_id: Mapped[str] = mapped_column(String(36), unique=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    args: Mapped[dict] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(200), default="")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(index=True)  # retention
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]


class HubMember(Base):
    """A running ``finedge hub``: its heartbeat; alive while it is recent (leases.py)."""

    __tablename__ = "hub_members"

    hub_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    heartbeat_at: Mapped[datetime]
    started_at: Mapped[datetime]


class HubLease(Base):
    """Which hub ingests a branch until ``expires_at``; ``epoch`` grows at every change of
    hands (the fencing token the ingest checks in its transaction)."""

    __tablename__ = "hub_leases"

    branch_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    hub_id: Mapped[str | None] = mapped_column(String(100))
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime]
