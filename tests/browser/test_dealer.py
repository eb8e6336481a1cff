"""The dealer's mini-program pages (/m/dealer/...) in a real browser: redeeming one car from its
page and seeing the home figures move, a batch redemption from the inventory selection, another
dealer's car not found, each page in Chinese with a screenshot (one in English), bills and
audits on tap, and an alert raised elsewhere appearing on the notices page without a reload.

The cars redeemed here are this module's own: financed through the API at the start (bill asked
by dealer1, issued by approver1, shipped by oem1, taken in by supervisor1), under a VIN prefix
no other test uses, so the tests pass in any order beside the other browser tests."""

from __future__ import annotations

import secrets
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser_support import screenshot

VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
PRICE = "100000.00"


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    return response.json()


def yuan(amount: str) -> str:
    """The page's money(): ¥, thousands grouped, two decimals."""
    value = Decimal(amount)
    return f"{'-' if value < 0 else ''}¥{abs(value):,.2f}"


def ready(page, url: str) -> None:
    page.goto(url)
    expect(page.locator("main[data-ready='1']")).to_be_attached()


def summary(server, username: str = "dealer1") -> dict:
    me = _ok(server.api("GET", "/auth/me", username))
    return _ok(server.api("GET", f"/floorplan/dealers/{me['org_id']}/summary", username))


@pytest.fixture(scope="module")
def fleet(server) -> dict:
    """Four cars of dealer1's, in stock, that only this module touches: {"prefix", "vins"}."""
    prefix = "DLR" + "".join(secrets.choice(VIN_CHARS) for _ in range(6))
    vins = [f"{prefix}{n:08d}" for n in range(1, 5)]
    dealer_id = _ok(server.api("GET", "/auth/me", "dealer1"))["org_id"]
    total = str(Decimal(PRICE) * len(vins))
    _ok(
        server.api(
            "POST", f"/floorplan/dealers/{dealer_id}/deposits", "teller1", json={"amount": total}
        ),
        201,
    )
    bill = _ok(
        server.api("POST", "/floorplan/bills", "dealer1", json={"amount": total, "term_months": 6}),
        201,
    )
    _ok(server.api("POST", f"/floorplan/bills/{bill['id']}/issue", "approver1"))
    yards = _ok(server.api("GET", "/floorplan/warehouses", "admin"))["items"]
    yard = next(w for w in yards if w["dealer_id"] == dealer_id)
    cars = [
        {"vin": vin, "model": "Hongqi H5", "price": PRICE, "certificate_no": f"WD{vin[-10:]}"}
        for vin in vins
    ]
    body = {"bill_id": bill["id"], "warehouse_id": yard["id"], "vehicles": cars}
    shipment = _ok(server.api("POST", "/floorplan/shipments", "oem1", json=body), 201)
    _ok(server.api("POST", f"/floorplan/shipments/{shipment['id']}/arrive", "supervisor1"))
    for car in cars:
        intake = {"certificate_no": car["certificate_no"], "location": "A-01"}
        path = f"/floorplan/vehicles/{car['vin']}/intake"
        assert _ok(server.api("POST", path, "supervisor1", json=intake))["status"] == "in_stock"
    return {"prefix": prefix, "vins": vins, "yard": yard["id"], "bill": bill["id"]}


def test_dealer_redeems_a_car_and_the_home_figures_change(server, signed_in, fleet):
    vin = fleet["vins"][0]
    page = signed_in("dealer1")
    ready(page, f"{server.url}/m/dealer/home")
    before = summary(server)
    used = page.locator("[data-figure=used] .value")
    available = page.locator("[data-figure=available] .value")
    expect(used).to_have_text(yuan(before["used"]))
    figures_before = (used.inner_text(), available.inner_text())

    ready(page, f"{server.url}/m/dealer/car?vin={vin}")
    expect(page.locator("#car-vin")).to_have_text(vin)
    expect(page.locator("#car-status")).to_have_text("在库")
    expect(page.locator("#car-outstanding")).to_have_text(yuan(PRICE))
    screenshot(page, "m-dealer-car")
    page.set_viewport_size({"width": 360, "height": 780})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.click("#redeem")
    dialog = page.locator("#redeem-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#redeem-cars li")).to_have_count(1)
    expect(dialog.locator("#redeem-cars")).to_contain_text(vin)
    expect(dialog.locator("#redeem-cars")).to_contain_text(yuan(PRICE))
    expect(page.locator("#redeem-mode-full")).to_be_checked()
    screenshot(page, "m-dealer-car-confirm")
    page.click("#redeem-ok")
    result = page.locator(".redeem-result")
    expect(result.locator(f"li[data-vin='{vin}']")).to_contain_text("已赎车")
    expect(page.locator("#car-status")).to_have_text("已赎车")
    expect(page.locator("#car-actions")).to_be_hidden()
    assert _ok(server.api("GET", f"/floorplan/vehicles/{vin}", "dealer1"))["status"] == "redeemed"

    ready(page, f"{server.url}/m/dealer/home")
    after = summary(server)
    assert Decimal(after["used"]) == Decimal(before["used"]) - Decimal(PRICE)
    expect(used).to_have_text(yuan(after["used"]))
    expect(available).to_have_text(yuan(after["available"]))
    assert (used.inner_text(), available.inner_text()) != figures_before
    assert used.inner_text() != figures_before[0]
    assert available.inner_text() != figures_before[1]
    screenshot(page, "m-dealer-home")
    assert not page.errors


