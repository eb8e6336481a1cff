"""The client 360 on screens, on the seeded demo: the marketing team's client list with its
filters and a client's 360 (holdings, events, consent withdrawn and granted back); an RM's
clients and one client's 360 on the phone."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.floorplan_world import ok
from tests.browser_support import screenshot


def test_team_lists_filters_and_opens_a_clients_360(server, signed_in):
    clients = ok(server.api("GET", "/marketing/clients?tier=wealth&limit=5", "mkt1"))["items"]
    assert clients
    first = clients[0]
    page = signed_in("mkt1", surface="console")
    page.goto(f"{server.url}/console/marketing/clients")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    page.locator("#f-tier").select_option("wealth")
    page.locator("#filters button[type=submit]").click()
    link = page.locator("#clients a").filter(has_text=first["client_no"])
    expect(link).to_be_visible()
    link.click()
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#client-title")).to_contain_text(first["client_no"])
    expect(page.locator("#holdings tbody tr").first).to_be_visible()
    granted = {c["channel"]: c["granted"] for c in first_consents(server, first["id"])}
    page.locator("#consents tbody tr").first.locator("button").click()
    expect(page.locator("#fe-toasts")).to_contain_text("已保存")
    after = {c["channel"]: c["granted"] for c in first_consents(server, first["id"])}
    assert after["sms"] is (not granted["sms"])
    screenshot(page, "console-marketing-client")
    assert not page.errors


def first_consents(server, client_id):
    return ok(server.api("GET", f"/marketing/clients/{client_id}", "mkt1"))["consents"]


def test_rm_sees_their_clients_on_the_phone(server, signed_in):
    mine = ok(server.api("GET", "/marketing/clients?limit=3", "rm1"))["items"]
    assert mine
    page = signed_in("rm1")
    page.goto(f"{server.url}/m/rm/client")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#clients li a").first).to_be_visible()
    page.locator("#clients li a").filter(has_text=mine[0]["name"]).first.click()
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#consents li")).to_have_count(3)
    screenshot(page, "m-rm-client")
    assert not page.errors
