"""The supervisor's pages on a phone: a car taken in by its VIN and certificate typed (a wrong
certificate refused), a redeemed car checked and released, an audit checked car by car. Each
test ships its own cars to a dealer of its own (tests/browser/floorplan_world.py)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.floorplan_world import (
    assert_fits_a_small_phone,
    new_dealer,
    ok,
    open_page,
    shipped_cars,
    take_in,
)
from tests.browser_support import screenshot


def _status(server, vin: str) -> str:
    return ok(server.api("GET", f"/floorplan/vehicles/{vin}", "supervisor1"))["status"]


def test_supervisor_takes_a_car_in_by_typed_vin_on_a_phone(server, browser_page):
    dealer = new_dealer(server, "DLRSUP1")
    car, other = shipped_cars(server, dealer, ["200000.00", "150000.00"])
    page = open_page(server, browser_page, "supervisor1", "/m/supervisor/intake")
    assert page.viewport_size["width"] <= 390
    expect(page.locator(f"#waiting li[data-vin='{car['vin']}']")).to_be_visible()
    # a wrong certificate is refused by the API and the page says so
    page.fill("#vin", other["vin"].lower())
    page.fill("#certificate", "NOT-THE-CERT")
    page.click("#intake-form button[type=submit]")
    expect(page.locator("#fe-toasts")).to_contain_text("合格证号与车辆不符")
    assert _status(server, other["vin"]) == "in_transit"
    page.fill("#vin", car["vin"])
    page.fill("#certificate", car["certificate_no"])
    page.fill("#location", "A-07")
    page.click("#intake-form button[type=submit]")
    expect(page.locator("#intake-result")).to_contain_text(car["vin"])
    expect(page.locator("#intake-result")).to_contain_text("在库")
    expect(page.locator(f"#waiting li[data-vin='{car['vin']}']")).to_have_count(0)
    assert _status(server, car["vin"]) == "in_stock"
    screenshot(page, "m-supervisor-intake")
    assert_fits_a_small_phone(page)
    assert not page.errors


def test_supervisor_checks_and_releases_a_redeemed_car(server, browser_page):
    dealer = new_dealer(server, "DLRSUP2")
    (car,) = shipped_cars(server, dealer, ["180000.00"])
    take_in(server, car)
    ok(
        server.api(
            "POST",
            f"/floorplan/vehicles/{car['vin']}/redeem",
            "teller1",
            json={
                "mode": "full",
                "on_behalf": {"reason": "at the counter", "instruction_ref": "SLIP-T1"},
            },
        )
    )
    page = open_page(server, browser_page, "supervisor1", "/m/supervisor/release")
    item = page.locator(f"#ready li[data-vin='{car['vin']}']")
    item.get_by_role("button").click()
    release = item.locator("button[type=submit]")
    expect(release).to_be_disabled()
    item.locator("input[id^='vin-']").fill(car["vin"][:-1] + "X")
    expect(item.locator("p.error")).to_be_visible()
    item.locator("input[id^='vin-']").fill(car["vin"])
    item.locator("input[type=checkbox]").check()
    expect(release).to_be_enabled()
    screenshot(page, "m-supervisor-release")
    assert_fits_a_small_phone(page)
    release.click()
    page.click("#fe-confirm-ok")
    expect(page.locator(f"#ready li[data-vin='{car['vin']}']")).to_have_count(0)
    assert _status(server, car["vin"]) == "released"
    assert not page.errors


def test_supervisor_audit_checks_a_car_and_closes(server, browser_page):
    dealer = new_dealer(server, "DLRSUP3")
    (car,) = shipped_cars(server, dealer, ["160000.00"])
    take_in(server, car)
    page = open_page(server, browser_page, "supervisor1", "/m/supervisor/audits")
    page.select_option("#yard", label="DLRSUP3 yard")
    page.click("#open-form button")
    page.wait_for_url("**/m/supervisor/audits?id=*")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    check = page.locator(f"#checks li[data-vin='{car['vin']}']")
    expect(check).to_have_attribute("data-result", "pending")
    check.locator("input[id^='cert-']").fill(car["certificate_no"])
    check.locator("input[id^='loc-']").fill("row T")
    check.locator("button[type=submit]").click()
    expect(page.locator(f"#checks li[data-vin='{car['vin']}']")).to_have_attribute(
        "data-result", "present"
    )
    expect(page.locator("#detail-meta")).to_contain_text("1/1")
    screenshot(page, "m-supervisor-audits")
    assert_fits_a_small_phone(page)
    page.click("#close")
    page.click("#fe-confirm-ok")
    expect(page.locator("#detail-h")).to_contain_text("已结束")
    audit_id = int(page.url.rsplit("=", 1)[1])
    audit = ok(server.api("GET", f"/floorplan/audits/{audit_id}", "supervisor1"))
    assert (
        audit["status"] == "closed" and audit["present_count"] == 1 and audit["missing_count"] == 0
    )
    assert _status(server, car["vin"]) == "in_stock"
    page.goto(f"{server.url}/m/supervisor/audits")
    expect(page.locator(f"#audits li[data-audit='{audit_id}']")).to_be_visible()
    assert not page.errors


# Headless Chromium on Linux has neither a camera nor BarcodeDetector: a stand-in camera (a
# canvas stream) and detector (it reads whatever the test put in window.__scanned) take their
# place, so the page's scanning path runs as on a phone.
FAKE_CAMERA = """
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ["code_128", "qr_code"]; }
  async detect() { return window.__scanned ? [{ rawValue: window.__scanned }] : []; }
};
const fakeCamera = async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 64;
  canvas.height = 64;
  canvas.getContext("2d").fillRect(0, 0, 64, 64);
  return canvas.captureStream();
};
if (navigator.mediaDevices) navigator.mediaDevices.getUserMedia = fakeCamera;
else Object.defineProperty(navigator, "mediaDevices", { value: { getUserMedia: fakeCamera } });
"""


def test_supervisor_scans_vin_and_certificate_with_the_camera(server, browser_page):
    dealer = new_dealer(server, "DLRSUP4")
    (car,) = shipped_cars(server, dealer, ["170000.00"])
    page = browser_page(phone=True)
    page.add_init_script(FAKE_CAMERA)
    page = open_page(server, lambda **kw: page, "supervisor1", "/m/supervisor/intake")
    expect(page.locator("#no-scanner")).to_be_hidden()
    page.evaluate("code => { window.__scanned = code; }", car["vin"])
    page.click("button.scan[data-target='vin']")
    expect(page.locator("#vin")).to_have_value(car["vin"])
    expect(page.locator("#scanner")).to_be_hidden()
    page.evaluate("code => { window.__scanned = code; }", car["certificate_no"])
    page.click("button.scan[data-target='certificate']")
    expect(page.locator("#certificate")).to_have_value(car["certificate_no"])
    page.click("#intake-form button[type=submit]")
    expect(page.locator("#intake-result")).to_contain_text(car["vin"])
    assert _status(server, car["vin"]) == "in_stock"
    assert not page.errors
