"""The device registry: provisioning and credentials, lifecycle, who sees which device, and
what each branch edge is told (its devices' password hashes, their passwords sealed for that
edge, edge keys).

A device's MQTT password is derived from its HMAC secret (``mqtt_password_for``), so the
registry can hand the edge the clear password a branch Mosquitto's dynamic security plugin
needs, sealed for that edge (edge/sealing.py), without the centre storing it.

Plain functions ``(session, actor, ...)``; they never commit. Who sees what: admins every
device; staff with a branch (tellers, loaders, a branch's RM) only their branch's devices; bank
staff without a branch (head office) every branch; nobody else any. A device the caller may not
see is NotFound. Provisioning, configuration, lifecycle and commands are for admins.

Changes the branch must hear about (a new device's credentials, a retired one, desired config)
are published by the DeviceHub after the transaction commits: ``notify`` callbacks run then.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.devices import catalog
from backend.devices.models import DEVICE_STATUSES, Device
from backend.devices.secretbox import SecretBox, SecretBoxError
from backend.identity.models import Branch
from backend.platform import audit, changes
from backend.platform.after_commit import after_commit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from backend.platform.pagination import Page, paginate
from edge.credentials import (
    central_login_password,
    derive_edge_key,
    hash_password,
    mqtt_password_for,
    new_hmac_secret,
    secret_bytes,
)
from edge.protocol import DEVICE_TYPES, default_edge_id
from edge.sealing import seal, seal_key

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")

Notify = Callable[[], None]


@dataclass(frozen=True)
class Credentials:
    """Shown once, at provisioning or rotation; only hashes and ciphertext are kept."""

    device_id: str
    mqtt_username: str
    mqtt_password: str
    hmac_secret: str

    def to_dict(self) -> dict[str, str]:
        return {
            "device_id": self.device_id,
            "mqtt_username": self.mqtt_username,
            "mqtt_password": self.mqtt_password,
            "hmac_secret": self.hmac_secret,
        }


# --------------------------------------------------------------------------- visibility


def can_see_branch(actor: Actor, branch_id: str) -> bool:
    if actor.is_admin:
        return True
    if actor.branch_id is not None:
        return actor.branch_id == branch_id
    return actor.is_bank_staff


def visible_branch_filter(actor: Actor):
    """A WHERE clause on Device.branch_id for the caller, or None for everyone's."""
    if actor.is_admin or (actor.branch_id is None and actor.is_bank_staff):
        return None
    if actor.branch_id is None:
        return Device.branch_id.is_(None)  # nothing: branch ids are never NULL
    return Device.branch_id == actor.branch_id


def get_device(session: Session, actor: Actor, device_id: str, *, lock: bool = False) -> Device:
    stmt = select(Device).where(Device.device_id == device_id)
    if lock:
        stmt = stmt.with_for_update()
    device = session.scalar(stmt)
    if device is None or not can_see_branch(actor, device.branch_id):
        raise NotFound("device not found", code="device_not_found")
    return device


def ensure_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only admins manage devices", details={"required_roles": ["admin"]})


def snapshot(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "branch_id": device.branch_id,
        "device_type": device.device_type,
        "model": device.model,
        "status": device.status,
        "desired_version": device.desired_version,
    }


# --------------------------------------------------------------------------- provisioning


def provision_device(
    session: Session,
    actor: Actor,
    box: SecretBox,
    *,
    branch_id: str,
    device_type: str,
    device_id: str,
    model: str = "",
    now: datetime | None = None,
    notify: Notify | None = None,
) -> tuple[Device, Credentials]:
    """Register a device and issue its credentials (returned once)."""
    ensure_admin(actor)
    errors: dict[str, list[str]] = {}
    if device_type not in DEVICE_TYPES:
        errors["device_type"] = [f"one of {', '.join(sorted(DEVICE_TYPES))}"]
    if not _ID_RE.fullmatch(device_id or "") or device_id in catalog.RESERVED_IDS:
        errors["device_id"] = ["1-64 characters of A-Z a-z 0-9 _ . - (not reserved)"]
    if errors:
        raise ValidationFailed("invalid device", details=errors)
    if session.scalar(select(Branch.id).where(Branch.code == branch_id)) is None:
        raise BusinessRuleViolation(f"no branch {branch_id!r}", code="branch_not_found")
    if session.scalar(select(Device.id).where(Device.device_id == device_id)) is not None:
        raise Conflict(f"device {device_id} exists", code="device_exists")
    now = now or utcnow()
    secret = new_hmac_secret()
    password = mqtt_password_for(secret)
    device = Device(
        device_id=device_id,
        branch_id=branch_id,
        device_type=device_type,
        model=model or "",
        status="provisioned",
        mqtt_username=device_id,
        password_hash=hash_password(password),
        hmac_secret_enc=box.encrypt(secret),
        state={},
        desired={},
        reported={},
        created_at=now,
        updated_at=now,
    )
    session.add(device)
    session.flush()
    changes.touch(session, branch_id, "devices")
    audit.record(session, actor, "device.provision", "device", device_id, None, snapshot(device))
    after_commit(session, notify)
    return device, Credentials(device_id, device_id, password, secret)


