"""The collateral screens in a real browser: rm1 values one of their clients' properties on
the phone in one tap and reads the itemised breakdown; an approver approves, from the
console's property page, a mortgage registration rm1 recorded (the maker never sees the
button); rm2 sees none of rm1's properties, on the phone or by opening one's page."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import expect

from tests.browser.floorplan_world import ok
from tests.browser_support import screenshot

FACTS = {
    "district": "Browser",
    "address": "1 Browser Road",
    "area_m2": "95.00",
    "floor": 8,
    "total_floors": 18,
    "build_year": 2014,
    "orientation": "S",
    "decoration": "fine",
    "rooms": 3,
    "property_type": "apartment",
}


def _property(server, user: str, code: str, **over) -> dict:
    """A property like a demo one (its city and community are the generated market's)."""
    demo = ok(server.api("GET", "/collateral/properties", "approver1", params={"limit": 1}))
    like = demo["items"][0]
    body = {
        **FACTS,
        "city": like["city"],
        "district": like["district"],
        "community": like["community"],
        "owner_org_id": like["owner_org_id"],
        "code": code,
        **over,
    }
    return ok(server.api("POST", "/collateral/properties", user, json=body), 201)


def test_rm_values_a_property_in_one_tap_and_reads_the_breakdown(server, signed_in):
    prop = _property(server, "rm1", "BROWSER-COL-1")
    page = signed_in("rm1", surface="m")
    page.goto(f"{server.url}/m/rm/collateral")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    page.fill("#f-community", prop["community"])
    page.locator("#filters button[type=submit]").click()
    item = page.locator(f"#properties li[data-property='{prop['id']}']")
    expect(item).to_contain_text(prop["community"])
    item.locator("button.value-now").click()
    result = page.locator("#result .valuation")
    expect(result).to_be_visible()
    expect(result.locator(".value")).to_contain_text("¥")
    rows = result.locator("table.breakdown tbody tr")
    for factor in ("floor", "orientation", "age", "area", "decoration"):
        expect(result.locator(f"tr[data-factor='{factor}']")).to_have_count(1)
    assert rows.count() >= 7  # base price, area, five corrections, the comparison value
    screenshot(page, "m-rm-collateral")
    got = ok(server.api("GET", f"/collateral/properties/{prop['id']}", "rm1"))
    assert got["latest_valuation"] and got["latest_value"]
    whole = f"{int(float(got['latest_value'])):,}"  # the page groups thousands: ¥5,107,300.00
    expect(item.locator(".latest")).to_contain_text(whole)
    assert not page.errors


def test_an_approver_approves_a_registration_rm1_recorded(server, signed_in):
    prop = _property(server, "rm1", "BROWSER-COL-2")
    reg = ok(
        server.api(
            "POST",
            f"/collateral/properties/{prop['id']}/registrations",
            "rm1",
            json={"certificate_no": "BROWSER-0002", "registered_on": str(date.today())},
        ),
        201,
    )
    maker = signed_in("rm1", surface="console")
    maker.goto(f"{server.url}/console/collateral/property?id={prop['id']}")
    maker.wait_for_selector("main[data-ready='1']", state="attached")
    row = maker.locator(f"#registrations tr[data-registration='{reg['id']}']")
    expect(row).to_contain_text("BROWSER-0002")
    expect(row.get_by_role("button")).to_have_count(0)  # the maker cannot check

    page = signed_in("approver1", surface="console")
    page.goto(f"{server.url}/console/collateral/properties")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    page.locator("#queue").get_by_role("link", name="BROWSER-0002").click()  # the checker's queue
    page.wait_for_url(lambda url: url.endswith(f"/console/collateral/property?id={prop['id']}"))
    page.wait_for_selector("main[data-ready='1']", state="attached")
    row = page.locator(f"#registrations tr[data-registration='{reg['id']}']")
    row.get_by_role("button", name="复核通过").click()
    expect(page.locator("#fe-toasts")).to_contain_text("复核通过")
    expect(page.locator(f"#registrations tr[data-registration='{reg['id']}']")).to_contain_text(
        "已登记"
    )
    screenshot(page, "console-collateral-property")
    got = ok(server.api("GET", f"/collateral/properties/{prop['id']}", "approver1"))
    assert got["registrations"][0]["status"] == "registered"
    assert not page.errors and not maker.errors


def test_rm2_does_not_see_rm1s_properties(server, signed_in):
    prop = _property(server, "rm1", "BROWSER-COL-3")
    page = signed_in("rm2", surface="m")
    page.goto(f"{server.url}/m/rm/collateral")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#properties li").first).to_be_visible()
    expect(page.locator(f"#properties li[data-property='{prop['id']}']")).to_have_count(0)
    rm2 = ok(server.api("GET", "/auth/me", "rm2"))["id"]
    listed = ok(server.api("GET", "/collateral/properties", "rm2", params={"limit": 200}))
    assert listed["items"] and {p["rm_user_id"] for p in listed["items"]} == {rm2}
    console = signed_in("rm2", surface="console")
    console.goto(f"{server.url}/console/collateral/property?id={prop['id']}")
    console.wait_for_selector("main[data-ready='1']", state="attached")
    expect(console.locator("#main .notice")).to_contain_text("未找到")
    expect(console.locator("#registrations")).to_have_count(0)


def test_console_values_ad_hoc_and_from_a_propertys_page(server, signed_in):
    prop = _property(server, "rm1", "BROWSER-COL-4")
    page = signed_in("rm1", surface="console")
    page.goto(f"{server.url}/console/collateral/valuation?property={prop['id']}")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#v-community")).to_have_value(prop["community"])
    page.fill("#v-floor", "1")  # the ground floor: its own correction
    page.locator("#valuation-form button[type=submit]").click()
    result = page.locator("#result .valuation")
    expect(result.locator("tr[data-factor='floor']")).to_contain_text("底层")
    expect(result.locator(".range")).to_contain_text("¥")
    floor = result.locator("tr[data-factor='floor'] td").last.inner_text()
    assert floor.startswith("-¥") and "¥-" not in floor, floor  # a discount reads -¥288,517.98
    text = result.inner_text()
    assert "undefined" not in text and "NaN" not in text, text
    screenshot(page, "console-collateral-valuation")
    en = signed_in("rm1", surface="console", lang="en")
    en.goto(f"{server.url}/console/collateral/valuation?property={prop['id']}")
    en.wait_for_selector("main[data-ready='1']", state="attached")
    en.fill("#v-floor", "1")
    en.locator("#valuation-form button[type=submit]").click()
    expect(en.locator("#result .valuation .range")).to_contain_text("¥")
    text = en.locator("#result .valuation").inner_text()
    assert "undefined" not in text and "NaN" not in text and "¥-" not in text, text
    screenshot(en, "console-collateral-valuation-en")
    assert not en.errors
    assert (
        ok(server.api("GET", f"/collateral/properties/{prop['id']}", "rm1"))["latest_valuation"]
        is None
    )  # an ad-hoc valuation is not the property's

    page.goto(f"{server.url}/console/collateral/property?id={prop['id']}")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    page.locator("#value-now").click()
    expect(page.locator("#valuation table.breakdown tr[data-factor='decoration']")).to_be_visible()
    expect(page.locator("#history tbody tr")).to_have_count(1)
    assert not page.errors
