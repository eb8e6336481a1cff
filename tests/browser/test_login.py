"""Logging in on both surfaces, in both languages; the token never reaches a URL."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.browser_support import login, screenshot


def test_wrong_password_is_refused_on_the_page(server, browser_page):
    page = browser_page(phone=True)
    page.goto(f"{server.url}/m/login")
    expect(page.locator("h1")).to_have_text("登录")
    page.fill("#username", "dealer1")
    page.fill("#password", "not-the-password")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("用户名或密码错误")
    assert "/m/login" in page.url
    screenshot(page, "m-login")


def test_english_switch_and_login_keep_the_token_out_of_urls(server, browser_page):
    page = browser_page(phone=True)
    seen = []
    page.on("request", lambda request: seen.append(request.url))
    page.goto(f"{server.url}/m/login")
    page.click("#fe-lang")
    expect(page.locator("h1")).to_have_text("Log in")
    login(page, server.url, "dealer1")
    token = page.evaluate("JSON.parse(sessionStorage.getItem('finedge.session')).token")
    assert token and all(token not in url for url in seen)
    assert not page.errors


def test_dealer_home_shows_the_dealers_own_figures(server, signed_in):
    page = signed_in("dealer1")
    assert page.url.endswith("/m/dealer/home")
    expect(page.locator("#figures .stat")).to_have_count(6)
    expect(page.locator("#figures")).to_contain_text("¥")
    screenshot(page, "m-dealer-home")
    assert not page.errors


def test_a_wechat_code_in_the_fragment_logs_in_and_leaves_the_address(server, browser_page):
    # what a mini-program's web-view opens after wx.login(): /m/login#wxcode=CODE
    page = browser_page(phone=True)
    seen = []
    page.on("request", lambda request: seen.append(request.url))
    code = "fake:frag" + uuid.uuid4().hex[:20]
    page.goto(f"{server.url}/m/login#wxcode={code}")
    page.wait_for_url(re.compile(r"/m/client/branches$"))
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    assert "wxcode" not in page.url
    assert all(code not in url and "wxcode" not in url for url in seen)  # never sent in a URL
    user = page.evaluate("JSON.parse(sessionStorage.getItem('finedge.session')).user")
    assert user["role"] == "client"
    assert not page.errors
