"""The bank's floor-plan pages of the console: the dealer overview (figures as the API gives
them), a dealer's drill-down, and credit lines with maker-checker requests made and approved
through the page by two users (the maker refused on their own request)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.floorplan_world import money_text, new_dealer, ok, open_page
from tests.browser_support import screenshot


def test_overview_lists_both_demo_dealers_with_the_apis_figures(server, browser_page):
    page = open_page(server, browser_page, "rm1", "/console/floorplan/dealers")
    rows = ok(server.api("GET", "/floorplan/dealers", "rm1", params={"limit": 200}))["items"]
    for code in ("DEALER1", "DEALER2"):
        api_row = next(r for r in rows if r["dealer_code"] == code)
        row = page.locator("#dealers tbody tr", has=page.locator(f"a[data-code='{code}']"))
        expect(row.locator("td.limit")).to_have_text(money_text(api_row["limit"]))
        expect(row.locator("td.used")).to_have_text(money_text(api_row["used"]))
        expect(row.locator("td.available")).to_have_text(money_text(api_row["available"]))
        expect(row.locator("td.in_stock")).to_have_text(
            str(api_row["cars_by_status"]["in_stock"]["count"])
        )
        expect(row.locator("td.aged-90")).to_have_text(str(api_row["aging"]["90"]))
        expect(row.locator("td.out_of_trust")).to_have_text(
            str(api_row["cars_by_status"].get("out_of_trust", {}).get("count", 0))
        )
        expect(row.locator("td.released_unpaid")).to_have_text(
            str(api_row["cars_by_status"].get("released_unpaid", {}).get("count", 0))
        )
    expect(page.locator("#total-dealers .value")).to_have_text(str(len(rows)))
    screenshot(page, "console-floorplan-dealers")
    assert not page.errors


def test_overview_in_english_and_the_dealer_drill_down(server, browser_page):
    page = open_page(server, browser_page, "approver1", "/console/floorplan/dealers", lang="en")
    expect(page.locator("h1")).to_have_text("Dealers overview")
    expect(page.locator("#dealers thead")).to_contain_text("Out of trust")
    screenshot(page, "console-floorplan-dealers-en")
    page.locator("a[data-code='DEALER1']").click()
    page.wait_for_url("**/console/floorplan/dealer?id=*")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    dealer = int(page.url.rsplit("=", 1)[1])
    summary = ok(server.api("GET", f"/floorplan/dealers/{dealer}/summary", "approver1"))
    expect(page.locator("#fig-limit .value")).to_have_text(money_text(summary["limit"]))
    expect(page.locator("#dealer-name")).to_contain_text("DEALER1")
    # in stock by default: the seed's aged cars show their days in stock
    in_stock = summary["cars_by_status"]["in_stock"]["count"]
    expect(page.locator("#cars tbody tr")).to_have_count(in_stock)
    expect(page.locator("#alerts tbody tr").first).to_be_visible()
    expect(page.locator("#bills tbody tr").first).to_be_visible()
    page.locator("#car-tabs button[data-status='redeemed']").click()
    expect(page.locator("#car-tabs button[data-status='redeemed']")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.locator("#cars")).to_contain_text("Redeemed")
    screenshot(page, "console-floorplan-dealer")
    assert not page.errors


def test_credit_line_request_made_by_one_user_approved_by_another(server, browser_page):
    dealer = new_dealer(server, "DLRMC1", line=False)
    maker = open_page(server, browser_page, "admin", "/console/floorplan/lines")
    maker.select_option("#p-dealer", str(dealer))
    maker.fill("#p-limit", "3000000")
    maker.fill("#p-note", "new dealer")
    maker.click("#propose-form button[type=submit]")
    pending = maker.locator("#pending tbody tr", has_text="DLRMC1")
    expect(pending).to_have_count(1)
    expect(pending.locator("td.maker")).to_have_text("admin")
    # the maker may not approve their own request: the API refuses, the page says why
    pending.locator("button[data-approve]").click()
    maker.click("#fe-confirm-ok")
    expect(maker.locator("#requests-error")).to_contain_text("经办人不能审批自己发起的申请")
    expect(pending).to_have_count(1)
    screenshot(maker, "console-floorplan-lines")
    assert not maker.errors

    checker = open_page(server, browser_page, "approver1", "/console/floorplan/lines")
    row = checker.locator("#pending tbody tr", has_text="DLRMC1")
    row.locator("button[data-approve]").click()
    checker.click("#fe-confirm-ok")
    expect(checker.locator("#pending tbody tr", has_text="DLRMC1")).to_have_count(0)
    line = checker.locator("#lines tbody tr", has_text="DLRMC1")
    expect(line.locator("td.limit")).to_have_text("¥3,000,000.00")
    decided = checker.locator("#decided tbody tr", has_text="DLRMC1")
    expect(decided.locator("td.checker")).to_have_text("approver1")
    lines = ok(server.api("GET", "/floorplan/credit-lines", "approver1", params={"limit": 200}))[
        "items"
    ]
    assert next(x for x in lines if x["dealer_id"] == dealer)["limit"] == "3000000.00"
    assert not checker.errors
