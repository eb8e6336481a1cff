"""The clearing pages: trader1 sees its accounts with the API's figures (its demo order still
frozen) and withdraws 1.00 with the page's button; the bank's console lists the day's
reconciliation."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import expect

from tests.browser.floorplan_world import money_text, ok, open_page
from tests.browser_support import screenshot


def test_trader_sees_its_accounts_and_the_console_its_reconciliation(server, browser_page):
    # the enterprise role has no home page yet: go to the page first, so the login returns there
    page = browser_page(phone=True)
    page.goto(f"{server.url}/m/enterprise/trading")
    page.wait_for_url("**/m/login")
    page.fill("#username", "trader1")
    page.fill("#password", "trader1-demo")
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/m/enterprise/trading")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    accounts = ok(server.api("GET", "/clearing/accounts", "trader1"))["items"]
    au = next(a for a in accounts if a["account_no"] == "TRD01-AU")
    card = page.locator("li[data-account='TRD01-AU']")
    expect(card.locator(".held")).to_have_text(money_text(au["held"]))
    expect(card.locator(".available")).to_have_text(money_text(au["available"]))
    expect(page.locator("li[data-order='O-DEMO-1']")).to_be_visible()
    expect(page.locator("li[data-account='TRD02-AU']")).to_have_count(0)
    screenshot(page, "m-enterprise-trading")
    # one action: withdraw 1.00 back to the main account; the card shows the API's new figure
    page.fill(f"#wd-{au['id']}", "1.00")
    card.locator("form.withdraw button").click()
    left = Decimal(au["available"]) - Decimal("1.00")
    expect(card.locator(".available")).to_have_text(money_text(f"{left:.2f}"))
    after = ok(server.api("GET", f"/clearing/accounts/{au['id']}", "trader1"))
    assert Decimal(after["available"]) == left and after["held"] == au["held"]
    assert not page.errors
    console = open_page(server, browser_page, "rm1", "/console/industrial/clearing")
    expect(console.locator("#runs tbody tr").first).to_be_visible()
    screenshot(console, "console-industrial-clearing")
    assert not console.errors
