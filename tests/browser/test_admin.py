"""The console's admin pages: an admin creates a user in the page and that user logs in in
another browser context; a disabled user cannot log in; the audit search finds the creation;
a job run now appears in its history; orgs and branches (hours, services, counters) edited in
the page. Each test makes its own users, orgs and branches (unique names)."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.browser_support import screenshot


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _ready(page):
    expect(page.locator("main")).to_have_attribute("data-ready", "1")


def _admin_page(signed_in, server, path: str, lang: str = "zh"):
    """The admin signed in on /console/<path>, its first render done."""
    page = signed_in("admin", surface="console", lang=lang)
    page.goto(f"{server.url}/console/{path}")
    _ready(page)
    return page


def _log_in(page, server, username: str, password: str):
    """Log in through the console's form; the session's user (their home page may belong to
    another helper's part of issue 14 and be missing here, so it is not waited for)."""
    page.goto(f"{server.url}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page.evaluate("JSON.parse(sessionStorage.getItem('finedge.session')).user")


def _create_user_in_page(page, server, username: str, role: str, org_code: str, password=None):
    page.goto(f"{server.url}/console/admin/users")
    _ready(page)
    page.fill("#u-username", username)
    page.select_option("#u-role", role)
    page.select_option(
        "#u-org", label=page.locator("#u-org option", has_text=f"{org_code} ·").first.inner_text()
    )
    if password:
        page.fill("#u-password", password)
    page.click("#user-form button[type=submit]")


def test_admin_creates_a_user_who_then_logs_in(server, signed_in, browser_page):
    admin = signed_in("admin", surface="console")
    # the admin's home is this page
    assert admin.url.endswith("/console/admin/users")
    username = _name("teller_")
    _create_user_in_page(admin, server, username, "teller", "BR001")  # password generated
    dialog = admin.locator("#once-dialog")
    expect(dialog).to_be_visible()
    password = dialog.locator('code[data-key="password"]').inner_text()
    assert len(password) == 16
    screenshot(admin, "console-admin-password-once")
    admin.click("#once-close")
    expect(admin.locator("#once-dialog")).to_have_count(0)
    admin.fill("#f-username", username)
    admin.click("#filters button[type=submit]")
    row = admin.locator("#users tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(username)
    expect(row).to_contain_text("柜员")
    screenshot(admin, "console-admin-users")
    assert not admin.errors

    # the new teller logs in (another context): login succeeds, they leave /login with a
    # session for their own user; their home (/console/hall/board) belongs to another
    # helper's branch of issue 14, so it may be a 404 here: the session is the proof
    teller = browser_page()
    user = _log_in(teller, server, username, password)
    assert teller.url.endswith("/console/hall/board")
    assert (user["username"], user["role"]) == (username, "teller")


def test_a_disabled_user_cannot_log_in(server, signed_in, browser_page):
    admin = signed_in("admin", surface="console", lang="en")
    username = _name("rm_")
    _create_user_in_page(admin, server, username, "rm", "BANK", password="first-pass-123")
    expect(admin.locator("#fe-toasts")).to_contain_text(username)
    admin.fill("#f-username", username)
    admin.click("#filters button[type=submit]")
    row = admin.locator("#users tbody tr", has_text=username)
    expect(row).to_contain_text("Active")
    row.get_by_role("button", name="Disable").click()
    admin.click("#fe-confirm-ok")
    expect(row).to_contain_text("Disabled")
    screenshot(admin, "console-admin-users-en")

    other = browser_page()
    other.goto(f"{server.url}/console/login")
    other.fill("#username", username)
    other.fill("#password", "first-pass-123")
    other.click("#login-form button[type=submit]")
    expect(other.locator("#login-error")).to_be_visible()
    assert "/console/login" in other.url
    assert other.evaluate("sessionStorage.getItem('finedge.session')") is None

    # enabled again, the user logs in
    row.get_by_role("button", name="Enable").click()
    expect(row).to_contain_text("Active")
    assert _log_in(other, server, username, "first-pass-123")["username"] == username
    assert not admin.errors


def test_audit_search_finds_the_user_creation(server, signed_in):
    username = _name("audited_")
    org = server.api("GET", "/auth/me", "admin").json()["org_id"]
    created = server.api(
        "POST",
        "/admin/users",
        "admin",
        json={"username": username, "password": "long-enough-1", "role": "rm", "org_id": org},
    )
    assert created.status_code == 201, created.text
    page = _admin_page(signed_in, server, "admin/audit")
    page.fill("#f-actor", "admin")
    page.fill("#f-action", "user.created")
    page.fill("#f-type", "user")
    page.fill("#f-object", str(created.json()["id"]))
    page.click("#filters button[type=submit]")
    rows = page.locator("#records tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("user.created")
    rows.locator("summary").click()
    expect(rows).to_contain_text(username)
    screenshot(page, "console-admin-audit")
    # a time range before the creation finds nothing
    page.fill("#f-until", "2001-01-01T00:00")
    page.click("#filters button[type=submit]")
    expect(page.locator("#records")).to_contain_text("没有符合条件的记录")
    assert not page.errors


def test_a_job_run_now_appears_in_its_history(server, signed_in):
    page = _admin_page(signed_in, server, "admin/jobs")
    job = "purge_idempotency_keys"
    actions = page.locator(f'[data-job="{job}"]')
    expect(page.locator("#jobs")).to_contain_text("每 3600 秒")
    before = server.api("GET", f"/admin/jobs?name={job}", "admin").json()["items"]
    actions.get_by_role("button", name="立即执行").click()
    page.click("#fe-confirm-ok")
    expect(page.locator("#history")).to_be_visible()
    after = server.api("GET", f"/admin/jobs?name={job}", "admin").json()["items"]
    assert len(after) == len(before) + 1
    newest = after[0]
    expect(page.locator("#runs tbody tr").first).to_contain_text(str(newest["id"]))
    expect(page.locator("#runs tbody tr").first).to_contain_text("手动")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "console-admin-jobs")
    assert not page.errors


def test_orgs_are_created_and_edited_in_the_page(server, signed_in):
    page = _admin_page(signed_in, server, "admin/orgs")
    code = _name("ENT").upper()
    page.fill("#o-code", code)
    page.fill("#o-name", "Test enterprise")
    page.select_option("#o-kind", "enterprise")
    page.click("#org-form button[type=submit]")
    page.fill("#f-text", code)
    row = page.locator("#orgs tbody tr")
    expect(row).to_have_count(1)
    row.get_by_role("button").click()
    page.fill("#e-name", "Renamed enterprise")
    page.click("dialog[open] button[type=submit]")
    expect(row).to_contain_text("Renamed enterprise")
    screenshot(page, "console-admin-orgs")
    assert not page.errors


def test_a_branch_its_hours_services_and_counters_in_the_page(server, signed_in):
    page = _admin_page(signed_in, server, "admin/branches")
    code = _name("T").upper()[:9]
    page.fill("#b-code", code)
    page.fill("#b-name", "Test branch")
    page.click("#branch-form button[type=submit]")
    expect(page.locator("#one-h")).to_contain_text(code)
    page.fill("#h-mon", "09:00-12:00, 13:00-17:00")
    page.fill("#h-sat", "10:00-14:00")
    # the toast of the creation also names the branch: wait for the save itself
    with page.expect_response(
        lambda r: r.request.method == "PATCH" and r.url.endswith(f"/branches/{code}")
    ) as saved:
        page.click("#edit-form button[type=submit]")
    assert saved.value.status == 200, saved.value.text()
    branch = server.api("GET", f"/branches/{code}", "admin").json()
    assert branch["opening_hours"] == {
        "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
        "sat": [["10:00", "14:00"]],
    }
    page.check("#e-svc-loan")
    page.click("#services-form button[type=submit]")
    expect(page.locator("#fe-toasts")).to_contain_text("业务已更新")
    page.click("#add-counter")
    page.fill("#c-id", "1")
    page.fill("#c-name", "Window 1")
    page.check("#c-skill-cash")
    page.click("dialog[open] button[type=submit]")
    expect(page.locator("#counters")).to_contain_text("Window 1")
    branch = server.api("GET", f"/branches/{code}", "admin").json()
    assert set(branch["services"]) == {"cash", "loan"}
    assert [(c["counter_id"], c["skills"]) for c in branch["counters"]] == [("1", ["cash"])]
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "console-admin-branches")
    assert not page.errors


def test_role_change_unlock_and_password_reset_in_the_page(server, signed_in, browser_page):
    import requests

    username = _name("loader_")
    org = server.api("GET", "/admin/users?username=teller1", "admin").json()["items"][0]
    body = {
        "username": username,
        "password": "old-pass-1234",
        "role": "loader",
        "org_id": org["org_id"],
        "branch_id": "BR001",
    }
    assert server.api("POST", "/admin/users", "admin", json=body).status_code == 201
    # failed logins put the account in back-off
    for _ in range(6):
        requests.post(
            f"{server.url}/api/v1/auth/token",
            json={"username": username, "password": "wrong-password"},
            timeout=30,
        )
    page = _admin_page(signed_in, server, "admin/users")
    page.fill("#f-username", username)
    page.click("#filters button[type=submit]")
    row = page.locator("#users tbody tr", has_text=username)
    expect(row).to_contain_text("已锁定")
    row.get_by_role("button", name="解除锁定").click()
    expect(row).not_to_contain_text("已锁定")
    # role: loader -> teller, same org and branch
    row.get_by_role("button", name="修改").click()
    page.select_option("#e-role", "teller")
    page.click("dialog[open] button[type=submit]")
    expect(row).to_contain_text("柜员")
    # a new password, generated in the dialog and shown once after saving
    row.get_by_role("button", name="重置密码").click()
    new_password = page.input_value("#r-password")
    assert len(new_password) == 16
    page.click("dialog[open] button[type=submit]")
    expect(page.locator("#once-dialog")).to_contain_text(new_password)
    page.click("#once-close")
    expect(page.locator("#once-dialog")).to_have_count(0)
    user = _log_in(browser_page(), server, username, new_password)
    assert (user["username"], user["role"]) == (username, "teller")
    assert not page.errors


def test_audit_pages_with_load_more(server, signed_in):
    page = _admin_page(signed_in, server, "admin/audit")
    rows = page.locator("#records tbody tr")
    expect(rows).to_have_count(50)
    page.click("#records button.more")
    expect(rows.nth(50)).to_be_visible()
    ids = server.api("GET", "/admin/audit?limit=51", "admin").json()["items"]
    assert len(ids) == 51
    assert not page.errors


def test_a_teller_sees_the_registry_without_provisioning(server, browser_page):
    page = browser_page()
    user = _log_in(page, server, "teller1", "teller1-demo")
    assert user["role"] == "teller"
    page.goto(f"{server.url}/console/devices/registry")
    _ready(page)
    expect(page.locator("#devices")).to_contain_text("BR001-LCK-01")
    expect(page.locator("#register-card")).to_be_hidden()
    expect(page.locator("#devices button")).to_have_count(0)
    # the admin pages are not for a teller (and the API refuses them)
    page.goto(f"{server.url}/console/admin/users")
    expect(page.locator("main .notice")).to_contain_text("不适用")
    assert not page.errors
