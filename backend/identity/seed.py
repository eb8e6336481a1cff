"""Demo orgs and users (password ``<username>-demo``), branch BR001: the identity area's seed.

Idempotent: running it again changes nothing. Only the demo and test configurations seed
(``backend.seed`` refuses production, where no default password may exist)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity import rules
from backend.identity import service as identity
from backend.identity.models import User
from backend.identity.passwords import hash_password
from backend.platform.context import SYSTEM

# org code, name, kind, parent code
DEMO_ORGS = [
    ("BANK", "FinEdge Demo Bank", "bank", None),
    ("OEM1", "Demo Motors (OEM)", "oem", None),
    ("DEALER1", "Dealer One Auto Sales", "dealer", "OEM1"),
    ("DEALER2", "Dealer Two Auto Sales", "dealer", "OEM1"),
    ("SUP1", "Safe Yard Supervision Co.", "supervisor", None),
    ("BR001", "Branch BR001", "branch", "BANK"),
    ("CLIENTS", "Retail clients", "enterprise", None),
    # industrial digital finance: two core enterprises, their suppliers, commodity traders and
    # the clearing house whose instructions move the traders' funds
    ("CORE1", "Huaxin Heavy Industry (core enterprise)", "enterprise", None),
    ("CORE2", "Donghai Energy Group (core enterprise)", "enterprise", None),
    *[
        (f"SUPP{i:02d}", f"Supplier {i:02d} Components Co.", "enterprise", None)
        for i in range(1, 21)
    ],
    *[(f"TRD{i:02d}", f"Trader {i:02d} Commodities Co.", "enterprise", None) for i in range(1, 11)],
    ("CCH1", "Dalian Commodity Clearing House", "clearinghouse", None),
]

# username, role, org code, branch
DEMO_USERS = [
    ("admin", "admin", "BANK", None),
    ("oem1", "oem", "OEM1", None),
    ("dealer1", "dealer", "DEALER1", None),
    ("dealer2", "dealer", "DEALER2", None),
    ("supervisor1", "supervisor", "SUP1", None),
    ("rm1", "rm", "BANK", "BR001"),
    ("rm2", "rm", "BANK", "BR001"),
    ("approver1", "approver", "BANK", None),
    ("mkt1", "marketing", "BANK", None),
    # the robot factory's departments (backend/rpa/seed.py gives them their department)
    ("ops1", "operator", "BANK", None),
    ("ops2", "operator", "BANK", None),
    ("fin1", "operator", "BANK", None),
    ("teller1", "teller", "BR001", "BR001"),
    ("teller2", "teller", "BR001", "BR001"),
    ("loader1", "loader", "BR001", "BR001"),
    ("loader2", "loader", "BR001", "BR001"),
    ("client1", "client", "CLIENTS", None),
    ("core1", "enterprise", "CORE1", None),
    ("core2", "enterprise", "CORE2", None),
    ("supplier1", "enterprise", "SUPP01", None),
    ("supplier2", "enterprise", "SUPP02", None),
    ("trader1", "enterprise", "TRD01", None),
    ("trader2", "enterprise", "TRD02", None),
]


def demo_password(username: str) -> str:
    return f"{username}-demo"


_DEMO_HASHES: dict[str, str] = {}


def _demo_hash(username: str) -> str:
    """The argon2id hash of a demo user's password, made once per process: the seed runs for
    every test app, and hashing ~20 passwords (~20 ms each) was a third of its time. A salt
    shared by the same demo user's rows in several demo databases of one process reveals
    nothing: the password is public (``<username>-demo``)."""
    if username not in _DEMO_HASHES:
        _DEMO_HASHES[username] = hash_password(demo_password(username))
    return _DEMO_HASHES[username]


def seed_identity(session: Session, _options: Any) -> dict:
    orgs = {}
    for code, name, kind, parent in DEMO_ORGS:
        orgs[code] = identity.get_or_create_org(
            session, code, name, kind, orgs.get(parent) if parent else None
        )
    identity.get_or_create_branch(session, "BR001", "Branch BR001", orgs["BR001"])
    created = []
    for username, role, org_code, branch in DEMO_USERS:
        if session.scalar(select(User.id).where(User.username == username)) is None:
            rules.check_password(demo_password(username))
            user = identity.create_user(
                session,
                SYSTEM,
                username=username,
                password=None,  # set below: the same hash create_user would make, cached
                role=role,
                org=orgs[org_code],
                branch_id=branch,
            )
            user.password_hash = _demo_hash(username)
            created.append(username)
    return {"users_created": created}
