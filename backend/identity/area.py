"""The identity area's declaration: orgs, branches, users and logins."""

from __future__ import annotations

from backend.identity.seed import seed_identity
from backend.platform.areas import Area

AREA = Area(
    name="identity",
    description="organisations, branches, users, roles, password and mini-program login",
    models=("backend.identity.models",),
    blueprints=("miniapp_api.auth", "miniapp_api.orgs"),
    seeders=(seed_identity,),
)
