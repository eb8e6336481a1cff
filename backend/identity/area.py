"""The identity area's declaration: orgs, branches, users and logins, the admin API and CLI
(``finedge bootstrap``, ``finedge orgs ...``, ``finedge users ...``)."""

from __future__ import annotations

from backend.identity.seed import seed_identity
from backend.identity.service import REVOKED_EVENT
from backend.platform.areas import Area, LiveEvent
from backend.platform.live import Audience

AREA = Area(
    name="identity",
    description="organisations, branches, users, roles, password and mini-program login",
    models=("backend.identity.models",),
    blueprints=("miniapp_api.auth", "miniapp_api.orgs", "miniapp_api.users"),
    seeders=(seed_identity,),
    live_events=(
        LiveEvent(
            REVOKED_EVENT,
            "miniapp_api.auth:SessionRevokedOut",
            "the user whose tokens were revoked; their sockets are then closed",
            rule=Audience(users=True),
        ),
    ),
    cli=(
        "backend.identity.cli:bootstrap_command",
        "backend.identity.cli:orgs_cli",
        "backend.identity.cli:users_cli",
    ),
)
