"""Campaigns on screens: the marketing user drafts a campaign in the console, sees the power of
its test and launches it; the campaign page shows the arms per tier; after the delivery job,
rm1 opens a call task on the phone and records its outcome, and rm2 cannot open it."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.browser.floorplan_world import ok
from tests.browser_support import screenshot


def _list_of_clients(server) -> int:
    """200 synthetic clients of rm1 and rm2 and a frozen segment of them, as the client base's
    and the segments' parts would leave them; the segment's id."""
    from backend.identity.models import User
    from backend.marketing import synth
    from backend.marketing.campaigns.service import freeze_members
    from backend.marketing.load import load_clients
    from backend.marketing.models import Client, Segment
    from backend.platform.clock import utcnow
    from backend.platform.db import make_engine

    engine = make_engine(server.env["DATABASE_URL"])
    try:
        with Session(engine) as s:
            rms = [s.scalar(select(User.id).where(User.username == u)) for u in ("rm1", "rm2")]
            ids = load_clients(s, synth.clients(200, seed=977), rm_user_ids=rms)
            # everyone reachable by phone at any hour, so the job makes tasks whenever it runs
            for client in s.scalars(select(Client).where(Client.id.in_(ids))):
                client.dnd_from = client.dnd_to = None
            segment = Segment(
                name="browser list", kind="rule", definition={"all": []}, created_at=utcnow()
            )
            s.add(segment)
            s.flush()
            freeze_members(s, segment, ids)
            s.commit()
            return segment.id
    finally:
        engine.dispose()


def test_a_campaign_from_draft_to_an_rm_outcome(server, signed_in):
    segment_id = _list_of_clients(server)
    page = signed_in("mkt1", surface="console")
    page.goto(f"{server.url}/console/marketing/campaigns")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    page.fill("#d-code", "BROWSER-1")
    page.fill("#d-name", "浏览器测试活动")
    page.fill("#d-segment", str(segment_id))
    page.fill("#d-starts", (date.today() - timedelta(days=1)).isoformat())
    page.fill("#d-sms", "尊敬的{name}：理财即将到期")
    page.fill("#d-script", "您好，您的理财即将到期")
    page.locator("#draft button[type=submit]").click()
    expect(page.locator("#power-card")).to_be_visible()
    expect(page.locator("#power table")).to_be_visible()
    expect(page.locator("#power")).to_contain_text("BROWSER-1")
    screenshot(page, "console-marketing-campaigns")
    page.locator("#launch").click()
    page.wait_for_url("**/console/marketing/campaign?id=*")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#head")).to_contain_text("BROWSER-1")
    expect(page.locator("#arms table")).to_be_visible()
    campaigns = ok(server.api("GET", "/marketing/campaigns", "mkt1"))["items"]
    campaign = next(c for c in campaigns if c["code"] == "BROWSER-1")
    assert campaign["status"] == "launched"
    assert (
        sum(
            ok(server.api("GET", f"/marketing/campaigns/{campaign['id']}", "mkt1"))["arms"][
                "total"
            ].values()
        )
        == 200
    )
    assert not page.errors

    server.finedge("jobs", "run", "marketing.campaigns")
    tasks = ok(
        server.api("GET", f"/marketing/tasks?campaign_id={campaign['id']}&status=open", "rm1")
    )["items"]
    assert tasks
    phone = signed_in("rm1", surface="m")
    phone.goto(f"{server.url}/m/rm/tasks")
    phone.wait_for_selector("main[data-ready='1']", state="attached")
    phone.locator(f"li[data-task='{tasks[0]['id']}'] a").click()
    phone.wait_for_url("**/m/rm/task?id=*")
    phone.wait_for_selector("main[data-ready='1']", state="attached")
    expect(phone.locator("#script")).to_contain_text("您好，您的理财即将到期")
    phone.select_option("#o-outcome", "interested")
    phone.check("#o-opportunity")
    phone.fill("#o-note", "下周到网点")
    phone.locator("#outcome-form button[type=submit]").click()
    expect(phone.locator("#done")).to_be_visible()
    screenshot(phone, "m-rm-task")
    task = ok(server.api("GET", f"/marketing/tasks/{tasks[0]['id']}", "rm1"))["task"]
    assert task["status"] == "done" and task["outcome"] == "interested" and task["opportunity"]
    assert server.api("GET", f"/marketing/tasks/{tasks[0]['id']}", "rm2").status_code == 404
    assert not phone.errors
