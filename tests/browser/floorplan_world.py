"""Set-up through the API for the floor-plan browser tests (tests/browser/test_floorplan_console.py,
test_supervisor.py, test_oem.py): each test makes its own dealer of OEM1 (a yard watched by
SUP1, a line approved by maker-checker, cash in its deposit) so that what it changes touches no
object of another test."""

from __future__ import annotations

import itertools
import os
from decimal import Decimal

from tests.browser_support import LiveServer

_numbers = itertools.count(1)


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    return response.json()


def money_text(value: str) -> str:
    """Money as the pages show it (finedge.js money()): ¥1,234.50."""
    whole, _, frac = str(value).partition(".")
    return f"¥{int(whole):,}.{(frac + '00')[:2]}"


def new_vin(prefix: str = "BRW") -> str:
    return f"{prefix}{os.getpid() % 10000:04d}{next(_numbers):010d}"


def org_id(server: LiveServer, code: str) -> int:
    orgs = ok(server.api("GET", "/orgs", "admin", params={"limit": 200}))["items"]
    return next(o["id"] for o in orgs if o["code"] == code)


def new_dealer(server: LiveServer, code: str, *, line: bool = True) -> int:
    """A dealer org under OEM1 with a yard watched by SUP1 and, with ``line``, an approved line
    (5,000,000) and 1,000,000 in its deposit."""
    dealer = ok(
        server.api(
            "POST",
            "/orgs",
            "admin",
            json={
                "code": code,
                "name": f"{code} Motors",
                "kind": "dealer",
                "parent_id": org_id(server, "OEM1"),
            },
        ),
        201,
    )["id"]
    ok(
        server.api(
            "POST",
            "/floorplan/warehouses",
            "admin",
            json={
                "code": f"WH-{code}",
                "name": f"{code} yard",
                "dealer_id": dealer,
                "supervisor_id": org_id(server, "SUP1"),
            },
        ),
        201,
    )
    if line:
        request = ok(
            server.api(
                "POST",
                "/floorplan/credit-line-requests",
                "rm1",
                json={"dealer_id": dealer, "limit": "5000000.00"},
            ),
            201,
        )
        ok(
            server.api(
                "POST",
                f"/floorplan/credit-line-requests/{request['id']}/approve",
                "approver1",
                json={},
            )
        )
        ok(
            server.api(
                "POST",
                f"/floorplan/dealers/{dealer}/deposits",
                "teller1",
                json={"amount": "1000000.00"},
            ),
            201,
        )
    return dealer


def yard_of(server: LiveServer, dealer: int) -> int:
    yards = ok(server.api("GET", "/floorplan/warehouses", "admin", params={"limit": 200}))["items"]
    return next(w["id"] for w in yards if w["dealer_id"] == dealer)


def issued_bill(server: LiveServer, dealer: int, amount: str) -> dict:
    """A bill filed by the dealer's RM and issued by an approver (not yet shipped)."""
    bill = ok(
        server.api(
            "POST",
            "/floorplan/bills",
            "rm1",
            json={"amount": amount, "term_months": 6, "dealer_id": dealer},
        ),
        201,
    )
    return ok(server.api("POST", f"/floorplan/bills/{bill['id']}/issue", "approver1", json={}))


def shipped_cars(server: LiveServer, dealer: int, prices: list[str]) -> list[dict]:
    """Cars the OEM ships to the dealer's yard for a new bill: in transit."""
    total = sum(Decimal(p) for p in prices)
    bill = issued_bill(server, dealer, str(total))
    cars = []
    for price in prices:
        vin = new_vin()
        cars.append(
            {
                "vin": vin,
                "model": "Demo Sedan",
                "price": price,
                "certificate_no": f"CERT{vin[-10:]}",
            }
        )
    ok(
        server.api(
            "POST",
            "/floorplan/shipments",
            "oem1",
            json={"bill_id": bill["id"], "warehouse_id": yard_of(server, dealer), "vehicles": cars},
        ),
        201,
    )
    return cars


def take_in(server: LiveServer, car: dict) -> None:
    ok(
        server.api(
            "POST",
            f"/floorplan/vehicles/{car['vin']}/intake",
            "supervisor1",
            json={"certificate_no": car["certificate_no"], "location": "row T"},
        )
    )


def open_page(server: LiveServer, browser_page, username: str, url_path: str, *, lang: str = "zh"):
    """Log ``username`` in through the login form of the page's surface, then open ``url_path``
    (e.g. "/console/floorplan/dealers") and wait for its first render. (The role's home page
    may belong to another area: only the session the login left is used.)"""
    phone = url_path.startswith("/m/")
    page = browser_page(phone=phone, lang=lang)
    if lang == "en":
        page.context.add_cookies([{"name": "finedge_lang", "value": "en", "url": server.url}])
    surface = "m" if phone else "console"
    page.goto(f"{server.url}/{surface}/login")
    page.fill("#username", username)
    page.fill("#password", f"{username}-demo")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{server.url}{url_path}")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    return page


def assert_fits_a_small_phone(page) -> None:
    """At 360 px wide the page scrolls only up and down (nothing sticks out sideways)."""
    page.set_viewport_size({"width": 360, "height": 740})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
