"""A throwaway area, declared the way a real one is (``AREA``), for tests/integration/
test_areas.py: an HTTP endpoint, a job, a seeder, a live event with its schema, a port it offers
and one it needs, a benchmark, and a reaction to the uplinks of a device kind (a self-service
kiosk printer). Nothing in the product imports it: the test hands it to the root."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.orm import Session

from backend.platform.after_commit import push_live
from backend.platform.areas import Area, LiveEvent, Provide
from backend.platform.jobs import JobRegistry
from backend.platform.live import Audience, rooms_for
from backend.platform.ports import Uplink
from backend.platform.wiring import live_of, port
from miniapp_api.common import current_actor, db

# --------------------------------------------------------------------------- a port


class Almanac(Protocol):
    def motto(self, session: Session) -> str: ...


class PlainAlmanac:
    def motto(self, session: Session) -> str:
        return "money moves only through the ledger"


# --------------------------------------------------------------------------- HTTP


class MottoOut(ma.Schema):
    motto = ma.fields.String(required=True)
    asked_by = ma.fields.String(required=True)


blp = Blueprint("throwaway", __name__, url_prefix="/api/v1/throwaway")


@blp.route("/motto")
class Motto(MethodView):
    @blp.response(200, MottoOut)
    def get(self):
        """The almanac's motto (any logged-in user)."""
        actor = current_actor()
        return {"motto": port(db(), Almanac).motto(db()), "asked_by": actor.username}


# --------------------------------------------------------------------------- jobs, live, seed

JOBS = JobRegistry()
SEEDED: list[str] = []
PRINTER_EVENTS: list[tuple[str, str, str]] = []


class TickOut(ma.Schema):
    """The ``throwaway.tick`` push: the schema renders whatever the job hands over."""

    at = ma.fields.AwareDateTime(required=True)
    motto = ma.fields.String(required=True)


@JOBS.job("throwaway.tick", every_s=3600)
def tick(session: Session, now: datetime) -> dict[str, Any]:
    """Push the motto to the admins."""
    motto = port(session, Almanac).motto(session)
    push_live(
        session,
        live_of(session),
        "throwaway.tick",
        {"at": now, "motto": motto, "internal": "never rendered"},
        rooms_for(roles=["admin"]),
    )
    return {"motto": motto}


def seed_throwaway(session: Session, _options: Any) -> dict[str, Any]:
    SEEDED.append("seeded")
    return {"throwaway_seeded": True}


def on_out_of_paper(session: Session, uplink: Uplink, now: datetime) -> str:
    PRINTER_EVENTS.append((uplink.device_id, uplink.type, str(uplink.data.get("tray"))))
    return "noted"


AREA = Area(
    name="throwaway",
    description="a test area",
    blueprints=("tests.throwaway_area",),
    jobs=JOBS,
    seeders=(seed_throwaway,),
    benchmarks={"throwaway": "tests.throwaway_area"},
    live_events=(
        LiveEvent(
            "throwaway.tick", "tests.throwaway_area:TickOut", "admins", Audience(roles=("admin",))
        ),
    ),
    provides=(Provide(Almanac, lambda _wiring: PlainAlmanac()),),
    uplinks={"printer": {"event:printer.out_of_paper": on_out_of_paper}},
)

# An area that needs what nobody offers: the root refuses it.
NEEDY = Area(name="needy", needs=(Almanac,))


def run(options: dict[str, Any]) -> list[dict[str, Any]]:
    """The benchmark's entry (``finedge bench throwaway``): one row in the contract's format."""
    return [
        {
            "bench": "throwaway",
            "metric": "nothing_per_s",
            "value": 1.0,
            "unit": "1/s",
            "baseline": "nothing",
            "baseline_value": 1.0,
            "ratio": 1.0,
            "params": dict(options),
        }
    ]
