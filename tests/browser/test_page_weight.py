"""The mini-program's weight budget (issue 14): the first load of every /m/ page of
web/pages.yaml that exists stays under 300 KB of JavaScript and CSS, gzipped. Each page is
opened in Chromium logged in as a user of its first role, with the browser's cache off so that
every file it uses comes over the network; the bodies of its script and style responses are
gzipped here (level 6, as a web server would) and summed. A budget, not a timing: asserted."""

from __future__ import annotations

import gzip

import pytest
from playwright.sync_api import expect

from tests.browser_support import login
from web import shell

BUDGET = 300 * 1024  # bytes of JavaScript and CSS, gzipped, on a page's first load
WEB = shell.HERE
USERS = {  # the demo user of each mini-program role
    "dealer": "dealer1",
    "client": "client1",
    "supervisor": "supervisor1",
    "oem": "oem1",
    "loader": "loader1",
    "rm": "rm1",
    "enterprise": "trader1",
}


def _built(path: str) -> bool:
    return (WEB / "templates" / "m" / f"{path}.html").is_file() and (
        WEB / "static" / "js" / "m" / f"{path}.js"
    ).is_file()


PAGES = [
    pytest.param(
        page,
        id=page.path,
        marks=pytest.mark.skipif(not _built(page.path), reason="not built in this tree"),
    )
    for page in sorted(shell.surfaces()["m"].pages.values(), key=lambda p: p.path)
]


def _weighed(response) -> str | None:
    """ "js" or "css" for a script or style response, else None."""
    kind = response.request.resource_type
    content_type = response.headers.get("content-type", "")
    if kind == "script" or "javascript" in content_type:
        return "js"
    if kind == "stylesheet" or "text/css" in content_type:
        return "css"
    return None


@pytest.mark.parametrize("page_spec", PAGES)
def test_mini_program_page_stays_under_300_kb_of_js_and_css_gzipped(
    server, browser_page, page_spec
):
    page = browser_page(phone=True)
    login(page, server.url, USERS[page_spec.roles[0]], "m", home=False)
    page.goto("about:blank")  # the session stays in the tab; the home page's loading ends
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    responses = []
    page.on("response", lambda response: responses.append(response))
    answer = page.goto(f"{server.url}/m/{page_spec.path}")
    assert answer is not None and answer.status == 200
    expect(page.locator("main[data-ready]")).to_have_count(1)
    page.wait_for_load_state("networkidle")  # what the page fetches after its first render too
    sizes: dict[str, int] = {}
    for response in responses:
        kind = _weighed(response)
        if kind is None or response.status != 200:
            continue
        body = response.body()
        sizes[response.url] = len(gzip.compress(body, compresslevel=6))
    total = sum(sizes.values())
    assert any(url.endswith(".js") or "/js/" in url for url in sizes), sizes  # it was weighed
    assert all("echarts" not in url for url in sizes), "ECharts is never loaded on /m/ pages"
    assert total < BUDGET, (
        f"/m/{page_spec.path}: {total / 1024:.1f} KB of JS and CSS gzipped: "
        + ", ".join(f"{url.rsplit('/', 1)[-1]} {n / 1024:.1f} KB" for url, n in sizes.items())
    )
    print(f"/m/{page_spec.path}: {total / 1024:.1f} KB of JS and CSS gzipped")
    assert not page.errors
