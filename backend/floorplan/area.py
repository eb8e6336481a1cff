"""Floor-plan auto finance's declaration ("car e-link"): credit lines, bills, pledged cars,
redemption and release, margin automation, inventory audits, vehicle alerts."""

from __future__ import annotations

from backend.floorplan.exposure import FloorplanExposurePort
from backend.floorplan.jobs import JOBS
from backend.floorplan.seed import seed_floorplan
from backend.platform.areas import Area, LiveEvent, Provide
from backend.platform.context import BANK_STAFF_ROLES
from backend.platform.live import Audience
from backend.platform.ports import DisbursementGate, FloorplanExposure, RiskEvents

AREA = Area(
    name="floorplan",
    description="floor-plan auto finance: OEM shipments, pledged cars, redemption, audits",
    models=("backend.floorplan.models",),
    blueprints=("miniapp_api.floorplan",),
    jobs=JOBS,
    seeders=(seed_floorplan,),
    benchmarks={"floorplan": "bench.floorplan"},
    live_events=(
        LiveEvent(
            "vehicle.alert",
            "miniapp_api.floorplan.schemas:VehicleAlertEventOut",
            audience="the dealer's, OEM's and (for its yard) supervisor's orgs; bank roles",
            # REST: bank staff see every alert, an org's users those naming their org
            rule=Audience(orgs=True, roles=tuple(sorted(BANK_STAFF_ROLES))),
        ),
    ),
    provides=(Provide(FloorplanExposure, lambda _wiring: FloorplanExposurePort()),),
    needs=(DisbursementGate, RiskEvents),
)
