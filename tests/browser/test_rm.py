"""The relationship manager's mini-program pages on a phone: arrivals of their VIP clients,
and the risk signal inbox, which receives a new signal of rm1's enterprise live and marks it
read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.browser.risk_support import feed, own_enterprise
from tests.browser_support import screenshot

NO_OVERFLOW = "() => document.documentElement.scrollWidth <= window.innerWidth"


def _seen_at_the_door(server, username: str, at: datetime) -> None:
    """A sighting of the client at BR001's door, as the door camera's match stores it (no API
    makes one: the camera speaks MQTT); an hour old, so no arrival test's quiet time sees it."""
    from backend.branch.models import FaceSighting
    from backend.identity.models import User
    from backend.platform.db import make_engine

    engine = make_engine(server.env["DATABASE_URL"])
    try:
        with Session(engine) as s:
            user_id = s.scalar(select(User.id).where(User.username == username))
            s.add(
                FaceSighting(
                    branch_id="BR001",
                    user_id=user_id,
                    device_id="BR001-CAM-01",
                    distance=0.3,
                    at=at,
                )
            )
            s.commit()
    finally:
        engine.dispose()


def test_rm1_lands_on_arrivals_of_their_vip_clients(server, signed_in):
    _seen_at_the_door(server, "client1", datetime.now(UTC) - timedelta(hours=1))
    page = signed_in("rm1")
    assert page.url.endswith("/m/rm/arrivals")
    expect(page.locator("main[data-ready='1']")).to_be_visible()
    expect(page.locator("#arrivals li[data-client]").first).to_contain_text("Client One")
    expect(page.locator("#arrivals li[data-client]").first).to_contain_text("BR001")
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate(NO_OVERFLOW)
    screenshot(page, "m-rm-arrivals")
    assert not page.errors


def test_rm1_inbox_on_a_phone_gets_a_signal_live_and_marks_it_read(server, signed_in):
    name = f"收件箱测试{uuid.uuid4().hex[:6].upper()}有限公司"
    own = own_enterprise(server, name=name)
    page = signed_in("rm1")
    page.goto(f"{server.url}/m/rm/signals")
    expect(page.locator("main[data-ready='1']")).to_be_visible()
    expect(page.locator("#inbox li[data-item]").first).to_be_visible()
    expect(page.locator("body.live-on")).to_have_count(1)  # the live socket is connected
    # a lawsuit against rm1's own enterprise raises a signal routed to rm1: it arrives live
    feed(server, own["credit_code"], name, "lawsuit_defendant")
    item = page.locator("#inbox li[data-item]", has_text=name).first
    expect(item).to_be_visible()
    expect(item).to_contain_text("未读")
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate(NO_OVERFLOW)
    screenshot(page, "m-rm-signals")
    item.locator("button[data-read]").click()
    expect(item).to_contain_text("已读")
    expect(item.locator("button[data-read]")).to_have_count(0)
    # unread only: the item read is gone from the list
    page.check("#unread-only")
    expect(page.locator("#inbox li[data-item]", has_text=name)).to_have_count(0)
    assert not page.errors


def test_rm_inbox_in_english(server, signed_in):
    page = signed_in("rm1", lang="en")
    page.goto(f"{server.url}/m/rm/signals")
    expect(page.locator("h1")).to_have_text("Risk signals")
    expect(page.locator("#inbox li[data-item]").first).to_be_visible()
    expect(page.locator("#unread-count")).to_contain_text("unread")
    screenshot(page, "m-rm-signals-en")
    assert not page.errors
