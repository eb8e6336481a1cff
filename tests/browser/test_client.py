"""The client's mini-program pages on a phone: the branches with their queue, taking a ticket,
checking in with the hall's code and being called live by a teller's call-next; cancelling a
ticket; giving and withdrawing face consent (in English). Each test signs in as a fresh client
through the demo's wx-login button, so its tickets and consent are its own."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.browser_support import screenshot


def shot(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar at the top of the picture
    screenshot(page, name)
    # usable on a 360-px-wide phone: nothing wider than the screen
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, name
    page.set_viewport_size({"width": 390, "height": 844})


BRANCH = "BR001"


def wx_client(server, browser_page, lang: str = "zh"):
    """A new client, made by the login page's demo WeChat button, on a phone."""
    page = browser_page(phone=True, lang=lang)
    if lang == "en":
        page.context.add_cookies([{"name": "finedge_lang", "value": "en", "url": server.url}])
    page.goto(f"{server.url}/m/login")
    page.click("#wx-login")
    page.wait_for_url(re.compile(r"/m/client/branches$"))
    page.wait_for_selector("#fe-user:not([hidden])")
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    return page


def take_ticket(page, service: str, *, appointment: bool = False) -> str:
    branch = page.locator(f'section[data-branch="{BRANCH}"]')
    branch.locator(f"#take-{BRANCH}").click()
    page.select_option(f"#service-{BRANCH}", service)
    if appointment:
        branch.locator('input[value="appointment"]').check()
        expect(page.locator(f"#slot-{BRANCH}")).to_be_visible()
    branch.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/m/client/ticket\?"))
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    number = page.locator(".ticket .ticket-no").first
    expect(number).to_have_text(re.compile(r"^R[A-E]\d+$"))
    return number.inner_text()


def test_client_takes_a_ticket_checks_in_and_sees_it_called_live(server, browser_page):
    page = wx_client(server, browser_page)
    rows = page.locator(f'section[data-branch="{BRANCH}"] .queue-wrap tbody tr')
    expect(rows).not_to_have_count(0)
    expect(
        page.locator(f'section[data-branch="{BRANCH}"] tr[data-service="cash"]')
    ).to_contain_text("现金业务")
    shot(page, "m-client-branches")

    # the counts are polled (a client's socket hears only its own ticket): a ticket a teller
    # issues in the hall shows within the 10 s poll, without reload
    wealth = page.locator(f'section[data-branch="{BRANCH}"] tr[data-service="wealth"] td.waiting')
    before = int(wealth.inner_text())
    staff = server.api("POST", f"/branches/{BRANCH}/tickets", "teller1", json={"service": "wealth"})
    assert staff.status_code == 201, staff.text
    expect(wealth).to_have_text(str(before + 1), timeout=15_000)
    gone = server.api(
        "POST", f"/branches/{BRANCH}/tickets/{staff.json()['ticket_no']}/cancel", "teller1"
    )
    assert gone.status_code == 200, gone.text

    ticket_no = take_ticket(page, "corporate")
    card = page.locator(f'.ticket[data-ticket="{ticket_no}"]')
    expect(card).to_have_attribute("data-status", "remote")
    # the code shown on the hall screen (staff read it for a kiosk page), typed by the client
    card.locator("input[name=presence_code]").fill("AAAAAAAAAAAAAAAA")  # a made-up code
    card.get_by_role("button", name="签到", exact=True).click()
    expect(page.locator(".toast.error")).to_contain_text("签到码无效")
    expect(card).to_have_attribute("data-status", "remote")
    shot(page, "m-client-ticket-remote")
    code = server.api("GET", f"/branches/{BRANCH}/presence-code", "teller1").json()["code"]
    card.locator("input[name=presence_code]").fill(code)
    card.get_by_role("button", name="签到", exact=True).click()
    expect(card).to_have_attribute("data-status", "waiting")
    expect(card).to_contain_text("前面还有")
    expect(page.locator("body")).to_have_class(re.compile(r"\blive-on\b"))

    # a counter of this test's own, serving only its service, opened by the teller
    counter = f"T{uuid.uuid4().hex[:6]}"
    made = server.api(
        "PUT",
        f"/branches/{BRANCH}/counters/{counter}",
        "admin",
        json={"name": "Browser test", "skills": ["corporate"]},
    )
    assert made.status_code == 200, made.text
    base = f"/branches/{BRANCH}/counters/{counter}"
    opened = server.api("POST", f"{base}/status", "teller1", json={"status": "open"})
    assert opened.status_code == 200, opened.text
    called = None
    for _ in range(30):  # corporate tickets of others ahead of ours are served first
        r = server.api("POST", f"{base}/call-next", "teller1")
        assert r.status_code == 200, r.text
        called = r.json()["called"]
        if called is None or called["ticket_no"] == ticket_no:
            break
    assert called and called["ticket_no"] == ticket_no

    banner = page.locator("#called")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"请前往 {counter} 号窗口")
    expect(card).to_have_attribute("data-status", "called")
    shot(page, "m-client-ticket")

    assert server.api("POST", f"{base}/finish", "teller1").status_code == 200
    expect(card).to_have_count(0)  # done: it leaves the open tickets, without reload
    expect(page.locator(f'#past li[data-ticket="{ticket_no}"]')).to_have_attribute(
        "data-status", "done"
    )
    assert server.api("POST", f"{base}/status", "teller1", json={"status": "closed"}).ok
    assert not page.errors


def test_client_books_an_appointment_and_cancels_it(server, browser_page):
    page = wx_client(server, browser_page)
    ticket_no = take_ticket(page, "account", appointment=True)
    card = page.locator(f'.ticket[data-ticket="{ticket_no}"]')
    expect(card).to_contain_text("预约时间")
    card.locator("button.cancel").click()
    expect(page.locator("#fe-confirm")).to_be_visible()
    page.click("#fe-confirm-ok")
    expect(page.locator(f'#past li[data-ticket="{ticket_no}"]')).to_have_attribute(
        "data-status", "cancelled"
    )
    expect(card).to_have_count(0)
    # the page is read from the API, not from the device: a reload shows the same
    page.reload()
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    expect(page.locator(f'#past li[data-ticket="{ticket_no}"]')).to_have_attribute(
        "data-status", "cancelled"
    )
    assert not page.errors


def test_client_gives_and_withdraws_face_consent_in_english(server, browser_page):
    page = wx_client(server, browser_page, lang="en")
    page.goto(f"{server.url}/m/client/ticket")
    expect(page.locator("#tickets")).to_contain_text("You hold no ticket today.")
    page.goto(f"{server.url}/m/client/consent")
    main = page.locator("main")
    expect(main).to_have_attribute("data-consent", "none")
    expect(page.locator("h1")).to_have_text("Face recognition consent")
    expect(main).to_contain_text("never written to a log")
    page.click("#give")
    expect(main).to_have_attribute("data-consent", "granted")
    expect(page.locator("#consent-status")).to_contain_text("Given")
    shot(page, "m-client-consent")
    page.click("#withdraw")
    page.click("#fe-confirm-ok")
    expect(main).to_have_attribute("data-consent", "withdrawn")
    expect(page.locator("#give")).to_be_visible()
    assert not page.errors
