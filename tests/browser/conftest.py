"""Browser tests: real headless Chromium (Debian's, through Playwright) against a live
``finedge serve`` on a seeded demo database. One server per test run (SQLite); tests that change
data use objects no other test touches. A test that also runs on PostgreSQL takes ``pg_server``.
Pages are waited on by conditions (Playwright's auto-waiting ``expect``), never by sleeps."""

from __future__ import annotations

import pytest

from tests.browser_support import (
    DESKTOP,
    PHONE,
    chromium_reason,
    launch_chromium,
    live_server,
    login,
)

pytestmark = pytest.mark.slow

# Every test's new WeChat client (the demo's wx-login button) comes from 127.0.0.1: the limit
# of new accounts per address and hour (5 by default) would refuse the sixth test's client.
BROWSER_ENV = {"FINEDGE_WX_SIGNUPS_PER_ADDRESS": "1000"}


@pytest.fixture(scope="session")
def server():
    reason = chromium_reason()
    if reason:
        pytest.skip(reason)
    with live_server(env=BROWSER_ENV) as live:
        yield live


@pytest.fixture(scope="session")
def pg_server(pg_database_for_server):
    with live_server(database_url=pg_database_for_server, seed_args=(), env=BROWSER_ENV) as live:
        yield live


@pytest.fixture(scope="session")
def pg_database_for_server():
    import uuid

    from tests.conftest import _pg_admin, _pg_reason, drop_pg_database, pg_url

    reason = _pg_reason() or chromium_reason()
    if reason:
        pytest.skip(reason)
    name = f"finedge_browser_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="session")
def chromium():
    reason = chromium_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    """``browser_page(phone=True, lang="zh")``: a new page in its own context (own session
    storage and cookies); every context is closed after the test. Console errors are collected
    on ``page.errors``."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    contexts = []

    def make(*, phone: bool = False, lang: str = "zh"):
        context = chromium.new_context(
            viewport=PHONE if phone else DESKTOP,
            device_scale_factor=1,
            is_mobile=phone,
            has_touch=phone,
            locale="zh-CN" if lang == "zh" else "en-GB",
        )
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def signed_in(server, browser_page):
    """``signed_in("dealer1", surface="m", phone=True)``: a page logged in through the form."""

    def make(username: str, surface: str = "m", phone: bool | None = None, lang: str = "zh"):
        page = browser_page(phone=surface == "m" if phone is None else phone, lang=lang)
        if lang == "en":
            page.context.add_cookies([{"name": "finedge_lang", "value": "en", "url": server.url}])
        login(page, server.url, username, surface)
        return page

    return make
