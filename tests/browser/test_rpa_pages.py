"""The robot factory's console pages in Chromium: ops1 opens the dashboard and sees its
figures and the three echarts charts drawn over operations' rows only; the run page shows a
run's items and log; the review queue shows operations' review with the maker's form.

The server is this module's own (a seeded SQLite copy whose factory holds only this test's
rows, served in-process by werkzeug), so that the figures on the page are known exactly."""

from __future__ import annotations

import shutil
import threading
from types import SimpleNamespace

import pytest

from backend.platform.clock import utcnow
from tests.browser_support import login, screenshot
from tests.rpa_monitor_support import build_app, two_departments


@pytest.fixture(scope="module")
def rpa_site(sqlite_template, tmp_path_factory, chromium):
    from werkzeug.serving import make_server

    path = tmp_path_factory.mktemp("rpa-site") / "finedge.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    runtime = build_app(url)
    ids = two_departments(runtime.session_factory, utcnow())
    server = make_server("127.0.0.1", 0, runtime.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", ids=ids)
    finally:
        server.shutdown()
        thread.join()
        runtime.stop()


def test_ops1_sees_the_dashboard_charts_the_run_and_the_reviews(rpa_site, browser_page):
    from playwright.sync_api import expect

    page = browser_page(lang="en")
    page.context.add_cookies([{"name": "finedge_lang", "value": "en", "url": rpa_site.url}])
    login(page, rpa_site.url, "ops1", "console")
    expect(page).to_have_url(f"{rpa_site.url}/console/rpa/dashboard")  # the operator's home
    expect(page.locator("#main[data-ready='1']")).to_have_count(1)
    for chart in ("#chart-hours", "#chart-success", "#chart-reasons"):
        expect(page.locator(f"{chart}[data-drawn='1'] canvas")).to_have_count(1)
    expect(page.locator("[data-figure=runs] .value")).to_have_text("1")
    expect(page.locator("[data-figure=time_saved] .value")).to_have_text("0.17 h")
    expect(page.locator("[data-figure=reviews] .value")).to_have_text("1 / 0")
    expect(page.locator("#reasons")).to_contain_text("recon_lines")
    expect(page.locator("#reasons")).not_to_contain_text("fin_close")  # finance's own
    expect(page.locator("#alarms")).to_contain_text("No alarms")
    screenshot(page, "console-rpa-dashboard")  # var/screenshots; copied to docs/screens by hand

    page.goto(f"{rpa_site.url}/console/rpa/run?run={rpa_site.ids['r_ops']}")
    expect(page.locator("#main[data-ready='1']")).to_have_count(1)
    expect(page.locator("#run-title")).to_contain_text("recon_lines")
    expect(page.locator("#items tbody tr")).to_have_count(2)
    expect(page.locator("#logs")).to_contain_text("produced 2")
    page.locator(f"#items a[data-item='{rpa_site.ids['done']}']").click()
    expect(page.locator("#item-detail")).to_contain_text("line ok")

    page.goto(f"{rpa_site.url}/console/rpa/robots")
    expect(page.locator("#main[data-ready='1']")).to_have_count(1)
    rows = page.locator("#robots tbody tr")
    expect(rows).to_have_count(1)  # operations' robot only
    expect(rows.first).to_contain_text("recon_lines")
    expect(rows.first).to_contain_text("Partial")  # its last run, linked
    expect(rows.first.get_by_role("button", name="Run now")).to_be_visible()
    expect(rows.first.get_by_role("button", name="Roll back")).to_have_count(0)  # admins only

    page.goto(f"{rpa_site.url}/console/rpa/reviews")
    expect(page.locator("#main[data-ready='1']")).to_have_count(1)
    cards = page.locator("#reviews article[data-review]")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-review", str(rpa_site.ids["review"]))
    expect(cards.first.locator("textarea[data-field=payload]")).to_have_value('{\n  "n": 1\n}')
    assert page.errors == []


def test_maker_checker_from_the_review_queue(rpa_site, browser_page):
    """ops1 proposes a retry with a corrected payload; ops1 cannot check it; ops2 approves and
    the review leaves the queue, its retry item queued in the same run."""
    from playwright.sync_api import expect

    review = rpa_site.ids["review"]
    maker = browser_page(lang="en")
    maker.context.add_cookies([{"name": "finedge_lang", "value": "en", "url": rpa_site.url}])
    login(maker, rpa_site.url, "ops1", "console")
    maker.goto(f"{rpa_site.url}/console/rpa/reviews")
    card = maker.locator(f"#reviews article[data-review='{review}']")
    card.locator("textarea[data-field=payload]").fill('{"n": 2}')
    card.locator("button[data-action=retry]").click()
    expect(card).to_have_attribute("data-status", "proposed")
    expect(card.locator("pre")).to_contain_text('"n": 2')
    card.locator("button[data-action=approve]").click()  # the maker as checker: refused
    expect(maker.locator(".toast.error")).to_be_visible()
    expect(card).to_have_attribute("data-status", "proposed")

    checker = browser_page(lang="en")
    login(checker, rpa_site.url, "ops2", "console")
    checker.goto(f"{rpa_site.url}/console/rpa/reviews")
    theirs = checker.locator(f"#reviews article[data-review='{review}']")
    theirs.locator("button[data-action=approve]").click()
    expect(checker.locator("#reviews article[data-review]")).to_have_count(0)

    checker.goto(f"{rpa_site.url}/console/rpa/run?run={rpa_site.ids['r_ops']}")
    expect(checker.locator("#items tbody tr")).to_have_count(3)  # the retry joined the run
    assert maker.errors == [] and checker.errors == []
