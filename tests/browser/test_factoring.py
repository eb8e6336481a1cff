"""Digital factoring on a phone: supplier1 opens its payables, sees a confirmed one and
finances it in one tap; the advance reaches its account and the payable shows as financed."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.floorplan_world import ok
from tests.browser_support import screenshot


def test_supplier_finances_a_confirmed_payable_in_one_tap(server, browser_page):
    held = ok(
        server.api(
            "GET",
            "/factoring/payables",
            "supplier1",
            params={"status": "CONFIRMED", "role": "held", "limit": 1},
        )
    )["items"][0]
    page = browser_page(phone=True)
    # opened first, the page sends the visitor to the login and back to itself afterwards (the
    # enterprise role's home page belongs to another area)
    page.goto(f"{server.url}/m/enterprise/payables")
    page.wait_for_url(lambda url: "/login" in url)
    page.fill("#username", "supplier1")
    page.fill("#password", "supplier1-demo")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: url.endswith("/m/enterprise/payables"))
    page.wait_for_selector("main[data-ready='1']", state="attached")
    item = page.locator(f"#payables li[data-id='{held['id']}']")
    expect(item).to_contain_text(held["invoice_no"])
    expect(item.locator(".badge")).to_have_text("已确权")
    screenshot(page, "m-enterprise-payables")
    item.get_by_role("button", name="一键融资").click()
    expect(page.locator("#fe-toasts")).to_contain_text("融资成功")
    payable = ok(server.api("GET", f"/factoring/payables/{held['id']}", "supplier1"))
    assert payable["status"] == "FINANCED"
    assert not page.errors
