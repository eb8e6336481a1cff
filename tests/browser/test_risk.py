"""The console's risk pages: the signal feed by level (live), the enterprise risk view with
source differences, the knowledge graph (drawn, clicked, expanded) and approvals (an approver
approves a hard signal that rm1 proposed to confirm; the maker cannot approve their own)."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.browser.risk_support import feed, hard_signal_pending_review, own_enterprise
from tests.browser_support import screenshot


def _seeded_enterprise(server, wanted) -> tuple[int, dict]:
    """The first seeded enterprise whose unified view satisfies ``wanted`` (the synthetic
    world plants guarantee circles and sources that disagree on registered capital)."""
    page = server.api("GET", "/risk/enterprises?limit=200", "admin").json()
    for item in sorted(page["items"], key=lambda e: e["id"]):
        view = server.api("GET", f"/risk/enterprises/{item['id']}/view", "admin").json()
        if wanted(view):
            return item["id"], view
    raise AssertionError("no seeded enterprise is what the test needs")


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6].upper()}有限公司"


def test_approver_approves_a_hard_signal_that_rm1_proposed(server, signed_in):
    own = hard_signal_pending_review(server, name=_name("浏览器审批测试"))
    page = signed_in("approver1", surface="console")
    page.goto(f"{server.url}/console/risk/approvals")
    expect(page.locator("main[data-ready='1']")).to_be_visible()
    row = page.locator("#pending tr", has=page.locator(f"[data-approve='{own['signal_id']}']"))
    expect(row).to_contain_text("rm1")
    expect(row).to_contain_text("JUD-DISHONEST")
    screenshot(page, "console-risk-approvals")
    row.locator(f"[data-approve='{own['signal_id']}']").click()
    page.fill("#decide-comment", "verified with the court record")
    page.click("#decide-ok")
    page.click("#fe-confirm-ok")
    expect(page.locator(f"[data-approve='{own['signal_id']}']")).to_have_count(0)
    expect(page.locator(f"#decided li[data-signal='{own['signal_id']}']")).to_contain_text("已确认")
    signal = server.api("GET", f"/risk/signals/{own['signal_id']}", "approver1").json()
    assert signal["status"] == "confirmed" and signal["decided_by_user_id"] is not None
    assert not page.errors


def test_the_maker_cannot_approve_their_own_proposal(server, signed_in):
    own = hard_signal_pending_review(server, name=_name("四眼原则测试"), maker="approver1")
    page = signed_in("approver1", surface="console", lang="en")
    page.goto(f"{server.url}/console/risk/approvals")
    button = page.locator(f"[data-approve='{own['signal_id']}']")
    expect(page.locator("#pending tr", has=button)).to_contain_text("another approver must decide")
    button.click()
    page.click("#decide-ok")  # an empty comment is asked for again
    expect(page.locator("#decide-error")).to_have_text("Please write a comment.")
    page.fill("#decide-comment", "my own")
    page.click("#decide-ok")
    page.click("#fe-confirm-ok")
    expect(page.locator(".toast.error")).to_contain_text("The maker cannot approve")
    expect(button).to_have_count(1)
    screenshot(page, "console-risk-approvals-en")
    assert server.api("GET", f"/risk/signals/{own['signal_id']}", "admin").json()["status"] == (
        "pending_review"
    )
    assert not page.errors


def test_signal_feed_by_level_and_live_new_signals(server, signed_in):
    page = signed_in("approver1", surface="console")
    assert page.url.endswith("/console/risk/signals")
    expect(page.locator("main[data-ready='1']")).to_be_visible()
    page.click("#level-tabs button[data-level='medium']")
    expect(page).to_have_url(f"{server.url}/console/risk/signals?level=medium")
    rows = page.locator("#signal-table tbody tr")
    expect(rows.first).to_be_visible()
    expect(page.locator("#signal-table tbody tr:not([data-level='medium'])")).to_have_count(0)
    assert rows.count() > 0
    expect(page.locator("#signal-table tbody .badge.medium")).to_have_count(rows.count())
    # the form filter: hard ones only, then one raised while the page is open arrives live
    page.select_option("#f-level", "hard")
    page.click("#filters button[type=submit]")
    expect(page).to_have_url(f"{server.url}/console/risk/signals?level=hard")
    expect(page.locator("body.live-on")).to_have_count(1)  # the live socket is connected
    own = own_enterprise(server, name=_name("实时预警测试"))
    live_row = page.locator(f"#signal-table tr[data-signal='{own['signal_ids'][0]}']")
    expect(live_row).to_be_visible()
    expect(live_row).to_have_class("risk-new")
    expect(page.locator("#signal-table tbody tr:not([data-level='hard'])")).to_have_count(0)
    screenshot(page, "console-risk-signals")
    # its enterprise link leads to the enterprise view
    live_row.locator("a").first.click()
    expect(page).to_have_url(f"{server.url}/console/risk/enterprise?id={own['enterprise_id']}")
    expect(page.locator("#blocking")).to_be_visible()
    assert not page.errors


def test_signal_feed_in_english(server, signed_in):
    page = signed_in("rm1", surface="console", lang="en")
    assert page.url.endswith("/console/risk/signals")
    expect(page.locator("h1")).to_have_text("Risk signals")
    expect(page.locator("#signal-table tbody tr").first).to_be_visible()
    expect(page.locator("#level-tabs")).to_contain_text("Strong")
    screenshot(page, "console-risk-signals-en")
    assert not page.errors


def test_enterprise_view_shows_tags_circle_and_source_differences(server, signed_in):
    circle_id, circle_view = _seeded_enterprise(
        server, lambda v: (v["graph"].get("guarantee_circle") or {}).get("size")
    )
    differing_id, _view = _seeded_enterprise(
        server,
        lambda v: any(d["attribute"] == "registered_capital" for d in v["source_differences"]),
    )
    page = signed_in("rm1", surface="console")
    page.goto(f"{server.url}/console/risk/enterprise?id={circle_id}")
    expect(page.locator("main[data-ready='1']")).to_be_visible()
    expect(page.locator("#tags")).to_contain_text("担保圈")
    size = circle_view["graph"]["guarantee_circle"]["size"]
    expect(page.locator("#graph-summary")).to_contain_text(f"{size} 家企业")
    expect(page.locator("#graph-summary")).to_contain_text("实际控制人")
    expect(page.locator("#signals tbody tr").first).to_be_visible()
    expect(page.locator("#events tbody tr").first).to_be_visible()
    screenshot(page, "console-risk-enterprise")
    page.goto(f"{server.url}/console/risk/enterprise?id={differing_id}")
    expect(page.locator("#differences .risk-differs").first).to_be_visible()
    expect(page.locator("#differences")).to_contain_text("注册资本")
    expect(page.locator("#differences")).to_contain_text("工商")
    page.click("#to-graph")
    expect(page).to_have_url(f"{server.url}/console/risk/graph?id={differing_id}")
    expect(page.locator("#chart canvas")).to_have_count(1)
    assert not page.errors


NODE_PIXELS = """(wanted) => {
  const chart = echarts.getInstanceByDom(document.getElementById("chart"));
  const data = chart.getModel().getSeriesByIndex(0).getData();
  const out = [];
  for (let i = 0; i < data.count(); i++) {
    const id = data.getId(i);
    if (!id.startsWith(wanted)) continue;
    const [x, y] = chart.convertToPixel({ seriesIndex: 0 }, data.getItemLayout(i));
    out.push({ id, x, y });
  }
  return out;
}"""


# Whether the point (x, y) of the chart hits node `id` itself (not an edge or another node's
# label drawn over it): ECharts' own hit test, the one its click handler uses.
HITS_NODE = """([id, x, y]) => {
  const chart = echarts.getInstanceByDom(document.getElementById("chart"));
  const data = chart.getModel().getSeriesByIndex(0).getData();
  let index = -1;
  for (let i = 0; i < data.count(); i++) if (data.getId(i) === id) index = i;
  const node = data.getItemGraphicEl(index);
  let el = chart.getZr().handler.findHover(x, y).target;
  while (el && el !== node) el = el.parent;
  return Boolean(el);
}"""
OFFSETS = [(0, 0), (-5, -5), (5, -5), (-5, 5), (5, 5), (0, -7), (0, 7), (-7, 0), (7, 0)]


def _click_node(page, node):
    """A real mouse click on the node's position on the canvas (from the chart's layout and
    convertToPixel), at a point of the node that no edge or label covers once hovered."""
    box = page.locator("#chart").bounding_box()
    for dx, dy in OFFSETS:
        x, y = node["x"] + dx, node["y"] + dy
        page.mouse.move(box["x"] + x, box["y"] + y)
        if page.evaluate(HITS_NODE, [node["id"], x, y]):
            page.mouse.click(box["x"] + x, box["y"] + y)
            return True
    return False


def test_graph_draws_and_a_clicked_node_expands(server, signed_in):
    circle_id, _view = _seeded_enterprise(
        server,
        lambda v: (
            (v["graph"].get("guarantee_circle") or {}).get("size")
            and v["graph"].get("ultimate_controller")
            and sum(v["graph"].get("edges_by_kind", {}).values()) >= 6
        ),
    )
    page = signed_in("approver1", surface="console")
    page.goto(f"{server.url}/console/risk/graph?id={circle_id}&depth=1")
    expect(page.locator("#chart[data-settled='1'] canvas")).to_have_count(1)
    before = int(page.locator("#chart").get_attribute("data-nodes"))
    assert before > 5
    option = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('chart')).getOption()"
    )
    series = option["series"][0]
    assert series["type"] == "graph" and series["layout"] == "force" and series["roam"] is True
    assert len(option["legend"][0]["data"]) == 7
    # the controller is a diamond, the circle's guarantees are thick red lines
    assert any(n.get("symbol") == "diamond" for n in series["data"])
    assert any(link["lineStyle"]["width"] == 4 for link in series["links"])
    # click an enterprise one hop away at its position on the canvas
    box = page.locator("#chart").bounding_box()
    targets = [
        n
        for n in page.evaluate(NODE_PIXELS, "enterprise:")
        if n["id"] != f"enterprise:{circle_id}"
        and 10 < n["x"] < box["width"] - 10
        and 40 < n["y"] < box["height"] - 10
    ]
    target = next((n for n in targets if _click_node(page, n)), None)
    assert target, targets
    expect(page.locator("#panel")).to_have_attribute("data-node", target["id"])
    expect(page.locator("#expand-note")).not_to_be_empty()
    after = int(page.locator("#chart").get_attribute("data-nodes"))
    assert after > before
    screenshot(page, "console-risk-graph")
    assert not page.errors


def test_rm_sees_a_new_signal_of_their_enterprise_arrive_in_the_feed(server, signed_in):
    own = own_enterprise(server, name=_name("客户经理预警测试"))
    page = signed_in("rm1", surface="console")
    page.goto(f"{server.url}/console/risk/signals?enterprise_id={own['enterprise_id']}")
    expect(page.locator("#signal-table tbody tr")).to_have_count(1)
    expect(page.locator("body.live-on")).to_have_count(1)
    feed(server, own["credit_code"], own["name"], "lawsuit_defendant")
    expect(page.locator("#signal-table tbody tr")).to_have_count(2)
    assert not page.errors


def _backtest_files(tmp_path, ruleset: str, dataset: str, hits: int):
    """A replay's signals file (hand-made: ``hits`` of the two defaulters warned) and its
    truth, small enough to write here."""
    import json

    meta = {
        "type": "meta",
        "from": "2025-01-01",
        "to": "2025-06-30",
        "ruleset": ruleset,
        "model": None,
        "enterprises": 4,
        "deliveries": dataset,
        "scan_every_days": 1,
    }
    lines = [meta]
    for i in range(hits):
        lines.append(
            {
                "type": "signal",
                "time": "2025-02-01T03:00:00Z",
                "change": "raised",
                "signal_id": i + 1,
                "enterprise_id": i + 1,
                "credit_code": f"C{i}",
                "name": f"firm {i}",
                "level": "strong",
                "previous_level": None,
                "origin": "rule",
                "rule_id": "R",
                "rule_version": ruleset,
                "backfill": False,
            }
        )
    signals = tmp_path / f"signals-{ruleset}.jsonl"
    signals.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    truth = tmp_path / "defaults.csv"
    truth.write_text(
        "credit_code,name,default_date,default_kind\nC0,firm 0,2025-04-01,quiet\n"
        "C1,firm 1,2025-05-01,sudden\nC2,firm 2,,\nC3,firm 3,,\n",
        encoding="utf-8",
    )
    return signals, truth


def test_an_approver_proposes_a_ruleset_and_another_approves(server, signed_in, tmp_path):
    dataset = f"browser-deliveries-{uuid.uuid4().hex[:8]}"
    for ruleset, hits in (("3", 1), ("2", 2)):
        signals, truth = _backtest_files(tmp_path, ruleset, dataset, hits)
        server.finedge(
            "risk",
            "backtest",
            "--signals",
            str(signals),
            "--truth",
            str(truth),
            "--save",
            "--subject-kind",
            "ruleset",
            "--subject",
            ruleset,
        )
    maker = signed_in("approver1", surface="console")
    maker.goto(f"{server.url}/console/risk/models")
    expect(maker.locator("main[data-ready='1']")).to_be_visible()
    expect(maker.locator("nav a[href='/console/risk/models']")).to_have_count(1)
    row = maker.locator("#rulesets tr", has=maker.locator("[data-propose='ruleset:2']"))
    expect(row).to_contain_text("100.0%")  # warned: v2 2 of 2, beside the champion's 50.0%
    expect(row).to_contain_text("/ 50.0%")
    row.locator("[data-propose='ruleset:2']").click()
    maker.fill("#decide-comment", "warns both defaulters")
    maker.click("#decide-ok")
    pending = maker.locator("#promotions tr", has_text="warns both defaulters")
    expect(pending).to_contain_text("需另一位审批人复核")
    screenshot(maker, "console-risk-models")
    promotion = server.api("GET", "/risk/promotions?status=pending", "admin").json()["items"][0]
    try:
        checker = signed_in("admin", surface="console")
        checker.goto(f"{server.url}/console/risk/models")
        checker.locator(f"[data-approve='{promotion['id']}']").click()
        checker.fill("#decide-comment", "agreed: same dataset, better on every figure")
        checker.click("#decide-ok")
        checker.click("#fe-confirm-ok")
        expect(checker.locator(f"[data-approve='{promotion['id']}']")).to_have_count(0)
        expect(checker.locator("#decided")).to_contain_text("agreed: same dataset")
        in_force = [
            r for r in server.api("GET", "/risk/rulesets", "admin").json()["items"] if r["in_force"]
        ]
        assert [r["version"] for r in in_force] == ["2"]
        assert not maker.errors and not checker.errors
    finally:  # the other tests of this server expect ruleset 3 in force: promote it back
        backtests = server.api(
            "GET", "/risk/backtests?subject_kind=ruleset&subject=3", "admin"
        ).json()["items"]
        back = server.api(
            "POST",
            "/risk/promotions",
            "approver1",
            json={
                "subject_kind": "ruleset",
                "subject": "3",
                "challenger_backtest_id": backtests[0]["id"],
                "comment": "restore",
            },
        ).json()
        server.api(
            "POST", f"/risk/promotions/{back['id']}/approve", "admin", json={"comment": "restore"}
        )
