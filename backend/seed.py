"""Demo and test data: every area's seeder, in the order of the areas (the identity area's
orgs, users and branch BR001 first). ``finedge seed`` and the tests call ``seed``.

Idempotent: running it again changes nothing. Refused outside demo and test, where no default
password may exist. An area adds its seeders in its ``area.py`` (``seeders=(...)``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.bootstrap import collect_areas
from backend.identity.seed import DEMO_ORGS, DEMO_USERS, demo_password, seed_identity
from backend.platform.areas import Area
from backend.platform.config import Config
from backend.platform.errors import PermissionDenied
from backend.platform.seeding import SeedOptions

__all__ = ["DEMO_ORGS", "DEMO_USERS", "SeedOptions", "demo_password", "seed", "seed_identity"]


def seed(
    session: Session,
    config: Config,
    options: SeedOptions | None = None,
    *,
    areas: list[Area] | None = None,
) -> dict:
    if config.is_production:
        raise PermissionDenied(
            "demo data is refused when FINEDGE_ENV=production", code="seed_refused"
        )
    options = options or SeedOptions()
    report: dict = {}
    for area in areas if areas is not None else collect_areas():
        for seeder in area.seeders:
            report.update(seeder(session, options))
    return report
