"""Demo seed: branch BR001's devices, and their credentials for the simulators.

Credentials exist in clear only once, at provisioning; for the demo (and the tests) the seeder
writes them to ``var/devices-<branch>.json`` (mode 0600), which ``finedge devices`` reads. The
seed as a whole is refused in production, so this file never exists there. Idempotent: devices
that exist and are in the file are left alone; a device missing from the file gets new
credentials (rotation) so that the file always works.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.devices import service
from backend.devices.models import Device
from backend.devices.secretbox import SecretBox
from backend.identity.models import Branch
from backend.platform.config import Config, var_dir
from backend.platform.context import SYSTEM

# (device type, id suffix, how many, model)
DEMO_DEVICE_SET = (
    ("counter", "CNT", 3, "SC-3000 smart counter"),
    ("cash", "ATM", 2, "CRS-8600 cash recycler"),
    ("lock", "LCK", 2, "FVL-200 finger-vein lock"),
    ("kiosk", "KSK", 1, "QK-10 queue kiosk"),
    ("caller", "CALL", 3, "CC-1 counter caller"),
    ("display", "DSP", 1, "HD-55 hall display"),
    ("camera", "CAM", 1, "DC-4 door camera"),
)


def credentials_path(branch_id: str) -> Path:
    return var_dir() / f"devices-{branch_id}.json"


def demo_device_ids(branch_id: str, device_type: str, count: int) -> list[str]:
    suffix = next(s for t, s, _n, _m in DEMO_DEVICE_SET if t == device_type)
    return [f"{branch_id}-{suffix}-{i:02d}" for i in range(1, count + 1)]


def _read(path: Path) -> dict[str, dict]:
    try:
        return {d["device_id"]: d for d in json.loads(path.read_text())["devices"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write(path: Path, entries: dict[str, dict]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(
            {"devices": sorted(entries.values(), key=lambda d: d["device_id"])}, handle, indent=1
        )
    tmp.replace(path)


def ensure_devices(
    session: Session,
    box: SecretBox,
    branch_id: str,
    counts: dict[str, int],
    *,
    models: dict[str, str] | None = None,
    path: Path | None = None,
) -> dict[str, int]:
    """At least ``counts[type]`` demo devices in the branch, all with credentials in the file."""
    path = path or credentials_path(branch_id)
    known = _read(path)
    created = rotated = 0
    for device_type, count in counts.items():
        for device_id in demo_device_ids(branch_id, device_type, count):
            device = session.scalar(select(Device).where(Device.device_id == device_id))
            if device is None:
                _device, creds = service.provision_device(
                    session,
                    SYSTEM,
                    box,
                    branch_id=branch_id,
                    device_type=device_type,
                    device_id=device_id,
                    model=(models or {}).get(device_type, ""),
                )
                created += 1
            elif device_id in known or device.status == "retired":
                continue
            else:
                creds = service.rotate_credentials(session, SYSTEM, box, device_id)
                rotated += 1
            known[device_id] = {
                "branch_id": branch_id,
                "device_type": device_type,
                "model": (models or {}).get(device_type, ""),
                **creds.to_dict(),
            }
    # Registered devices the simulators have no credentials for (provisioned through the API,
    # or a var/ that was cleaned) get new ones: in the demo the simulator plays every device.
    for device in session.scalars(
        select(Device).where(
            Device.branch_id == branch_id,
            Device.device_type != "edge",
            Device.status != "retired",
        )
    ):
        if device.device_id in known:
            continue
        creds = service.rotate_credentials(session, SYSTEM, box, device.device_id)
        rotated += 1
        known[device.device_id] = {
            "branch_id": branch_id,
            "device_type": device.device_type,
            "model": device.model,
            **creds.to_dict(),
        }
    if created or rotated or not path.exists():
        session.flush()
        _write(path, known)
    return {"devices_created": created, "device_credentials_rotated": rotated}


def seed_devices(session: Session, _options: object) -> dict:
    """SEEDERS entry: BR001's realistic device set (the key comes from the environment, as
    for the app that will decrypt the secrets)."""
    if session.scalar(select(Branch.id).where(Branch.code == "BR001")) is None:
        return {}
    box = SecretBox(Config.from_env().secret_key)
    counts = {device_type: n for device_type, _s, n, _m in DEMO_DEVICE_SET}
    models = {device_type: m for device_type, _s, _n, m in DEMO_DEVICE_SET}
    report = ensure_devices(session, box, "BR001", counts, models=models)
    return {"br001_" + k: v for k, v in report.items()}


def prepare_simulation(config: Config, branch_id: str, counts: dict[str, int]) -> Path:
    """``finedge devices`` in demo/test: make sure the branch has at least ``counts`` devices
    with credentials in the file the simulators read; returns that file. The running backend
    publishes the new registry to the branch edge within seconds."""
    from backend.platform.db import make_engine, make_session_factory, session_scope

    if config.is_production:
        raise PermissionError("device simulators are for the demo and tests")
    engine = make_engine(config.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            if session.scalar(select(Branch.id).where(Branch.code == branch_id)) is None:
                raise LookupError(f"no branch {branch_id}; run `finedge seed` first")
            models_ = {device_type: m for device_type, _s, _n, m in DEMO_DEVICE_SET}
            ensure_devices(session, SecretBox(config.secret_key), branch_id, counts, models=models_)
    finally:
        engine.dispose()
    return credentials_path(branch_id)
