"""Collateral monitoring and the model registry in the staff console, on the seeded demo: the
four seeded quarters' ratio studies with their chart and the planted move's drift alarm, the
LTV section, "Revalue the book" for an approver; the registry with its champion, and an admin
promoting a challenger trained from a CSV through ``finedge collateral train``."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.floorplan_world import ok
from tests.browser_support import screenshot


def test_approver_sees_the_studies_and_revalues_the_book(server, signed_in):
    studies = ok(server.api("GET", "/collateral/ratio-studies", "approver1"))["items"]
    assert len(studies) >= 4
    last = max(s["quarter"] for s in studies)
    page = signed_in("approver1", surface="console")
    page.goto(f"{server.url}/console/collateral/monitoring")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#studies td.quarter").filter(has_text=last)).to_be_visible()
    expect(page.locator("#chart-studies canvas").first).to_be_attached()
    expect(
        page.locator("#alarms li[data-code='drift_median_ratio']").filter(has_text=last)
    ).to_be_visible()
    expect(page.locator("#chart-ltv canvas").first).to_be_attached()
    runs_before = len(ok(server.api("GET", "/collateral/revaluations", "approver1"))["items"])
    page.locator("#revalue").click()
    expect(page.locator("#fe-toasts")).to_contain_text("重估完成")
    runs = ok(server.api("GET", "/collateral/revaluations", "approver1"))["items"]
    assert len(runs) == runs_before + 1 and runs[0]["status"] == "done"
    expect(page.locator("#runs td.run-key").filter(has_text=runs[0]["run_key"])).to_be_visible()
    screenshot(page, "console-collateral-monitoring")
    assert not page.errors


def test_an_rm_has_no_revalue_button(server, signed_in):
    page = signed_in("rm1", surface="console")
    page.goto(f"{server.url}/console/collateral/monitoring")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(page.locator("#studies td.quarter").first).to_be_visible()
    expect(page.locator("#revalue")).to_be_hidden()
    assert not page.errors


def test_admin_promotes_a_challenger(server, signed_in, tmp_path):
    from backend.collateral.avm.market import TRAIN_MAP, generate_sales

    csv = tmp_path / "sales.csv"
    generate_sales(400, seed=99, community_seed=2026).to_csv(csv, index=False)
    server.finedge(
        "collateral", "train", "--csv", str(csv), "--map", TRAIN_MAP, "--status", "challenger"
    )
    models = ok(server.api("GET", "/collateral/models", "admin"))["items"]
    challenger = next(m for m in models if m["status"] == "challenger")
    page = signed_in("admin", surface="console")
    page.goto(f"{server.url}/console/collateral/models")
    page.wait_for_selector("main[data-ready='1']", state="attached")
    expect(
        page.locator("#models td.version").filter(has_text=f"v{challenger['version']}")
    ).to_be_visible()
    expect(page.locator("#metrics tbody tr").first).to_be_visible()
    screenshot(page, "console-collateral-models")
    page.locator(f"#models button[data-model='{challenger['id']}']").click()
    expect(page.locator("#fe-toasts")).to_contain_text("已设为冠军模型")
    got = ok(server.api("GET", f"/collateral/models/{challenger['id']}", "admin"))
    assert got["status"] == "champion"
    assert not page.errors
