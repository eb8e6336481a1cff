"""Journeys that cross personas and browsers: a client's phone and a teller's board in two
browser contexts (on SQLite and on PostgreSQL), and a session that outlives its first token."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser_support import live_server, login, screenshot

BRANCH = "BR001"

# records, in the board's own page, when each waiting ticket first appears (Date.now(), ms)
WATCH_BOARD = """() => {
  window.__seen = {};
  const note = () => {
    for (const node of document.querySelectorAll('#waiting [data-ticket]')) {
      const no = node.textContent.match(/R[A-E]\\d+/);
      if (no && !(no[0] in window.__seen)) window.__seen[no[0]] = Date.now();
    }
  };
  note();
  new MutationObserver(note).observe(document.body, {childList: true, subtree: true});
}"""


@pytest.fixture(params=["sqlite", "postgresql"])
def any_server(request):
    return request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")


def test_a_phone_ticket_reaches_the_board_and_the_tellers_call_reaches_the_phone(
    any_server, browser_page
):
    server = any_server
    # a counter of this test's own, serving only "corporate", made before the board opens
    counter = f"J{uuid.uuid4().hex[:5]}"
    made = server.api(
        "PUT",
        f"/branches/{BRANCH}/counters/{counter}",
        "admin",
        json={"name": "Journey", "skills": ["corporate"]},
    )
    assert made.status_code == 200, made.text

    board = browser_page()
    login(board, server.url, "teller1", "console")
    board.goto(f"{server.url}/console/hall/board")
    expect(board.locator("main")).to_have_attribute("data-ready", "1")
    expect(board.locator("body")).to_have_class(re.compile(r"\blive-on\b"))
    board.evaluate(WATCH_BOARD)

    phone = browser_page(phone=True)
    phone.goto(f"{server.url}/m/login")
    phone.click("#wx-login")  # a new client of this test's own (the demo's WeChat stand-in)
    phone.wait_for_url(re.compile(r"/m/client/branches$"))
    expect(phone.locator("main")).to_have_attribute("data-ready", "1")
    section = phone.locator(f'section[data-branch="{BRANCH}"]')
    section.locator(f"#take-{BRANCH}").click()
    phone.select_option(f"#service-{BRANCH}", "corporate")
    sent_at = phone.evaluate("Date.now()")
    section.locator("form button[type=submit]").click()
    phone.wait_for_url(re.compile(r"/m/client/ticket\?"))
    number = phone.locator(".ticket .ticket-no").first
    expect(number).to_have_text(re.compile(r"^R[A-E]\d+$"))
    ticket_no = number.inner_text()

    on_board = board.locator("#waiting [data-ticket]", has_text=ticket_no)
    expect(on_board).to_have_count(1)  # pushed live: the board never polls
    seen_at = board.evaluate(f"window.__seen['{ticket_no}']")
    print(
        f"{server.env['DATABASE_URL'].split(':')[0]}: ticket on the board "
        f"{(seen_at - sent_at) / 1000:.3f} s after the phone's tap"
    )

    # the client checks in with the hall's code (what the hall screen shows)
    code = server.api("GET", f"/branches/{BRANCH}/presence-code", "teller1").json()["code"]
    card = phone.locator(f'.ticket[data-ticket="{ticket_no}"]')
    card.locator("input[name=presence_code]").fill(code)
    card.get_by_role("button", name="签到", exact=True).click()
    expect(card).to_have_attribute("data-status", "waiting")

    # the teller opens the counter and presses call-next until this client is called
    board.reload()
    expect(board.locator("main")).to_have_attribute("data-ready", "1")
    board.select_option("#counter", counter)
    board.click("#act-open")
    expect(board.locator("#act-call")).to_be_enabled()
    for _ in range(30):  # corporate clients ahead of ours are served first
        with board.expect_response(lambda r: r.url.endswith(f"/counters/{counter}/call-next")) as r:
            board.click("#act-call")
        called = r.value.json()["called"]
        assert called is not None, "the queue ran dry before our ticket"
        if called["ticket_no"] == ticket_no:
            break
        board.click("#act-finish")
        expect(board.locator("#mine-serving")).not_to_contain_text(called["ticket_no"])
    expect(board.locator("#mine-serving")).to_contain_text(ticket_no)

    banner = phone.locator("#called")
    expect(banner).to_be_visible()  # pushed to the phone, no reload
    expect(banner).to_contain_text(counter)
    screenshot(phone, f"journey-called-{server.env['DATABASE_URL'].split(':')[0]}")
    board.click("#act-finish")
    expect(card).to_have_count(0)
    board.click("#act-close")
    board.click("#fe-confirm-ok")
    assert not board.errors and not phone.errors


@pytest.fixture(scope="module")
def short_token_server():
    # tokens live 12 s: the page must refresh its own before that (at four fifths of the life)
    with live_server(seed_args=(), env={"FINEDGE_TOKEN_TTL_S": "12"}) as live:
        yield live


def test_a_session_refreshes_its_token_before_it_expires(short_token_server, browser_page):
    server = short_token_server
    page = browser_page(phone=True)
    login(page, server.url, "dealer1")
    first = page.evaluate("JSON.parse(sessionStorage.getItem('finedge.session'))")
    page.wait_for_function(
        "old => JSON.parse(sessionStorage.getItem('finedge.session')).token !== old",
        arg=first["token"],
        timeout=30_000,
    )
    # once the first token has expired, the page still works with the refreshed one
    page.wait_for_function("t => Date.now() > t", arg=first["expires_at"] + 1000, timeout=30_000)
    page.reload()
    expect(page.locator("main")).to_have_attribute("data-ready", "1")
    assert "/login" not in page.url
    expect(page.locator("[data-figure]").first).to_contain_text("¥")
    assert not page.errors


def test_the_teller_recalls_transfers_and_marks_a_no_show_on_the_board(server, browser_page):
    counter = f"K{uuid.uuid4().hex[:5]}"
    made = server.api(
        "PUT",
        f"/branches/{BRANCH}/counters/{counter}",
        "admin",
        json={"name": "Board actions", "skills": ["corporate"]},
    )
    assert made.status_code == 200, made.text
    mine = []
    for _ in range(2):  # clients in the hall, issued by the teller
        r = server.api(
            "POST", f"/branches/{BRANCH}/tickets", "teller1", json={"service": "corporate"}
        )
        assert r.status_code == 201, r.text
        mine.append(r.json()["ticket_no"])

    board = browser_page()
    login(board, server.url, "teller1", "console")
    board.goto(f"{server.url}/console/hall/board")
    expect(board.locator("main")).to_have_attribute("data-ready", "1")
    board.select_option("#counter", counter)
    board.click("#act-open")
    expect(board.locator("#act-call")).to_be_enabled()

    def call_one_of_mine() -> str:
        for _ in range(30):  # corporate clients of other tests ahead of ours go first
            with board.expect_response(lambda r: r.url.endswith("/call-next")) as answer:
                board.click("#act-call")
            called = answer.value.json()["called"]
            assert called is not None, "the queue ran dry before our tickets"
            if called["ticket_no"] in mine:
                expect(board.locator("#mine-serving")).to_contain_text(called["ticket_no"])
                return called["ticket_no"]
            board.click("#act-finish")
            expect(board.locator("#mine-serving")).not_to_contain_text(called["ticket_no"])
        raise AssertionError("none of our tickets was called")

    first = call_one_of_mine()
    with board.expect_response(lambda r: r.url.endswith("/recall")) as recalled:
        board.click("#act-recall")
    assert recalled.value.status == 200 and recalled.value.json()["called"]["ticket_no"] == first
    expect(board.locator("#mine-serving")).to_contain_text(first)

    # transfer to the cash service: the client waits again, in the cash queue
    board.select_option("#transfer-service", "cash")
    board.click("#act-transfer")
    expect(board.locator("#mine-serving")).not_to_contain_text(first)
    moved = board.locator("#waiting [data-ticket]", has_text=first)
    expect(moved).to_contain_text("现金业务")

    second = call_one_of_mine()
    assert second != first
    board.click("#act-no-show")
    board.click("#fe-confirm-ok")
    expect(board.locator("#mine-serving")).not_to_contain_text(second)
    expect(board.locator("#waiting [data-ticket]", has_text=second)).to_have_count(0)
    board.click("#act-close")
    board.click("#fe-confirm-ok")
    cancel = server.api("POST", f"/branches/{BRANCH}/tickets/{first}/cancel", "teller1")
    assert cancel.status_code == 200, cancel.text
    assert not board.errors
