"""The factory's demo seed: the departments of the demo operators, the built-in robots
deployed, and (demo-size seeds) a first run of each robot that has work, which the demo's
worker (``finedge rpa worker``, started by ``make demo``) does as soon as it starts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import User
from backend.platform.context import SYSTEM
from backend.rpa import registry
from backend.rpa.models import DepartmentMember, RobotRecord

# the robots FinEdge ships (robots/, docs/rpa.md), deployed by the seed and `finedge rpa
# deploy-builtins`
BUILT_IN: tuple[str, ...] = tuple(
    f"robots.{name}:ROBOT"
    for name in (
        "margin_reconciliation",
        "bill_reminders",
        "collateral_revaluation",
        "risk_refresh",
        "clearing_reconciliation",
        "regulatory_export",
        "ocr_documents",
        "screen_pledge_entry",
    )
)

DEMO_MEMBERS = {"ops1": "operations", "ops2": "operations", "fin1": "finance"}
# robots whose first run the demo seed starts (the others wait for their schedules)
DEMO_FIRST_RUNS: tuple[str, ...] = (
    "margin_reconciliation",
    "bill_reminders",
    "clearing_reconciliation",
    "regulatory_export",
)


def deploy_builtins(session: Session) -> list[str]:
    deployed = []
    for entry_point in BUILT_IN:
        version = registry.deploy(session, SYSTEM, entry_point)
        deployed.append(f"{entry_point}@{version.version}")
    return deployed


def seed_rpa(session: Session, options: Any) -> dict:
    for username, department in DEMO_MEMBERS.items():
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is not None and session.get(DepartmentMember, user_id) is None:
            session.add(DepartmentMember(user_id=user_id, department=department))
    deployed = deploy_builtins(session)
    started = 0
    if getattr(options, "enterprises", 0) or getattr(options, "cars", 0):
        from backend.rpa.service import start_run

        for name in DEMO_FIRST_RUNS:
            robot = session.scalar(select(RobotRecord).where(RobotRecord.name == name))
            if robot is not None:
                start_run(session, SYSTEM, name, trigger="hand", run_key="demo-seed")
                started += 1
    return {"robots": len(deployed), "demo_runs": started}
