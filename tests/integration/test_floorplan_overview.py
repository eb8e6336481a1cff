"""The bank's dealer overview (GET /floorplan/dealers): bank staff see every dealer, an OEM
its own dealers only, a dealer or a supervisor is refused; each row is the dealer summary with
its aged stock, and pages by cursor."""

from __future__ import annotations

from decimal import Decimal

from backend.identity import service as identity
from tests.integration import test_floorplan_support as support
from tests.integration.test_floorplan_support import Api

api = support.api  # fixture


def _other_oems_dealer(api: Api) -> int:
    """A dealer of another OEM (OEM9), which oem1 must not see."""
    with api.session() as s:
        oem = identity.get_or_create_org(s, "OEM9", "Other Motors", "oem", None)
        dealer = identity.get_or_create_org(s, "DEALER9", "Other Dealer", "dealer", oem)
        s.commit()
        return dealer.id


def test_bank_staff_see_every_dealer_with_figures_matching_the_summary(api: Api):
    other = _other_oems_dealer(api)
    page = api.ok(api.get("rm1", "/dealers"))
    rows = {row["dealer_code"]: row for row in page["items"]}
    assert {"DEALER1", "DEALER2", "DEALER9"} <= set(rows)
    assert rows["DEALER9"]["dealer_id"] == other
    for code in ("DEALER1", "DEALER2"):
        row = rows[code]
        summary = api.ok(api.get("rm1", f"/dealers/{row['dealer_id']}/summary"))
        for key in ("limit", "used", "available", "margin", "cars_by_status", "open_alerts"):
            assert row[key] == summary[key], (code, key)
        assert Decimal(row["utilisation"]) == (
            Decimal(row["used"]) / Decimal(row["limit"])
        ).quantize(Decimal("0.0001"))
        # the demo seed: two cars in stock for about 128 days
        assert row["aging"]["90"] == 2 and row["aging"]["120"] == 2 and row["aging"]["180"] == 0
    assert rows["DEALER9"]["limit"] == "0.00" and rows["DEALER9"]["utilisation"] is None


def test_an_oem_sees_its_own_dealers_only(api: Api):
    _other_oems_dealer(api)
    codes = {row["dealer_code"] for row in api.ok(api.get("oem1", "/dealers"))["items"]}
    assert {"DEALER1", "DEALER2"} <= codes and "DEALER9" not in codes


def test_a_dealer_and_a_supervisor_are_refused(api: Api):
    for user in ("dealer1", "supervisor1"):
        r = api.get(user, "/dealers")
        assert r.status_code == 403, (user, r.get_json())
        assert r.get_json()["error"]["code"] == "forbidden"


def test_the_overview_pages_by_cursor(api: Api):
    _other_oems_dealer(api)
    first = api.ok(api.get("approver1", "/dealers?limit=1"))
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = api.ok(api.get("approver1", f"/dealers?limit=1&cursor={first['next_cursor']}"))
    assert second["items"][0]["dealer_id"] > first["items"][0]["dealer_id"]
    everything = api.ok(api.get("approver1", "/dealers?limit=200"))
    assert everything["next_cursor"] is None
    assert len(everything["items"]) >= 3
