"""The segments page for the marketing team on the demo server: the builder's definition is
previewed as it changes (size, overlap), saved, frozen and exported with its purpose; an RM
is not offered the page."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.browser_support import screenshot


def test_marketing_builds_previews_saves_freezes_and_exports(server, signed_in):
    page = signed_in("mkt1", surface="console")
    page.goto(f"{server.url}/console/marketing/segments")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#preview")).to_contain_text("位客户")
    # a condition added in the builder lands in the definition
    page.locator("#c-what").select_option("field:digital_active")
    page.locator("#c-op").select_option("==")
    page.locator("#c-value").fill("true")
    page.locator("#add-btn").click()
    expect(page.locator("#definition")).to_have_value(
        '{\n "all": [\n  {\n   "field": "tier",\n   "op": "in",\n   "value": [\n'
        '    "affluent",\n    "wealth"\n   ]\n  },\n  {\n   "field": "digital_active",\n'
        '   "op": "==",\n   "value": true\n  }\n ]\n}'
    )
    name = f"seg-{uuid.uuid4().hex[:8]}"
    page.locator("#s-name").fill(name)
    page.locator("#save-btn").click()
    row = page.locator("#segments tr").filter(has_text=name)
    expect(row).to_be_visible()
    row.get_by_role("button", name="固化名单").click()
    expect(page.locator("#fe-toasts")).to_contain_text("已固化")
    expect(row).to_contain_text("已固化")
    page.locator("#e-purpose").fill("browser test export")
    row.get_by_role("button", name="导出").click()
    expect(page.locator("#fe-toasts")).to_contain_text("已导出")
    screenshot(page, "console-marketing-segments")
    assert not page.errors


def test_an_rm_is_not_offered_segments(server, signed_in):
    page = signed_in("rm1", surface="console")
    page.goto(f"{server.url}/console/marketing/segments")
    # the page says it is not for this role and draws nothing (start() stops before render)
    expect(page.locator("#main .notice")).to_be_visible()
    expect(page.locator("#segments table")).to_have_count(0)
