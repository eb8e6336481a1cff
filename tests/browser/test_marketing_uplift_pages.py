"""The campaign evaluation page, the console KPI page and the RM's own points in the
mini-program, on the demo server with a campaign of planted uplift written into its database
(as the campaigns helper writes assignments and conversions) and the KPI job run."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import expect
from sqlalchemy import select

from backend.identity.models import User
from backend.marketing import kpi
from backend.marketing.models import Campaign
from backend.platform.context import SYSTEM
from backend.platform.db import make_engine, make_session_factory
from tests.browser.floorplan_world import ok
from tests.browser_support import screenshot
from tests.integration.marketing_uplift_support import planted_campaign

CODE = "RENEW-BROWSER"


def _campaign(server) -> int:
    engine = make_engine(server.env["DATABASE_URL"])
    try:
        with make_session_factory(engine)() as s:
            found = s.scalar(select(Campaign.id).where(Campaign.code == CODE))
            if found is not None:
                return found
            rms = s.scalars(
                select(User.id).where(User.username.in_(["rm1", "rm2"])).order_by(User.username)
            ).all()
            campaign, _truth = planted_campaign(
                s, n=1_200, seed=77, code=CODE, rm_user_ids=tuple(rms)
            )
            kpi.compute(s, SYSTEM, datetime.now(UTC), campaign_ids=[campaign.id])
            s.commit()
            return campaign.id
    finally:
        engine.dispose()


def test_team_sees_the_evaluation_with_its_qini_chart_and_the_kpis(server, signed_in):
    cid = _campaign(server)
    e = ok(server.api("GET", f"/marketing/campaigns/{cid}/evaluation", "mkt1"))
    page = signed_in("mkt1", surface="console")
    page.goto(f"{server.url}/console/marketing/evaluation?campaign={cid}")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#campaign-title")).to_contain_text(CODE)
    expect(page.locator("[data-figure='uplift'] .value")).to_contain_text(
        f"{100 * e['uplift']['uplift']:.2f}%"
    )
    expect(page.locator("svg.qini path[data-series='model']")).to_be_attached()
    screenshot(page, "console-marketing-evaluation")
    assert not page.errors

    page.goto(f"{server.url}/console/marketing/kpis")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#kpis td").filter(has_text="rm1")).to_be_visible()
    expect(page.locator("svg.kpi-chart rect")).to_have_count(2)
    page.select_option("#level", "head_office")
    expect(page.locator("svg.kpi-chart rect")).to_have_count(1)
    screenshot(page, "console-marketing-kpis")
    assert not page.errors


def test_rm_sees_own_clients_figures_and_own_points(server, signed_in):
    cid = _campaign(server)
    page = signed_in("rm1", surface="console")
    page.goto(f"{server.url}/console/marketing/evaluation?campaign={cid}")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("p.notice")).to_contain_text("本人名下客户")
    assert not page.errors

    mine = ok(server.api("GET", "/marketing/kpis?level=rm", "rm1"))["items"]
    assert len(mine) == 1
    phone = signed_in("rm1")
    phone.goto(f"{server.url}/m/rm/kpi")
    phone.wait_for_selector("main[data-ready='1']", state="attached")
    expect(phone.locator("[data-figure='points'] .value")).to_have_text(f"{mine[0]['points']:.1f}")
    screenshot(phone, "m-rm-kpi")
    assert not phone.errors