def rotate_credentials(
    session: Session,
    actor: Actor,
    box: SecretBox,
    device_id: str,
    *,
    now: datetime | None = None,
    notify: Notify | None = None,
) -> Credentials:
    """New password and HMAC secret; the old ones stop working at the edge's next sync."""
    ensure_admin(actor)
    device = get_device(session, actor, device_id, lock=True)
    if device.status == "retired":
        raise BusinessRuleViolation("device is retired", code="device_retired")
    secret = new_hmac_secret()
    password = mqtt_password_for(secret)
    device.password_hash = hash_password(password)
    device.hmac_secret_enc = box.encrypt(secret)
    device.updated_at = now or utcnow()
    changes.touch(session, device.branch_id, "devices")
    audit.record(session, actor, "device.rotate_credentials", "device", device_id, None, None)
    after_commit(session, notify)
    return Credentials(device_id, device.mqtt_username, password, secret)


def change_status(
    session: Session,
    actor: Actor,
    device_id: str,
    status: str,
    *,
    now: datetime | None = None,
    notify: Notify | None = None,
) -> Device:
    ensure_admin(actor)
    if status not in DEVICE_STATUSES:
        raise ValidationFailed("invalid status", details={"status": [", ".join(DEVICE_STATUSES)]})
    device = get_device(session, actor, device_id, lock=True)
    if status == device.status:
        return device
    if status not in catalog.TRANSITIONS[device.status]:
        raise BusinessRuleViolation(
            f"a {device.status} device cannot become {status}", code="invalid_transition"
        )
    before = snapshot(device)
    device.status = status
    device.updated_at = now or utcnow()
    if status == "retired":
        device.online = False
    changes.touch(session, device.branch_id, "devices")
    audit.record(session, actor, "device.status", "device", device_id, before, snapshot(device))
    after_commit(session, notify)
    return device


# --------------------------------------------------------------------------- lists


def list_devices(
    session: Session,
    actor: Actor,
    *,
    branch_id: str | None = None,
    device_type: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    stmt = select(Device)
    visible = visible_branch_filter(actor)
    if visible is not None:
        stmt = stmt.where(visible)
    if branch_id:
        stmt = stmt.where(Device.branch_id == branch_id)
    if device_type:
        stmt = stmt.where(Device.device_type == device_type)
    if status:
        stmt = stmt.where(Device.status == status)
    return paginate(session, stmt, Device.id, limit=limit, cursor=cursor)


# --------------------------------------------------------------------------- edge registry


def registry_version(session: Session, branch_id: str) -> int:
    """Changes whenever a device of the branch changes: microseconds since the epoch of the
    last change."""
    row = session.execute(
        select(func.max(Device.updated_at), func.count(Device.id)).where(
            Device.branch_id == branch_id, Device.device_type != "edge"
        )
    ).one()
    latest, _count = row
    if latest is None:
        return 0
    if latest.tzinfo is None:  # SQLite hands back naive UTC from an aggregate
        latest = latest.replace(tzinfo=utcnow().tzinfo)
    return int(latest.timestamp() * 1_000_000)


def edge_login(session: Session, branch_id: str) -> str:
    """The branch edge's id, also its central login: its registered edge device's, else
    ``edge-<branch in lower case>``."""
    registered = session.scalar(
        select(Device.device_id).where(Device.branch_id == branch_id, Device.device_type == "edge")
    )
    return registered or default_edge_id(branch_id)


def branch_registry(session: Session, box: SecretBox, branch_id: str) -> dict[str, Any]:
    """What the branch edge needs to admit its devices (password hashes for an embedded
    broker, passwords sealed for the edge for a dynsec Mosquitto) and sign its local
    commands (edge keys). A retired device is listed with neither."""
    devices = session.scalars(
        select(Device)
        .where(Device.branch_id == branch_id, Device.device_type != "edge")
        .order_by(Device.id)
    )
    login = edge_login(session, branch_id)
    sealing = seal_key(central_login_password(box.secret_key, login), login)
    entries = []
    for device in devices:
        edge_key = sealed = None
        if device.hmac_secret_enc and device.status != "retired":
            try:
                secret = box.decrypt(device.hmac_secret_enc)
                edge_key = derive_edge_key(secret_bytes(secret)).hex()
                sealed = seal(sealing, mqtt_password_for(secret))
            except SecretBoxError:  # one bad row must not keep the whole branch out
                log.error("device %s: secret not decryptable; no edge key", device.device_id)
        entries.append(
            {
                "device_id": device.device_id,
                "device_type": device.device_type,
                "status": device.status,
                "password_hash": device.password_hash if device.status != "retired" else None,
                "edge_key": edge_key,
                "password_sealed": sealed,
            }
        )
    return {"version": registry_version(session, branch_id), "devices": entries}


def branches_with_devices(session: Session) -> list[str]:
    return list(session.scalars(select(Device.branch_id).distinct().order_by(Device.branch_id)))


def branch_has_devices(session: Session, branch_id: str) -> bool:
    return (
        session.scalar(select(Device.id).where(Device.branch_id == branch_id).limit(1)) is not None
    )


def desired_configs(session: Session, branch_id: str | None) -> list[Device]:
    """The branch's devices (None: every branch's) with a desired configuration (retired ones
    have none to keep)."""
    stmt = select(Device).where(Device.desired_version > 0, Device.status != "retired")
    if branch_id is not None:
        stmt = stmt.where(Device.branch_id == branch_id)
    return list(session.scalars(stmt.order_by(Device.id)))