def test_batch_redemption_of_two_cars_from_the_inventory(server, signed_in, fleet):
    picked = fleet["vins"][1:3]
    page = signed_in("dealer1")
    ready(page, f"{server.url}/m/dealer/inventory")
    expect(page.locator("li.car").first).to_be_visible()
    page.fill("#f-vin", fleet["prefix"].lower())
    page.select_option("#f-status", "in_stock")
    page.click("#filters button[type=submit]")
    for vin in picked:
        expect(page.locator(f"li.car[data-vin='{vin}']")).to_be_visible()
    # the module's first test redeems one of these cars, unless pytest-xdist ran it on the
    # other worker (its own server and fleet): count what the API says is still in stock
    in_stock = [
        v
        for v in fleet["vins"]
        if _ok(server.api("GET", f"/floorplan/vehicles/{v}", "dealer1"))["status"] == "in_stock"
    ]
    expect(page.locator("li.car")).to_have_count(len(in_stock))
    for vin in picked:
        page.check(f"#pick-{vin}")
    expect(page.locator("#selected")).to_contain_text(yuan(str(2 * Decimal(PRICE))))
    page.click("#redeem-selected")
    dialog = page.locator("#redeem-dialog")
    expect(dialog.locator("#redeem-cars li")).to_have_count(2)
    for vin in picked:
        expect(dialog.locator("#redeem-cars")).to_contain_text(vin)
    expect(dialog.locator("#redeem-total")).to_contain_text(yuan(str(2 * Decimal(PRICE))))
    screenshot(page, "m-dealer-inventory-confirm")
    page.click("#redeem-ok")
    result = page.locator(".redeem-result")
    expect(result.locator("li")).to_have_count(2)
    for vin in picked:
        expect(result.locator(f"li[data-vin='{vin}']")).to_contain_text("已赎车")
        expect(page.locator(f"li.car[data-vin='{vin}']")).to_contain_text("已赎车")
        got = _ok(server.api("GET", f"/floorplan/vehicles/{vin}", "dealer1"))
        assert got["status"] == "redeemed" and got["redemption_id"]
    assert (
        len(
            {
                _ok(server.api("GET", f"/floorplan/vehicles/{v}", "dealer1"))["redemption_id"]
                for v in picked
            }
        )
        == 1
    )
    expect(page.locator("#selection")).to_be_hidden()
    screenshot(page, "m-dealer-inventory-redeemed")
    assert not page.errors


