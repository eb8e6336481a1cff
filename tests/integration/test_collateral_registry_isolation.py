"""Who sees and changes which collateral: an RM only their own clients' properties (another
RM's is 404 on every read and change), approvers and admins all, the borrower's own users
their org's, read only (403 on a change; another org's is 404). On SQLite and PostgreSQL:
the scoping is SQL."""

from __future__ import annotations

from datetime import date

from tests.integration import test_collateral_registry_support as support
from tests.integration.test_collateral_registry_support import Api

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture

SHA = "ab" * 32


def _listed(api: Api, user: str) -> set[int]:
    ids, cursor = set(), ""
    while True:
        page = api.ok(api.get(user, f"/properties?limit=200{cursor}"))
        ids |= {p["id"] for p in page["items"]}
        if not page["next_cursor"]:
            return ids
        cursor = f"&cursor={page['next_cursor']}"


def _every_change(api: Api, user: str, prop: dict, status: int, code: str) -> None:
    pid = prop["id"]
    attempts = [
        api.patch(user, f"/properties/{pid}", {"rooms": 4}),
        api.post(user, f"/properties/{pid}/release"),
        api.post(
            user,
            f"/properties/{pid}/credits",
            {"credit_kind": "floorplan_line", "credit_ref": api.line_id("DEALER1")},
        ),
        api.post(
            user,
            f"/properties/{pid}/registrations",
            {"certificate_no": "ZJ2026-0001", "registered_on": str(date.today())},
        ),
        api.post(
            user,
            f"/properties/{pid}/documents",
            {"kind": "photo", "uri": "https://docs.example/p/1.jpg", "sha256": SHA},
        ),
    ]
    for r in attempts:
        assert api.error(r, status) == code, r.request.path


def test_rm_sees_and_changes_only_their_own_clients(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    mine = api.register("rm1", owner="DEALER1")
    theirs = api.register("rm2", owner="DEALER2")
    link = api.ok(
        api.post(
            "rm1",
            f"/properties/{mine['id']}/credits",
            {"credit_kind": "floorplan_line", "credit_ref": api.line_id("DEALER1")},
        ),
        201,
    )
    reg = api.ok(
        api.post(
            "rm1",
            f"/properties/{mine['id']}/registrations",
            {"certificate_no": "ZJ2026-0100", "registered_on": str(date.today())},
        ),
        201,
    )
    assert mine["rm_user_id"] == api.user_id("rm1")
    before = api.counts()

    assert mine["id"] in _listed(api, "rm1") and theirs["id"] not in _listed(api, "rm1")
    assert theirs["id"] in _listed(api, "rm2") and mine["id"] not in _listed(api, "rm2")
    code = api.error(api.get("rm2", f"/properties/{mine['id']}"), 404)
    assert code == "property_not_found"
    _every_change(api, "rm2", mine, 404, "property_not_found")
    assert api.error(api.post("rm2", f"/credits/{link['id']}/release"), 404) == (
        "credit_link_not_found"
    )
    for action in ("approve", "release"):
        r = api.post("rm2", f"/registrations/{reg['id']}/{action}")
        assert api.error(r, 404) == "registration_not_found"
    rm2_regs = api.ok(api.get("rm2", "/registrations?limit=200"))["items"]
    assert reg["id"] not in {r["id"] for r in rm2_regs}
    assert api.counts() == before  # nothing changed

    for staff in ("approver1", "admin"):
        assert {mine["id"], theirs["id"]} <= _listed(api, staff)
        api.ok(api.get(staff, f"/properties/{theirs['id']}"))
    # an RM cannot register for another RM
    r = api.post(
        "rm1",
        "/properties",
        {**support.FACTS, "owner_org_id": api.org_id("DEALER1"), "rm_user_id": api.user_id("rm2")},
    )
    assert api.error(r, 403) == "rm_assignment_forbidden"


def test_owner_users_read_their_own_only_and_change_nothing(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    d1 = api.register("rm1", owner="DEALER1")
    d2 = api.register("rm2", owner="DEALER2")
    before = api.counts()
    api.ok(api.get("dealer1", f"/properties/{d1['id']}"))
    assert d1["id"] in _listed(api, "dealer1") and d2["id"] not in _listed(api, "dealer1")
    assert api.error(api.get("dealer1", f"/properties/{d2['id']}"), 404) == "property_not_found"
    _every_change(api, "dealer1", d1, 403, "forbidden")
    _every_change(api, "dealer2", d1, 404, "property_not_found")
    assert (
        api.error(
            api.post(
                "dealer1", "/properties", {**support.FACTS, "owner_org_id": api.org_id("DEALER1")}
            ),
            403,
        )
        == "forbidden"
    )
    assert _listed(api, "teller1") == set()
    assert api.counts() == before
