"""The enterprise's asset pool page on a phone: core1 lands on it (its m home), sees its pool's
capacity and ladder, and has a bill accepted against the pool through the form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser_support import screenshot


def test_core1_accepts_a_bill_against_its_pool(server, signed_in):
    page = signed_in("core1")
    assert page.url.endswith("/m/enterprise/pool")
    expect(page.locator("main[data-ready='1']")).to_be_visible()
    expect(page.locator("[data-figure='capacity'] .value")).not_to_be_empty()
    expect(page.locator("#ladder svg rect").first).to_be_attached()
    page.fill("#b-payee", "Browser Supplier")
    page.fill("#b-amount", "1234.56")
    page.fill("#b-maturity", (datetime.now(UTC) + timedelta(days=60)).date().isoformat())
    page.click("#b-submit")
    expect(page.locator("#bills li").filter(has_text="Browser Supplier")).to_be_visible()
    screenshot(page, "m-enterprise-pool")
    assert not page.errors