def test_inventory_filters_by_aging_and_pages_on(server, signed_in):
    page = signed_in("dealer1")
    ready(page, f"{server.url}/m/dealer/inventory")
    screenshot(page, "m-dealer-inventory")
    page.select_option("#f-days", "90")
    page.select_option("#f-sort", "oldest")
    page.click("#filters button[type=submit]")
    cars = page.locator("li.car")
    expect(cars.first).to_be_visible()
    aged = _ok(server.api("GET", "/floorplan/vehicles?min_days=90&limit=200", "dealer1"))["items"]
    expect(cars).to_have_count(len(aged))
    days = [int(d) for d in cars.evaluate_all("(els) => els.map((e) => e.dataset.days)")]
    assert days == sorted(days, reverse=True) and min(days) >= 90
    # usable on a 360-px phone: nothing wider than the screen
    page.set_viewport_size({"width": 360, "height": 780})
    page.check(f"#pick-{aged[0]['vin']}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not page.errors


def test_another_dealers_car_is_not_found(server, signed_in, fleet):
    vin = fleet["vins"][3]
    page = signed_in("dealer2")
    ready(page, f"{server.url}/m/dealer/car?vin={vin}")
    expect(page.locator("#not-found")).to_be_visible()
    expect(page.locator("#not-found")).to_have_text("未找到该车辆，或该车辆不属于您。")
    expect(page.locator("#car")).to_be_hidden()
    expect(page.locator("#car-actions")).to_be_hidden()
    assert vin not in page.locator("main").inner_text()
    assert "Hongqi" not in page.locator("main").inner_text()
    screenshot(page, "m-dealer-car-not-found")
    assert not page.errors


def test_bills_with_detail_on_tap(server, signed_in, fleet):
    page = signed_in("dealer1")
    ready(page, f"{server.url}/m/dealer/bills")
    row = page.locator(f"#bills li[data-id='{fleet['bill']}']")
    expect(row).to_contain_text("已发车")
    expect(row).to_contain_text(yuan(str(Decimal(PRICE) * 4)))
    row.locator("button").click()
    detail = page.locator(".bill-detail")
    expect(detail).to_contain_text("6 个月")
    expect(detail).to_contain_text("保证金比例")
    screenshot(page, "m-dealer-bills")
    page.select_option("#f-status", "requested")
    expect(page.locator(f"#bills li[data-id='{fleet['bill']}']")).to_have_count(0)
    assert not page.errors


def _open_audit(server, yard: int) -> tuple[dict, bool]:
    """The yard's open audit, and whether this test opened it."""
    body = {"warehouse_id": yard, "sample_ratio": "0.1"}
    r = server.api("POST", "/floorplan/audits", "supervisor1", json=body)
    if r.status_code == 409 and r.json()["error"]["code"] == "audit_already_open":
        audit_id = r.json()["error"]["details"]["audit_id"]
        return _ok(server.api("GET", f"/floorplan/audits/{audit_id}", "supervisor1")), False
    return _ok(r, 201), True


def _check_and_close(server, audit: dict) -> None:
    path = f"/floorplan/audits/{audit['id']}/checks"
    for c in audit["checks"]:
        if c["result"] == "pending":
            car = _ok(server.api("GET", f"/floorplan/vehicles/{c['vin']}", "supervisor1"))
            seen = {"vin": c["vin"], "certificate_no": car["certificate_no"], "location": "A-01"}
            _ok(server.api("POST", path, "supervisor1", json=seen), 201)
    closed = _ok(server.api("POST", f"/floorplan/audits/{audit['id']}/close", "supervisor1"))
    assert closed["missing_count"] == 0


def test_a_live_alert_appears_without_reload_then_the_audit_result(server, signed_in, fleet):
    page = signed_in("dealer1")
    ready(page, f"{server.url}/m/dealer/notices")
    expect(page.locator("body.live-on")).to_be_attached()
    page.evaluate("window.__same_page = true")
    screenshot(page, "m-dealer-notices")
    # the yard's supervisor, auditing dealer1's yard, finds a car the bank does not finance (in
    # the audit the scheduler of `finedge serve` opened, if it did; else in one opened here)
    audit, opened_here = _open_audit(server, fleet["yard"])
    stray = "STR" + "".join(secrets.choice(VIN_CHARS) for _ in range(14))
    check = {"vin": stray, "location": "gate"}
    _ok(
        server.api("POST", f"/floorplan/audits/{audit['id']}/checks", "supervisor1", json=check),
        201,
    )
    alert = page.locator("li.alert[data-kind='audit_extra']", has_text=stray)
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("盘库发现账外车辆")
    expect(alert).to_contain_text("新")
    assert page.evaluate("window.__same_page === true")  # no reload
    screenshot(page, "m-dealer-notices-live")
    page.set_viewport_size({"width": 360, "height": 780})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    alert.locator("button.ack").click()
    expect(alert).to_have_count(0)
    ours = _ok(server.api("GET", f"/floorplan/alerts?vin={stray}", "dealer1"))["items"]
    assert [a["status"] for a in ours] == ["acknowledged"]
    page.click("#show-all")
    expect(page.locator("li.alert[data-kind='audit_extra']", has_text=stray)).to_contain_text(
        "已知悉"
    )

    if opened_here:  # the audit is this test's own: its cars checked, closed
        _check_and_close(server, audit)
    ready(page, f"{server.url}/m/dealer/audits")
    row = page.locator(f"#audits li[data-id='{audit['id']}']")
    expect(row).to_contain_text("已结束" if opened_here else "进行中")
    row.locator("button").click()
    detail = page.locator(".audit-detail")
    expect(detail.locator(f"li[data-vin='{stray}']")).to_contain_text("账外车辆")
    screenshot(page, "m-dealer-audits")
    assert not page.errors


def test_inventory_in_english(server, signed_in):
    page = signed_in("dealer1", lang="en")
    ready(page, f"{server.url}/m/dealer/inventory")
    expect(page.locator("h1")).to_have_text("Stock")
    expect(page.locator("label[for=f-vin]")).to_have_text("Search by VIN")
    expect(page.locator("li.car").first).to_contain_text("days in stock")
    page.select_option("#f-status", "in_stock")
    page.click("#filters button[type=submit]")
    expect(page.locator("li.car").first).to_contain_text("In stock")
    screenshot(page, "m-dealer-inventory-en")
    assert not page.errors
