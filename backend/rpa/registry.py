"""The robot registry: deploy a version from its entry point, roll back, enable, disable, and
load the code of the version a work item was queued with.

A version is code on the workers' machines (a Python entry point, ``module:ROBOT``) plus the
manifest it declared when deployed. Workers load the entry point and refuse to run an item
when the code they find declares another version than the item's (the machines were not
updated): an APPLICATION failure ``version_mismatch``, retried, visible on the monitor.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import Conflict, NotFound, ValidationFailed
from backend.rpa import manifest as manifests
from backend.rpa.access import ensure_admin
from backend.rpa.models import RobotRecord, RobotVersion
from backend.rpa.robot import ApplicationFailure, Robot

ENTRY_POINT_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:")


def import_entry_point(entry_point: str) -> Robot:
    module_name, _, attribute = entry_point.partition(":")
    if not attribute or not module_name or not set(entry_point) <= ENTRY_POINT_CHARS:
        raise ValidationFailed(f"entry point must be module:attribute, not {entry_point!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValidationFailed(f"entry point {entry_point}: {exc}") from None
    robot = getattr(module, attribute, None)
    return manifests.check_robot(robot, entry_point)


@lru_cache(maxsize=128)
def load(entry_point: str, version: str) -> Robot:
    """The robot at ``entry_point``, which must declare ``version`` (see the module)."""
    robot = import_entry_point(entry_point)
    if robot.manifest.version != version:
        raise ApplicationFailure(
            "version_mismatch",
            f"{entry_point} here is version {robot.manifest.version}, the item wants {version}",
        )
    return robot


def robot_by_name(session: Session, name: str, *, lock: bool = False) -> RobotRecord:
    stmt = select(RobotRecord).where(RobotRecord.name == name)
    if lock:
        stmt = stmt.with_for_update()
    robot = session.scalar(stmt)
    if robot is None:
        raise NotFound(f"robot {name!r} not found")
    return robot


def deploy(session: Session, actor: Actor, entry_point: str) -> RobotVersion:
    """Deploy (and activate) the version the entry point declares. Deploying the same version
    from the same entry point again changes nothing; the same version from other code is 409."""
    ensure_admin(actor)
    robot_code = import_entry_point(entry_point)
    m = robot_code.manifest
    now = utcnow()
    record = session.scalar(select(RobotRecord).where(RobotRecord.name == m.name))
    if record is None:
        record = RobotRecord(
            name=m.name, department=m.department, title=m.title, enabled=True, created_at=now
        )
        session.add(record)
        session.flush()
    elif record.department != m.department:
        raise Conflict(
            f"robot {m.name} belongs to {record.department}; a version may not move it to "
            f"{m.department}",
            code="department_change",
        )
    existing = session.scalar(
        select(RobotVersion).where(
            RobotVersion.robot_id == record.id, RobotVersion.version == m.version
        )
    )
    manifest_json = manifests.to_json(m)
    if existing is not None:
        if existing.entry_point != entry_point or existing.manifest != manifest_json:
            raise Conflict(
                f"{m.name} {m.version} is already deployed with other code or manifest: "
                "give the new code a new version",
                code="version_exists",
            )
        version = existing
    else:
        version = RobotVersion(
            robot_id=record.id,
            version=m.version,
            entry_point=entry_point,
            manifest=manifest_json,
            deployed_by=actor.username,
            deployed_at=now,
        )
        session.add(version)
        session.flush()
    before = {"active_version_id": record.active_version_id}
    record.active_version_id = version.id
    record.title = m.title
    audit.record(
        session,
        actor,
        "rpa.deploy",
        "rpa_robot",
        record.id,
        before,
        {"active_version_id": version.id, "version": m.version, "entry_point": entry_point},
    )
    return version


def rollback(session: Session, actor: Actor, name: str, to_version: str | None = None):
    """Make an earlier deployed version active again (the one before the active, or
    ``to_version``). Items already queued keep the version they were queued with."""
    ensure_admin(actor)
    record = robot_by_name(session, name, lock=True)
    versions = list(
        session.scalars(
            select(RobotVersion).where(RobotVersion.robot_id == record.id).order_by(RobotVersion.id)
        )
    )
    if to_version is not None:
        target = next((v for v in versions if v.version == to_version), None)
        if target is None:
            raise NotFound(f"{name} has no deployed version {to_version}")
    else:
        ids = [v.id for v in versions]
        position = ids.index(record.active_version_id) if record.active_version_id in ids else 0
        if position == 0:
            raise Conflict(f"{name} has no earlier version", code="no_earlier_version")
        target = versions[position - 1]
    import_entry_point(target.entry_point)  # still loadable here
    before = {"active_version_id": record.active_version_id}
    record.active_version_id = target.id
    audit.record(
        session,
        actor,
        "rpa.rollback",
        "rpa_robot",
        record.id,
        before,
        {"active_version_id": target.id, "version": target.version},
    )
    return target


def set_enabled(session: Session, actor: Actor, name: str, enabled: bool) -> RobotRecord:
    """A disabled robot starts no run (schedule, hand or API); its queued items wait."""
    ensure_admin(actor)
    record = robot_by_name(session, name, lock=True)
    if record.enabled != enabled:
        audit.record(
            session,
            actor,
            "rpa.enable" if enabled else "rpa.disable",
            "rpa_robot",
            record.id,
            {"enabled": record.enabled},
            {"enabled": enabled},
        )
        record.enabled = enabled
    return record


def active_version(session: Session, record: RobotRecord) -> RobotVersion:
    if record.active_version_id is None:
        raise Conflict(f"robot {record.name} has no deployed version", code="not_deployed")
    return session.get(RobotVersion, record.active_version_id)
