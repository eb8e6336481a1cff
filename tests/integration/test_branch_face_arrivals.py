"""GET /api/v1/face/arrivals: an RM reads the sightings of their own VIP clients at branch doors
(newest first, paged); another RM's clients are not in their list; an admin reads every VIP's;
tellers and clients are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.branch.models import ClientProfile, FaceSighting
from backend.identity import service as identity
from backend.identity.models import Org, User
from backend.platform.context import SYSTEM
from tests.integration import test_branch_support as support

api = support.api  # fixture
branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_app = support.hall_app  # fixture
hall_url = support.hall_url  # fixture

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _world(api) -> dict[str, int]:
    """rm1's VIP client1 seen twice, rm2's VIP client2 once, a normal client3 once."""
    with api.session() as s:
        clients = s.scalar(select(Org).where(Org.code == "CLIENTS"))
        rm2 = s.scalar(select(User).where(User.username == "rm2"))  # a demo user
        client3 = identity.create_user(
            s, SYSTEM, username="client3", password="client3-demo", role="client", org=clients
        )
        ids = {u.username: u.id for u in s.scalars(select(User))}
        s.add(ClientProfile(user_id=ids["client2"], segment="vip", rm_user_id=rm2.id))
        s.add(ClientProfile(user_id=client3.id, segment="normal", rm_user_id=ids["rm1"]))
        for minutes, who in ((0, "client1"), (5, "client2"), (20, "client1"), (30, "client3")):
            s.add(
                FaceSighting(
                    branch_id="BR001",
                    user_id=ids[who],
                    device_id="BR001-CAM-01",
                    distance=0.3,
                    at=T0 + timedelta(minutes=minutes),
                )
            )
        s.commit()
        return ids


def test_an_rm_reads_the_arrivals_of_their_own_vip_clients(api):
    ids = _world(api)
    mine = api.ok(api.get("rm1", "/face/arrivals"))["items"]
    assert [a["client_id"] for a in mine] == [ids["client1"], ids["client1"]]
    assert mine[0] == {
        **mine[0],
        "branch_id": "BR001",
        "name": "Client One",
        "segment": "vip",
        "device_id": "BR001-CAM-01",
        "at": "2026-12-01T09:20:00Z",
    }
    theirs = api.ok(api.get("rm2", "/face/arrivals"))["items"]
    assert [a["client_id"] for a in theirs] == [ids["client2"]]
    everyone = api.ok(api.get("admin", "/face/arrivals"))["items"]
    assert [a["client_id"] for a in everyone] == [ids["client1"], ids["client2"], ids["client1"]]
    first = api.ok(api.get("rm1", "/face/arrivals?limit=1"))
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = api.ok(api.get("rm1", f"/face/arrivals?limit=1&cursor={first['next_cursor']}"))
    assert [a["id"] for a in rest["items"]] == [mine[1]["id"]]


def test_other_roles_are_refused(api):
    _world(api)
    for user in ("teller1", "client1", "approver1"):
        assert api.get(user, "/face/arrivals").status_code == 403, user
