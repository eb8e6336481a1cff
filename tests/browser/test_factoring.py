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


def test_bank_staff_collect_a_recourse_claim_from_the_console(server, signed_in):
    """An overdue financed part CORE1 cannot pay, its recourse claim booked: rm1 opens the
    console's factoring page and collects the claim from the supplier's deposit in one click."""
    from datetime import date, timedelta

    from sqlalchemy import create_engine, text

    today = date.today()
    body = {
        "invoice_no": "BROWSER-RECOURSE-1",
        "amount": "30000000.00",  # more than CORE1's deposit: the job leaves it unpaid
        "issue_date": str(today),
        "maturity_date": str(today + timedelta(days=60)),
        "creditor_id": ok(server.api("GET", "/auth/me", "supplier1"))["org_id"],
    }
    p = ok(server.api("POST", "/factoring/payables", "core1", json=body), 201)
    limit = {"org_id": body["creditor_id"], "counterparty_limit": "40000000.00"}
    path = f"/factoring/agreements/{p['agreement_id']}/suppliers"
    ok(server.api("POST", path, "rm1", json=limit), 201)
    financed = ok(server.api("POST", f"/factoring/payables/{p['id']}/finance", "supplier1"), 201)
    assert financed["status"] == "approved", financed
    engine = create_engine(server.env["DATABASE_URL"])
    with engine.begin() as c:  # its maturity moved into the past
        c.execute(
            text("UPDATE fct_payables SET maturity_date = :d WHERE id = :id"),
            {"d": today - timedelta(days=3), "id": p["id"]},
        )
    engine.dispose()
    server.finedge("jobs", "run", "factoring.maturity")
    claim = ok(server.api("POST", f"/factoring/payables/{p['id']}/recourse", "rm1"), 201)
    page = signed_in("rm1", surface="console")
    page.goto(f"{server.url}/console/industrial/factoring")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    page.locator(f"#recourse button[data-claim='{claim['id']}']").click()
    expect(page.locator("#fe-toasts")).to_contain_text("已回收")
    got = ok(server.api("GET", f"/factoring/recourse-claims/{claim['id']}", "rm1"))
    assert got["status"] == "collected" and got["outstanding"] == "0.00"
    assert not page.errors
