"""Demo and test data: orgs and one user per role (password ``<username>-demo``), branch BR001.

Idempotent: running it again changes nothing.  Refused outside demo and test, where no default
password may exist.  Later areas add their own seeders (floor-plan cars, enterprises, devices)
and register them in ``SEEDERS``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.seed import seed_branch_hall
from backend.devices.seed import seed_devices
from backend.floorplan.seed import seed_floorplan
from backend.identity import service as identity
from backend.identity.models import User
from backend.platform.config import Config
from backend.platform.context import SYSTEM
from backend.platform.errors import PermissionDenied
from backend.risk.seed import seed_risk

# org code, name, kind, parent code
DEMO_ORGS = [
    ("BANK", "FinEdge Demo Bank", "bank", None),
    ("OEM1", "Demo Motors (OEM)", "oem", None),
    ("DEALER1", "Dealer One Auto Sales", "dealer", "OEM1"),
    ("DEALER2", "Dealer Two Auto Sales", "dealer", "OEM1"),
    ("SUP1", "Safe Yard Supervision Co.", "supervisor", None),
    ("BR001", "Branch BR001", "branch", "BANK"),
    ("CLIENTS", "Retail clients", "enterprise", None),
]

# username, role, org code, branch
DEMO_USERS = [
    ("admin", "admin", "BANK", None),
    ("oem1", "oem", "OEM1", None),
    ("dealer1", "dealer", "DEALER1", None),
    ("dealer2", "dealer", "DEALER2", None),
    ("supervisor1", "supervisor", "SUP1", None),
    ("rm1", "rm", "BANK", "BR001"),
    ("approver1", "approver", "BANK", None),
    ("teller1", "teller", "BR001", "BR001"),
    ("teller2", "teller", "BR001", "BR001"),
    ("loader1", "loader", "BR001", "BR001"),
    ("loader2", "loader", "BR001", "BR001"),
    ("client1", "client", "CLIENTS", None),
]


def demo_password(username: str) -> str:
    return f"{username}-demo"


@dataclass
class SeedOptions:
    dealers: int = 2
    cars: int = 0
    enterprises: int = 0
    progress: bool = True


Seeder = Callable[[Session, SeedOptions], dict]
SEEDERS: list[Seeder] = [seed_floorplan, seed_risk, seed_devices, seed_branch_hall]


def seed_identity(session: Session, _options: SeedOptions) -> dict:
    orgs = {}
    for code, name, kind, parent in DEMO_ORGS:
        orgs[code] = identity.get_or_create_org(
            session, code, name, kind, orgs.get(parent) if parent else None
        )
    identity.get_or_create_branch(session, "BR001", "Branch BR001", orgs["BR001"])
    created = []
    for username, role, org_code, branch in DEMO_USERS:
        if session.scalar(select(User.id).where(User.username == username)) is None:
            identity.create_user(
                session,
                SYSTEM,
                username=username,
                password=demo_password(username),
                role=role,
                org=orgs[org_code],
                branch_id=branch,
            )
            created.append(username)
    return {"users_created": created}


def seed(session: Session, config: Config, options: SeedOptions | None = None) -> dict:
    if config.is_production:
        raise PermissionDenied(
            "demo data is refused when FINEDGE_ENV=production", code="seed_refused"
        )
    options = options or SeedOptions()
    report = seed_identity(session, options)
    for seeder in SEEDERS:
        report.update(seeder(session, options))
    return report
