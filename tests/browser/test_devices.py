"""The console's devices pages: the registry with provisioning (credentials shown once, gone
after the dialog and after a reload, never in storage or a URL), a device's twin (desired
against reported, the difference highlighted, desired changed in the page), and fleet
templates and rollouts (start, advance, roll back). Each test uses devices it registers."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.browser_support import screenshot


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def _register(server, device_id: str, kind: str = "lock", model: str = "") -> dict:
    body = {"branch_id": "BR001", "device_type": kind, "device_id": device_id, "model": model}
    r = server.api("POST", "/devices", "admin", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_provisioning_shows_the_credentials_once(server, signed_in):
    page = signed_in("admin", surface="console")
    seen = []
    page.on("request", lambda request: seen.append(request.url))
    page.goto(f"{server.url}/console/devices/registry")
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    expect(page.locator("#devices tbody tr").first).to_be_visible()
    screenshot(page, "console-devices-registry")
    device_id = _unique("T-LCK")
    page.select_option("#new-branch", "BR001")
    page.select_option("#new-kind", "lock")
    page.fill("#new-id", device_id)
    page.fill("#new-model", "Test lock")
    page.click("#register-form button[type=submit]")
    dialog = page.locator("#once-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[role=alert]")).to_contain_text("仅显示这一次")
    password = dialog.locator('code[data-key="mqtt_password"]').inner_text()
    secret = dialog.locator('code[data-key="hmac_secret"]').inner_text()
    assert len(password) >= 16 and len(secret) >= 16
    screenshot(page, "console-devices-credentials")
    # the registry lists the new device behind the dialog
    expect(page.locator("#devices")).to_contain_text(device_id)
    page.click("#once-close")
    expect(page.locator("#once-dialog")).to_have_count(0)
    assert password not in page.content() and secret not in page.content()
    storage = page.evaluate(
        "JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])"
    )
    assert password not in storage and secret not in storage
    assert all(password not in url and secret not in url for url in seen)
    page.reload()
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    expect(page.locator("#devices")).to_contain_text(device_id)
    expect(page.locator("#once-dialog")).to_have_count(0)
    assert password not in page.content()
    # new credentials for it: again once, after a confirmation
    row = page.locator("#devices tr", has_text=device_id)
    row.get_by_role("button").click()
    page.click("#fe-confirm-ok")
    expect(page.locator("#once-dialog")).to_be_visible()
    rotated = page.locator('#once-dialog code[data-key="mqtt_password"]').inner_text()
    assert rotated and rotated != password
    page.keyboard.press("Escape")
    expect(page.locator("#once-dialog")).to_have_count(0)
    # filters: a kind with this device, then a state without it
    page.select_option("#f-kind", "lock")
    expect(page.locator("#devices")).to_contain_text(device_id)
    page.select_option("#f-state", "retired")
    expect(page.locator("#devices")).not_to_contain_text(device_id)
    assert not page.errors


def test_device_twin_highlights_desired_against_reported(server, signed_in):
    device_id = _unique("T-DSP")
    _register(server, device_id, kind="display", model="Test display")
    page = signed_in("admin", surface="console", lang="en")
    page.goto(f"{server.url}/console/devices/device?id={device_id}")
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    expect(page.locator("#summary")).to_contain_text(device_id)
    page.fill("#d-key", "brightness")
    page.fill("#d-value", "70")
    page.click("#desired-form button[type=submit]")
    row = page.locator('#twin tr[data-key="brightness"]')
    expect(row).to_have_class(re.compile("twin-diff"))
    expect(row).to_contain_text("70")
    expect(row).to_contain_text("Pending")
    expect(page.locator("#twin-sync")).to_contain_text("Out of sync")
    twin = server.api("GET", f"/devices/{device_id}", "admin").json()["twin"]
    assert twin["desired"]["brightness"] == 70
    page.select_option("#s-status", "active")
    page.click("#status-form button[type=submit]")
    expect(page.locator("#summary")).to_contain_text("Active")
    assert server.api("GET", f"/devices/{device_id}", "admin").json()["status"] == "active"
    expect(page.locator("#messages")).to_be_visible()
    expect(page.locator("#commands")).to_be_visible()
    screenshot(page, "console-devices-device-en")
    # a device that does not exist: not found, said in the page
    page.goto(f"{server.url}/console/devices/device?id=NO-SUCH-DEVICE")
    expect(page.locator("main .notice")).to_contain_text("Not found")
    assert not page.errors


def test_rollout_is_started_advanced_and_rolled_back_in_the_page(server, signed_in):
    model = _unique("T-SC")
    for n in range(2):
        _register(server, f"{model}-{n}", kind="counter", model=model)
    page = signed_in("admin", surface="console")
    page.goto(f"{server.url}/console/devices/rollouts")
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    page.fill("#tpl-model", model)
    page.fill("#tpl-name", "hall")
    page.fill("#tpl-params", '{"idle_timeout_s": 45}')
    page.click("#template-form button[type=submit]")
    expect(page.locator("#templates")).to_contain_text(model)
    choice = page.locator("#ro-template option", has_text=model).first
    page.select_option("#ro-template", choice.get_attribute("value"))
    page.select_option("#ro-branch", "BR001")
    page.fill("#ro-pct", "50")
    page.click("#rollout-form button[type=submit]")
    expect(page.locator("#rollout")).to_be_visible()
    expect(page.locator("#rollout-body")).to_contain_text("50%")
    expect(page.locator("#rollout-body tbody tr")).to_have_count(1)
    page.fill("#adv-pct", "100")
    page.click("#advance")
    expect(page.locator("#rollout-body")).to_contain_text("已完成")
    expect(page.locator("#rollout-body tbody tr")).to_have_count(2)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "console-devices-rollouts")
    page.click("#rollback")
    page.click("#fe-confirm-ok")
    expect(page.locator("#rollout-body")).to_contain_text("已回滚")
    expect(page.locator("#rollouts")).to_contain_text(model)
    assert not page.errors
