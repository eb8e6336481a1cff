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
        started += _demo_documents(session) + _demo_pledges(session)
    return {"robots": len(deployed), "demo_runs": started}


def _demo_documents(session: Session) -> int:
    """Six generated scans (certificates, invoices, licences) uploaded for the OCR robot."""
    from backend.rpa.ocr import samples
    from backend.rpa.service import queue_item, upload

    if samples.font_path() is None:
        return 0  # no CJK font on this machine: no demo scans
    for i in range(6):
        doc = samples.sample(samples.KINDS[i % 3], 900 + i, lang=samples.LANGS[(i // 3) % 2])
        scan = upload(session, SYSTEM, "ocr_documents", doc.image, "image/jpeg", f"demo-{i}.jpg")
        queue_item(session, SYSTEM, "ocr_documents", {"kind": doc.kind, "artefact_id": scan.id})
    return 1


def _demo_pledges(session: Session) -> int:
    """Three pledges for the screen robot to type into the legacy stand-in (``make demo``
    starts it); the third is over the system's amount limit, so a person reviews it."""
    from backend.rpa.ocr.codes import vin_check_digit
    from backend.rpa.service import start_run

    def vin(serial: int) -> str:
        body = f"LSVAU2180N2{serial:06d}"
        return body[:8] + vin_check_digit(body) + body[9:]

    records = [
        {
            "vin": vin(100 + i),
            "dealer_code": "DL001",
            "model": model,
            "amount": amount,
            "pledge_date": "2026-12-01",
            "warehouse_code": "WH-SH01",
        }
        for i, (model, amount) in enumerate(
            [
                ("Lavida 1.5L", "118000.00"),
                ("Tiguan L 2.0T", "245000.00"),
                ("Phideon 3.0T", "3200000.00"),
            ]
        )
    ]
    start_run(
        session,
        SYSTEM,
        "screen_pledge_entry",
        trigger="hand",
        params={"records": records},
        run_key="demo-seed",
    )
    return 1
