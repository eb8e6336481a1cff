"""The cash loader's mini-program pages on a phone: loader1 sees a cash task made for them by a
teller with its steps, and its approval arrives without reload; vein consent given and
withdrawn (and left as it was found: other tests may enrol loader1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser_support import screenshot


def shot(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar at the top of the picture
    screenshot(page, name)
    # usable on a 360-px-wide phone: nothing wider than the screen
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, name
    page.set_viewport_size({"width": 390, "height": 844})


def user_id(server, username: str) -> int:
    me = server.api("GET", "/auth/me", username)
    me.raise_for_status()
    return me.json()["id"]


def make_task(server) -> dict:
    start = datetime.now(UTC)
    body = {
        "loaders": [user_id(server, "loader1"), user_id(server, "loader2")],
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=2)).isoformat(),
        "amounts": {"100.00": "20000.00"},
    }
    for device in ("BR001-ATM-02", "BR001-ATM-01"):  # a machine no other test's task holds
        r = server.api("POST", "/cash-tasks", "teller1", json={**body, "device_id": device})
        if r.status_code == 201:
            return r.json()
        assert r.status_code == 409, r.text
    raise AssertionError("both demo cash machines have an open task")


def test_loader_sees_the_task_and_its_steps_live(server, signed_in):
    task = make_task(server)
    try:
        page = signed_in("loader1", phone=True)
        assert page.url.endswith("/m/loader/tasks")
        expect(page.locator("main")).to_have_attribute("data-ready", "1")
        card = page.locator(f'.task[data-task="{task["id"]}"]')
        expect(card).to_have_attribute("data-status", "planned")
        expect(card).to_contain_text(task["device_id"])
        expect(card).to_contain_text("¥20,000.00")
        expect(card.locator("li.step")).to_have_count(7)
        expect(card.locator('li.step[data-step="created"]')).to_have_class("step done")
        expect(card.locator('li.step[data-step="approved"]')).to_have_class("step current")
        expect(page.locator("body")).to_have_class("surface-m live-on")

        approved = server.api("POST", f"/cash-tasks/{task['id']}/approve", "teller2")
        assert approved.status_code == 200, approved.text
        expect(card).to_have_attribute("data-status", "approved")
        expect(card.locator('li.step[data-step="approved"]')).to_have_class("step done")
        expect(card.locator('li.step[data-step="verified"]')).to_have_class("step current")
        expect(card).to_contain_text("等待两名加钞员验证指静脉")
        shot(page, "m-loader-tasks")
        assert not page.errors
    finally:
        server.api("POST", f"/cash-tasks/{task['id']}/cancel", "teller1", json={"reason": "test"})


def test_loader_gives_and_withdraws_vein_consent(server, signed_in):
    page = signed_in("loader1", phone=True)
    page.goto(f"{server.url}/m/loader/consent")
    main = page.locator("main")
    expect(main).to_have_attribute("data-consent", re.compile("^(none|granted|withdrawn)$"))
    before = main.get_attribute("data-consent")
    expect(main).to_contain_text("只保存在锁内")

    def give():
        page.click("#give")
        expect(main).to_have_attribute("data-consent", "granted")
        expect(page.locator("#consent-status")).to_contain_text("已授权")

    def withdraw():
        page.click("#withdraw")
        expect(page.locator("#fe-confirm")).to_be_visible()
        page.click("#fe-confirm-ok")
        expect(main).to_have_attribute("data-consent", "withdrawn")

    if before == "granted":  # leave it as it was found
        withdraw()
        give()
    else:
        give()
        shot(page, "m-loader-consent")
        withdraw()
    if before == "granted":
        shot(page, "m-loader-consent")
    assert not page.errors
