"""The branch hall's console pages (/console/hall/...): the board, devices and alarms, cash tasks
and customer flow, as a teller and a head-office approver use them against a live server.

Each test changes only what it makes: its own ticket (and the ticket it calls), an alarm it
raises, a cash task it makes and cancels."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import requests
from playwright.sync_api import expect

from tests.browser_support import screenshot

BRANCH = "BR001"


def _login(server, username: str) -> dict:
    answer = requests.post(
        f"{server.url}/api/v1/auth/token",
        json={"username": username, "password": f"{username}-demo"},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()


def _post(server, token: str, path: str, body: dict) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )


def _client_token(server) -> str:
    """client1's token; a fresh client of the demo's stand-in for WeChat if client1 already holds
    an open ticket at the branch (another test's)."""
    token = _login(server, "client1")["access_token"]
    queue = requests.get(
        f"{server.url}/api/v1/branches/{BRANCH}/queue",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    if not queue.get("mine"):
        return token
    answer = requests.post(
        f"{server.url}/api/v1/auth/wx-login",
        json={"code": f"fake:hall-{uuid.uuid4().hex[:12]}"},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def _open(page, server, path: str) -> None:
    page.goto(f"{server.url}/console/hall/{path}")
    expect(page.locator("main")).to_have_attribute("data-ready", "1")


def test_login_says_the_tellers_branch(server):
    assert _login(server, "teller1")["user"]["branch_id"] == BRANCH
    assert _login(server, "approver1")["user"]["branch_id"] is None


def test_a_ticket_taken_by_a_client_appears_live_and_the_teller_calls_next(server, signed_in):
    page = signed_in("teller1", surface="console")
    assert page.url.endswith("/console/hall/board")  # the teller's home
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    expect(page.locator("body")).to_have_class(re.compile(r"\blive-on\b"))  # socket connected

    token = _client_token(server)
    started = time.monotonic()
    answer = _post(server, token, f"/branches/{BRANCH}/tickets", {"service": "wealth"})
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    item = page.locator(f'#waiting [data-ticket="{ticket["id"]}"]')
    expect(item).to_contain_text(ticket["ticket_no"])  # pushed, never polled
    print(f"ticket on the board {time.monotonic() - started:.3f} s after the POST was sent")
    expect(item).to_contain_text("远程取号")  # booked remotely: not called before check-in

    # someone the counter may call: a ticket the teller issues for a client in the hall
    teller = _login(server, "teller1")["access_token"]
    staff = _post(server, teller, f"/branches/{BRANCH}/tickets", {"service": "cash"})
    assert staff.status_code == 201, staff.text
    expect(page.locator(f'#waiting [data-ticket="{staff.json()["id"]}"]')).to_be_visible()

    page.select_option("#counter", "2")
    expect(page.locator("#mine")).to_be_visible()
    with page.expect_response(lambda r: r.url.endswith("/counters/2/call-next")) as called:
        page.click("#act-call")
    body = called.value.json()
    assert called.value.status == 200, body
    number = body["called"]["ticket_no"]
    expect(page.locator("#mine-serving")).to_contain_text(number)
    expect(page.locator('#counters [data-counter="2"] .serving')).to_have_text(number)
    expect(page.locator(f'#waiting [data-ticket="{body["called"]["id"]}"]')).to_have_count(0)
    screenshot(page, "console-hall-board")

    # the counter is remembered in this browser
    page.reload()
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    expect(page.locator("#counter")).to_have_value("2")
    page.click("#act-finish")
    expect(page.locator("#mine-serving")).to_have_text("无")
    assert not page.errors


def _raise_alarm(server, device_id: str, rule: str) -> dict:
    """An alarm as the device area raises one (DeviceDirectory.raise_alarm) in the live server's
    database. The server is a subprocess: the alarm is not pushed, the page reads it."""
    from backend.devices.directory import Directory
    from backend.platform.clock import utcnow
    from backend.platform.db import make_engine, make_session_factory, session_scope

    engine = make_engine(server.env["DATABASE_URL"])
    try:
        with session_scope(make_session_factory(engine)) as session:
            view = Directory().raise_alarm(
                session, device_id, rule, "warning", f"{rule} jammed", {}, utcnow()
            )
    finally:
        engine.dispose()
    assert view is not None
    return view


def test_teller_acknowledges_an_alarm_and_another_teller_sees_it_live(server, signed_in):
    alarm = _raise_alarm(server, f"{BRANCH}-KSK-01", f"peripheral:hall-{uuid.uuid4().hex[:6]}")
    watcher = signed_in("teller2", surface="console")
    _open(watcher, server, "devices")
    expect(watcher.locator("body")).to_have_class(re.compile(r"\blive-on\b"))
    page = signed_in("teller1", surface="console")
    _open(page, server, "devices")
    row = page.locator(f'#alarms tr[data-alarm="{alarm["id"]}"]')
    expect(row).to_contain_text("外设故障")
    expect(row).to_contain_text("未确认")
    expect(page.locator('#devices tr[data-device="BR001-KSK-01"]')).to_contain_text("取号机")
    screenshot(page, "console-hall-devices")

    row.locator(f'[data-ack="{alarm["id"]}"]').click()
    expect(page.locator("#fe-confirm")).to_be_visible()
    page.click("#fe-confirm-ok")
    expect(row).to_contain_text("已确认")
    expect(row.locator("[data-ack]")).to_have_count(0)
    # the acknowledgement is pushed to the branch: the other teller's page changes by itself
    expect(watcher.locator(f'#alarms tr[data-alarm="{alarm["id"]}"]')).to_contain_text("已确认")
    listed = server.api("GET", f"/devices/alarms?branch_id={BRANCH}&status=all", "admin").json()
    mine = next(a for a in listed["items"] if a["id"] == alarm["id"])
    assert mine["acknowledged"] is True
    assert not page.errors and not watcher.errors


def _make_cash_task(server) -> dict:
    teller = _login(server, "teller1")["access_token"]
    loaders = [_login(server, name)["user"]["id"] for name in ("loader1", "loader2")]
    start = datetime.now(UTC)
    body = {
        "loaders": loaders,
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=2)).isoformat(),
        "amounts": {"100.00": "20000.00"},
    }
    answers = []
    for device in (f"{BRANCH}-ATM-02", f"{BRANCH}-ATM-01"):  # one without an open task
        answer = _post(server, teller, "/cash-tasks", {**body, "device_id": device})
        if answer.status_code == 201:
            return answer.json()
        answers.append(answer.text)
    raise AssertionError(answers)


def _sign_in_to(page, server, username: str, path: str) -> None:
    """Log in through the console's form, then open a hall page (whatever the role's home)."""
    page.goto(f"{server.url}/console/login")
    page.fill("#username", username)
    page.fill("#password", f"{username}-demo")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    _open(page, server, path)


def test_cash_task_shows_its_steps_and_head_office_approves_then_cancels(server, browser_page):
    task = _make_cash_task(server)
    page = browser_page()
    _sign_in_to(page, server, "approver1", "cash")
    if page.locator("#branch-pick").is_visible() and page.input_value("#branch") != BRANCH:
        page.select_option("#branch", BRANCH)  # reloads the page with that branch
        expect(page.locator("#branch")).to_have_value(BRANCH)
        expect(page.locator("main")).to_have_attribute("data-ready", "1")
    expect(page.locator("#poll-note")).to_be_visible()  # head office: no branch room
    card = page.locator(f'#tasks [data-task="{task["id"]}"]')
    expect(card).to_contain_text(task["ref"])
    expect(card.locator(".hall-steps > li")).to_have_count(8)
    expect(card.locator('[data-step="created"]')).to_have_class(re.compile(r"\bdone\b"))
    expect(card.locator('[data-step="approved"]')).to_have_class(re.compile(r"\btodo\b"))
    expect(card).to_contain_text("¥20,000.00")
    screenshot(page, "console-hall-cash")

    card.locator('[data-action="approve"]').click()
    page.click("#fe-confirm-ok")
    expect(card.locator('[data-step="approved"]')).to_have_class(re.compile(r"\bdone\b"))
    expect(card).to_contain_text("已复核")
    expect(card.locator('[data-action="approve"]')).to_have_count(0)

    card.locator(f"#reason-{task['id']}").fill("hall browser test")
    card.locator('[data-action="cancel"]').click()
    page.click("#fe-confirm-ok")
    expect(card).to_have_count(0)  # no longer open
    page.select_option("#status", "")
    expect(card.locator('[data-step="cancelled"]')).to_have_class(re.compile(r"\bdone\b"))
    assert not page.errors


def test_flow_page_draws_the_day_and_the_week_in_english(server, signed_in):
    page = signed_in("teller1", surface="console", lang="en")
    _open(page, server, "flow")
    expect(page.locator("h1")).to_have_text("Customer flow")
    expect(page.locator("main")).to_have_attribute("data-drawn", "day")
    for chart in ("chart-hours", "chart-services", "chart-counters"):
        expect(page.locator(f"#{chart} canvas").first).to_be_visible()
    expect(page.locator("#figures .stat")).to_have_count(8)
    screenshot(page, "console-hall-flow-en")

    with page.expect_response(lambda r: "/flow?day=" in r.url):
        page.click("#tab-week")
    expect(page.locator("main")).to_have_attribute("data-drawn", "week")
    expect(page.locator("#tab-week")).to_have_attribute("aria-selected", "true")
    for chart in ("chart-week-flow", "chart-week-wait"):
        expect(page.locator(f"#{chart} canvas").first).to_be_visible()
    box = page.locator("#chart-week-flow canvas").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200
    screenshot(page, "console-hall-flow-week")
    assert not page.errors
