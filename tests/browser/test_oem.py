"""The OEM's pages on a phone: a shipping list posted for an issued bill, the shipment and its
cars listed, the bills it is paid with."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.floorplan_world import (
    assert_fits_a_small_phone,
    issued_bill,
    new_dealer,
    new_vin,
    ok,
    open_page,
)
from tests.browser_support import screenshot


def test_oem_ships_a_bills_cars_and_sees_its_shipments_and_bills(server, browser_page):
    dealer = new_dealer(server, "DLROEM1")
    bill = issued_bill(server, dealer, "250000.00")
    vin = new_vin("LSV")
    page = open_page(server, browser_page, "oem1", "/m/oem/shipments")
    page.select_option("#bill", str(bill["id"]))
    expect(page.locator("#yard option")).to_have_text("DLROEM1 yard")
    page.fill("#car-1-vin", vin)
    page.fill("#car-1-model", "Demo SUV")
    page.fill("#car-1-price", "250000")
    page.fill("#car-1-certificate_no", f"C{vin[-12:]}")
    expect(page.locator("#ship-total")).to_contain_text("¥250,000.00 / 汇票 ¥250,000.00")
    page.click("#ship-form button[type=submit]")
    expect(page.locator("#fe-toasts")).to_contain_text("发车清单已提交")
    shipments = ok(server.api("GET", "/floorplan/shipments", "oem1", params={"limit": 200}))[
        "items"
    ]
    shipment = next(s for s in shipments if s["bill_id"] == bill["id"])
    item = page.locator(f"#shipments li[data-shipment='{shipment['id']}']")
    expect(item).to_contain_text("DLROEM1")
    item.get_by_role("button", name="车辆明细").click()
    expect(item.locator(f"li[data-vin='{vin}']")).to_contain_text("在途")
    screenshot(page, "m-oem-shipments")
    item.locator(f"button[data-arrive='{shipment['id']}']").click()
    page.click("#fe-confirm-ok")
    expect(item.locator("button[data-arrive]")).to_have_count(0)
    expect(item.locator(".badge").first).to_have_text("已到库")
    vehicle = ok(server.api("GET", f"/floorplan/vehicles/{vin}", "oem1"))
    assert vehicle["status"] == "arrived"
    assert_fits_a_small_phone(page)
    assert not page.errors

    page.goto(f"{server.url}/m/oem/bills")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator(f"#bills li[data-bill='{bill['id']}']")).to_contain_text(bill["bill_no"])
    expect(page.locator(f"#bills li[data-bill='{bill['id']}']")).to_contain_text("已发车")
    # the demo dealers' bills are there too
    assert (
        len(ok(server.api("GET", "/floorplan/bills", "oem1", params={"limit": 200}))["items"]) > 1
    )
    expect(page.locator("#bills li").nth(1)).to_be_visible()
    page.get_by_role("tab", name="已发车").click()
    expect(page.locator(f"#bills li[data-bill='{bill['id']}']")).to_be_visible()
    screenshot(page, "m-oem-bills")
    assert_fits_a_small_phone(page)
    assert not page.errors
