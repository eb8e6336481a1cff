"""The branch hall's declaration (厅堂管家): soft queuing, counters, flow statistics, face
recognition with consent, the smart-counter fleet and task-bound cash loading."""

from __future__ import annotations

from backend.branch import events
from backend.branch.access import STAFF_ROLES
from backend.branch.arrivals import DoorArrivals
from backend.branch.jobs import JOBS
from backend.branch.ports import HallPort, make_hall
from backend.branch.runtime import Hall
from backend.branch.seed import seed_branch_hall
from backend.platform.areas import Area, LiveEvent, Provide
from backend.platform.live import Audience
from backend.platform.ports import DeviceDirectory, DeviceLink, HallArrivals, HallForDevices

SCHEMAS = "miniapp_api.branch.schemas"  # the HTTP response schemas render the pushes too
# A branch's staff who read its queue, cash tasks and devices over REST (access.can_see_branch).
HALL_READERS = tuple(role for role in STAFF_ROLES if role != "admin")

AREA = Area(
    name="branch",
    description="branch hall: queue, counters, flow, face, fleet, cash loading",
    models=("backend.branch.models",),
    blueprints=("miniapp_api.branch", "miniapp_api.branches"),
    jobs=JOBS,
    seeders=(seed_branch_hall,),
    benchmarks={"face": "bench.face", "queue": "bench.queue"},
    live_events=(
        LiveEvent(
            "queue.update",
            f"{SCHEMAS}:QueueUpdateOut",
            "the branch's staff; each client their own ticket",
            rule=Audience(users=True, roles=("admin",), branch_roles=HALL_READERS),
        ),
        LiveEvent(
            "cash_task.update",
            f"{SCHEMAS}:CashTaskUpdateOut",
            "the branch's staff; with the code, the task's two loaders",
            rule=Audience(users=True, roles=("admin",), branch_roles=HALL_READERS),
        ),
        LiveEvent(
            "client.arrived",
            f"{SCHEMAS}:ClientArrivedOut",
            "the client's relationship manager",
            rule=Audience(users=True),
        ),
        LiveEvent(
            "vein_enrolment.update",
            f"{SCHEMAS}:EnrolmentUpdateOut",
            "the branch's staff but its loaders; a loader their own enrolment",
            # REST: a loader lists only their own enrolments (backend/branch/veins/queries.py)
            rule=Audience(users=True, roles=("admin",), branch_roles=("teller", "rm", "approver")),
        ),
    ),
    provides=(
        Provide(HallForDevices, lambda _wiring: HallPort()),
        Provide(Hall, make_hall),
        Provide(HallArrivals, lambda _wiring: DoorArrivals()),
    ),
    needs=(DeviceDirectory, DeviceLink),
    uplinks=events.routes(),
    cli=("backend.branch.cli:branches_cli",),
)
