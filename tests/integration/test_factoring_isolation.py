"""Who sees and does what in factoring, with two suppliers and two core enterprises: a
supplier sees only the parts it holds, issued or passed on; a core enterprise only its own
chain; bank staff all. What the caller may not see is 404; what it may see but not do is 403."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.integration import test_factoring_support as support
from tests.integration.test_factoring_support import Api

api = support.api  # fixture
pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture


@pytest.fixture
def both_api(pg_or_sqlite_api: Api) -> Api:
    return pg_or_sqlite_api


def _ids(page: dict) -> set[int]:
    return {x["id"] for x in page["items"]}


def test_each_party_sees_only_its_own(both_api: Api):
    """On SQLite and PostgreSQL (the scoping is SQL)."""
    api = both_api
    p1 = api.payable(core="core1", supplier="SUPP01")
    p2 = api.payable(core="core1", supplier="SUPP02")
    p3 = api.payable(core="core2", supplier="SUPP11")
    for user, visible, hidden in (
        ("supplier1", [p1], [p2, p3]),
        ("supplier2", [p2], [p1, p3]),
        ("core1", [p1, p2], [p3]),
        ("core2", [p3], [p1, p2]),
    ):
        for p in visible:
            api.ok(api.get(user, f"/payables/{p['id']}"))
        for p in hidden:
            assert api.error(api.get(user, f"/payables/{p['id']}"), 404) == "payable_not_found"
            for action in ("finance", "confirm", "pay"):
                r = api.post(user, f"/payables/{p['id']}/{action}")
                assert api.error(r, 404) == "payable_not_found"
        listed = set()
        cursor = ""
        while True:
            page = api.ok(api.get(user, f"/payables?limit=200{cursor}"))
            listed |= _ids(page)
            if not page["next_cursor"]:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert {p["id"] for p in visible} <= listed
        assert not {p["id"] for p in hidden} & listed
    for staff in ("admin", "rm1", "approver1"):
        for p in (p1, p2, p3):
            api.ok(api.get(staff, f"/payables/{p['id']}"))


def test_a_transferred_part_is_seen_by_the_transferor_but_not_by_other_suppliers(api: Api):
    p = api.payable(core="core1", supplier="SUPP01", amount="1000.00")
    body = {"to_org_id": api.org_id("SUPP02"), "amount": "400.00"}
    part = api.ok(api.post("supplier1", f"/payables/{p['id']}/transfer", body), 201)
    api.ok(api.get("supplier1", f"/payables/{part['id']}"))  # issued and transferred it
    detail = api.ok(api.get("supplier2", f"/payables/{part['id']}"))
    # supplier2 sees its part; of the invoice's other parts, none it has no part in
    assert {x["id"] for x in detail["parts"]} == {part["id"]}
    assert api.error(api.get("supplier2", f"/payables/{p['id']}"), 404) == "payable_not_found"
    assert api.error(api.get("core2", f"/payables/{part['id']}"), 404) == "payable_not_found"


def test_agreements_and_chains_are_scoped(api: Api):
    agreements = api.ok(api.get("admin", "/agreements"))["items"]
    by_core = {a["core_id"]: a for a in agreements}
    a1, a2 = by_core[api.org_id("CORE1")], by_core[api.org_id("CORE2")]
    assert _ids(api.ok(api.get("core1", "/agreements"))) == {a1["id"]}
    assert _ids(api.ok(api.get("supplier1", "/agreements"))) == {a1["id"]}
    assert api.error(api.get("core1", f"/agreements/{a2['id']}"), 404) == "agreement_not_found"
    assert api.error(api.get("supplier1", f"/agreements/{a2['id']}"), 404) == "agreement_not_found"
    chain = api.ok(api.get("core1", f"/agreements/{a1['id']}/suppliers?limit=200"))["items"]
    assert len(chain) >= 10
    own = api.ok(api.get("supplier1", f"/agreements/{a1['id']}/suppliers"))["items"]
    assert [s["org_id"] for s in own] == [api.org_id("SUPP01")]
    r = api.get("supplier1", f"/agreements/{a2['id']}/suppliers")
    assert api.error(r, 404) == "agreement_not_found"


def test_only_bank_staff_make_agreements_and_admit_suppliers(both_api: Api):
    api = both_api  # on SQLite and PostgreSQL
    today = date.today()
    body = {
        "core_id": api.org_id("TRD01"),
        "limit": "1000000.00",
        "advance_rate": "0.8",
        "interest_rate": "0.05",
        "fee_rate": "0.001",
        "with_recourse": False,
        "valid_from": str(today),
        "valid_to": str(today + timedelta(days=365)),
    }
    for user in ("core1", "supplier1", "teller1"):
        assert api.error(api.post(user, "/agreements", body), 403) == "forbidden"
    made = api.ok(api.post("approver1", "/agreements", body), 201)
    assert made["advance_rate"] == "0.8000" and made["status"] == "active"
    assert api.error(api.post("rm1", "/agreements", body), 409) == "agreement_exists"
    admit = {"org_id": api.org_id("TRD02"), "counterparty_limit": "1000.00"}
    r = api.post("core1", f"/agreements/{made['id']}/suppliers", admit)
    assert api.error(r, 403) == "forbidden"
    api.ok(api.post("rm1", f"/agreements/{made['id']}/suppliers", admit), 201)


def test_applications_and_balances_are_scoped(api: Api):
    p = api.payable(core="core1", supplier="SUPP01", amount="1000.00")
    app_ = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
    api.ok(api.get("supplier1", f"/applications/{app_['id']}"))
    api.ok(api.get("core1", f"/applications/{app_['id']}"))
    for user in ("supplier2", "core2"):
        r = api.get(user, f"/applications/{app_['id']}")
        assert api.error(r, 404) == "application_not_found"
        assert app_["id"] not in _ids(api.ok(api.get(user, "/applications?limit=200")))
    supp1 = api.org_id("SUPP01")
    api.ok(api.get("supplier1", f"/orgs/{supp1}/balance"))
    assert api.error(api.get("supplier2", f"/orgs/{supp1}/balance"), 404) == "enterprise_not_found"
    # deposits: tellers only
    r = api.post("supplier1", "/deposits", {"org_id": supp1, "amount": "1.00"})
    assert api.error(r, 403) == "forbidden"
