"""The branch hall's declaration (厅堂管家): soft queuing, counters, flow statistics, face
recognition with consent, the smart-counter fleet and task-bound cash loading."""

from __future__ import annotations

from backend.branch import events
from backend.branch.jobs import JOBS
from backend.branch.ports import HallPort, make_hall
from backend.branch.runtime import Hall
from backend.branch.seed import seed_branch_hall
from backend.platform.areas import Area, LiveEvent, Provide
from backend.platform.ports import DeviceDirectory, DeviceLink, HallForDevices

SCHEMAS = "miniapp_api.branch.schemas"  # the HTTP response schemas render the pushes too

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
        ),
        LiveEvent(
            "cash_task.update",
            f"{SCHEMAS}:CashTaskUpdateOut",
            "the branch's staff; with the code, the task's two loaders",
        ),
        LiveEvent(
            "client.arrived", f"{SCHEMAS}:ClientArrivedOut", "the client's relationship manager"
        ),
        LiveEvent(
            "vein_enrolment.update",
            f"{SCHEMAS}:EnrolmentUpdateOut",
            "the branch's staff and the loader",
        ),
    ),
    provides=(
        Provide(HallForDevices, lambda _wiring: HallPort()),
        Provide(Hall, make_hall),
    ),
    needs=(DeviceDirectory, DeviceLink),
    uplinks=events.routes(),
    cli=("backend.branch.cli:branches_cli",),
)
