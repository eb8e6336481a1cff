"""The asset pool over HTTP: the flows, permissions (two enterprise users), bad input,
Idempotency-Key, the risk block, the ladder and the statement."""

from __future__ import annotations

import pytest

from backend.platform.errors import BusinessRuleViolation
from backend.platform.ports import DisbursementGate, RiskEvents
from tests.integration import test_assetpool_support as support
from tests.integration.test_assetpool_support import (
    Api,
    assert_pools_consistent,
    in_days,
    new_number,
    snapshot,
)

api = support.api  # fixture
pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture


def _pool(api: Api, user: str) -> dict:
    items = api.ok(api.get(user, "/pools"))["items"]
    assert len(items) == 1
    return api.ok(api.get(user, f"/pools/{items[0]['id']}"))


def _ebill(
    api: Api, user: str, pool_id: int, amount="100000.00", bank="ICBC", days=60, pledge=True
):
    body = {
        "kind": "ebill",
        "number": new_number(),
        "issuer_bank": bank,
        "amount": amount,
        "maturity_date": in_days(days),
        "pledge": pledge,
    }
    return api.post(user, f"/pools/{pool_id}/assets", body)


def test_enter_pledge_accept_and_unpledge(api: Api):
    pool = _pool(api, "supplier1")
    start = pool["capacity"]
    asset = api.ok(_ebill(api, "supplier1", pool["id"], "100000.00", "CMB"), 201)
    assert asset["status"] == "pledged" and asset["eligible"] and asset["haircut_bp"] == 9500
    assert asset["value"] == "95000.00"
    after = api.ok(api.get("supplier1", f"/pools/{pool['id']}"))
    assert float(after["capacity"]) - float(start) == pytest.approx(95000)

    bill = api.ok(
        api.post(
            "supplier1",
            f"/pools/{pool['id']}/bills",
            {"payee": "Some Supplier", "amount": "50000.00", "maturity_date": in_days(90)},
            headers={"Idempotency-Key": "ap-bill-1"},
        ),
        201,
    )
    assert bill["status"] == "outstanding" and bill["fee"] == "25.00"
    again = api.post(
        "supplier1",
        f"/pools/{pool['id']}/bills",
        {"payee": "Some Supplier", "amount": "50000.00", "maturity_date": in_days(90)},
        headers={"Idempotency-Key": "ap-bill-1"},
    )
    assert again.get_json()["id"] == bill["id"]  # replayed, not a second bill
    bills = api.ok(api.get("supplier1", f"/pools/{pool['id']}/bills"))["items"]
    assert [b["id"] for b in bills].count(bill["id"]) == 1

    # an ineligible asset: entered with reasons, pledging it refused
    bad = api.ok(_ebill(api, "supplier1", pool["id"], bank="NOSUCH", days=3, pledge=False), 201)
    assert bad["eligible"] is False
    assert set(bad["reasons"]) == {"issuer_not_eligible", "tenor_too_short"}
    r = api.post("supplier1", f"/pools/{pool['id']}/assets/{bad['id']}/pledge")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "asset_not_eligible"

    # unpledge within capacity works, beyond it is refused and changes nothing
    api.ok(api.post("supplier1", f"/pools/{pool['id']}/assets/{asset['id']}/unpledge"))
    assert_pools_consistent(api.session)


def test_unpledge_below_zero_is_refused_and_changes_nothing(api: Api):
    pool = _pool(api, "core2")
    cap = pool["capacity"]
    api.ok(
        api.post(
            "core2",
            f"/pools/{pool['id']}/bills",
            {"payee": "P", "amount": cap, "maturity_date": in_days(30)},
        ),
        201,
    )
    pledged = api.ok(api.get("core2", f"/pools/{pool['id']}/assets?status=pledged"))["items"]
    before = snapshot(api.session)
    r = api.post("core2", f"/pools/{pool['id']}/assets/{pledged[0]['id']}/unpledge")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "insufficient_capacity"
    r = api.post("core2", f"/pools/{pool['id']}/margin/withdraw", {"amount": "1.00"})
    assert r.status_code == 422
    r = api.post(
        "core2",
        f"/pools/{pool['id']}/bills",
        {"payee": "P", "amount": "0.01", "maturity_date": in_days(30)},
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "insufficient_capacity"
    assert snapshot(api.session) == before
    assert_pools_consistent(api.session)


def test_one_enterprise_cannot_see_or_change_another_pool(api: Api):
    mine = _pool(api, "core1")
    other = _pool(api, "supplier1")
    assert mine["id"] != other["id"]
    asset = api.ok(api.get("supplier1", f"/pools/{other['id']}/assets"))["items"][0]
    bill = api.ok(api.get("core1", f"/pools/{mine['id']}/bills"))["items"][0]
    before = snapshot(api.session)
    p = other["id"]
    for path in (
        f"/pools/{p}",
        f"/pools/{p}/assets",
        f"/pools/{p}/assets/{asset['id']}",
        f"/pools/{p}/bills",
        f"/pools/{p}/ladder",
        f"/pools/{p}/statement",
        f"/pools/{p}/statement.csv",
    ):
        assert api.get("core1", path).status_code == 404, path
    assert api.get("supplier1", f"/pools/{mine['id']}/bills/{bill['id']}").status_code == 404
    for path, body in (
        (f"/pools/{p}/assets/{asset['id']}/unpledge", {}),
        (f"/pools/{p}/assets/{asset['id']}/pledge", {}),
        (f"/pools/{p}/margin", {"amount": "1.00"}),
        (f"/pools/{p}/margin/withdraw", {"amount": "1.00"}),
        (f"/pools/{p}/bills", {"payee": "x", "amount": "1.00", "maturity_date": in_days(9)}),
    ):
        assert api.post("core1", path, body).status_code == 404, path
    r = _ebill(api, "core1", p)
    assert r.status_code == 404
    # an enterprise may not open another org's pool either
    assert api.post("core1", "/pools", {"org_id": api.org_id("SUPP01")}).status_code == 404
    assert snapshot(api.session) == before
    # bank staff see every pool; they may not act for the enterprise
    for staff in ("rm1", "approver1", "admin"):
        assert len(api.ok(api.get(staff, "/pools?limit=200"))["items"]) == 7
        api.ok(api.get(staff, f"/pools/{p}/assets"))
    assert api.post("rm1", f"/pools/{p}/margin", {"amount": "1.00"}).status_code == 403


BAD_AMOUNTS = [
    {"amount": "NaN"},
    {"amount": "1e308"},
    {"amount": "1.001"},
    {"amount": "-5.00"},
    {"amount": 12.5},
    {"amount": "99999999999999999999999.00"},
    {"amount": "10.00", "extra": 1},
    {},
]


def test_bad_amounts_are_400_and_change_nothing(api: Api):
    pool = _pool(api, "supplier2")
    before = snapshot(api.session)
    for body in BAD_AMOUNTS:
        for path in ("/margin", "/margin/withdraw"):
            r = api.post("supplier2", f"/pools/{pool['id']}{path}", body)
            assert r.status_code == 400, (body, r.get_json())
            assert set(r.get_json()["error"]) == {"code", "message", "details"}
    assert snapshot(api.session) == before


def test_bad_assets_and_bills_and_unknown_ids(api: Api):
    pool = _pool(api, "supplier2")
    p = pool["id"]
    before = snapshot(api.session)
    good = {
        "kind": "ebill",
        "number": new_number(),
        "issuer_bank": "ICBC",
        "amount": "10.00",
        "maturity_date": in_days(30),
    }
    for change in (
        {"kind": "stock"},
        {"number": "x" * 41},
        {"number": "a b"},
        {"issuer_bank": ""},
        {"amount": "0.00"},
        {"maturity_date": "2026-13-01"},
        {"maturity_date": "9999-01-01"},
    ):
        r = api.post("supplier2", f"/pools/{p}/assets", {**good, **change})
        assert r.status_code == 400, (change, r.get_json())
    r = api.post("supplier2", f"/pools/{p}/assets", {**good, "maturity_date": in_days(0)})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "already_matured"
    r = api.post(
        "supplier2",
        f"/pools/{p}/bills",
        {"payee": "x", "amount": "1.00", "maturity_date": in_days(400)},
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bill_term_too_long"
    for path in (f"/pools/{2**40}", f"/pools/{p}/assets/{2**40}", f"/pools/{p}/bills/999999"):
        assert api.get("supplier2", path).status_code == 404, path
    assert api.get("supplier2", f"/pools/{2**70}").status_code in (400, 404)
    assert api.get("supplier2", f"/pools/{p}/statement?cursor=zzz").status_code == 400
    assert api.get("supplier2", f"/pools/{p}/ladder?periods=1000").status_code == 400
    assert snapshot(api.session) == before
    # the same e-bill number twice: 409
    api.ok(api.post("supplier2", f"/pools/{p}/assets", good), 201)
    r = api.post("supplier2", f"/pools/{p}/assets", good)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "asset_number_taken"


class FakeRisk(set):
    """Orgs with an open hard signal, and the events recorded, behind the risk ports."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list = []
        self.levels: list = []

    def ensure_no_blocking_signal(self, session, org_id, *, levels=("hard",)):
        self.levels.append(levels)
        if org_id in self:
            raise BusinessRuleViolation(
                "a hard risk signal is open",
                code="disbursement_blocked_by_risk",
                details={"enterprise_id": 7},
            )

    def record_internal_event(self, session, actor, **kw):
        self.events.append(kw)


def test_a_hard_signal_blocks_new_pool_bills(api: Api):
    fake = FakeRisk()
    wiring = api.app.extensions["finedge"].wiring
    wiring.provide(DisbursementGate, fake)
    wiring.provide(RiskEvents, fake)
    pool = _pool(api, "supplier1")
    fake.add(pool["org_id"])
    before = snapshot(api.session)
    body = {"payee": "x", "amount": "100.00", "maturity_date": in_days(30)}
    r = api.post("supplier1", f"/pools/{pool['id']}/bills", body)
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "disbursement_refused"
    assert "enterprise_id" not in r.get_data(as_text=True)
    assert snapshot(api.session) == before
    assert fake.levels == [("hard",)]
    fake.discard(pool["org_id"])
    api.ok(api.post("supplier1", f"/pools/{pool['id']}/bills", body), 201)


def test_ladder_statement_csv_and_config(api: Api):
    pool = _pool(api, "core1")
    p = pool["id"]
    ladder = api.ok(api.get("core1", f"/pools/{p}/ladder?granularity=month&periods=6"))
    assert len(ladder["points"]) == 7 and ladder["points"][0]["capacity"] == pool["capacity"]
    weeks = api.ok(api.get("core1", f"/pools/{p}/ladder"))
    assert len(weeks["points"]) == 13
    page = api.ok(api.get("core1", f"/pools/{p}/statement?limit=2"))
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = api.ok(api.get("core1", f"/pools/{p}/statement?limit=200&cursor={page['next_cursor']}"))
    kinds = {m["kind"] for m in page["items"] + rest["items"]}
    assert {"asset_in", "asset_pledged", "margin_in", "bill_issued", "fee"} <= kinds
    csv = api.get("core1", f"/pools/{p}/statement.csv?from=2000-01-01")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).count("\n") == 1 + len(page["items"] + rest["items"])

    # configuration: the enterprise may read but not change it; an approver makes version 2
    config = api.ok(api.get("core1", "/config"))
    body = {"values": {"haircuts_bp": {**config["values"]["haircuts_bp"], "margin": 5000}}}
    assert api.post("core1", "/config", body).status_code == 403
    assert api.post("approver1", "/config", {"values": {"fee_rate_bp": 1.5}}).status_code == 400
    assert api.post("approver1", "/config", {"values": {"nope": 1}}).status_code == 400
    v2 = api.ok(api.post("approver1", "/config", body), 201)
    assert v2["version"] == config["version"] + 1 and v2["created_by"] == "approver1"
    after = api.ok(api.get("core1", f"/pools/{p}"))
    assert after["config_version"] == v2["version"]
    assert float(after["margin_value"]) == pytest.approx(float(after["margin_cash"]) / 2)
    versions = api.ok(api.get("admin", "/config/versions"))["items"]
    assert [v["version"] for v in versions][:2] == [v2["version"], config["version"]]
    assert_pools_consistent(api.session)


def test_accept_and_permissions_on_both_databases(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    pool = _pool(api, "core1")
    api.ok(
        api.post(
            "core1",
            f"/pools/{pool['id']}/bills",
            {"payee": "x", "amount": "1000.00", "maturity_date": in_days(30)},
        ),
        201,
    )
    assert api.get("supplier1", f"/pools/{pool['id']}").status_code == 404
    assert_pools_consistent(api.session)


def test_a_pool_is_opened_on_first_use_or_by_bank_staff(api: Api):
    assert api.ok(api.get("trader1", "/pools"))["items"] == []
    opened = api.ok(api.post("trader1", "/pools", {}), 201)
    again = api.ok(api.post("trader1", "/pools", {}), 201)
    assert again["id"] == opened["id"] and opened["capacity"] == "0.00"
    assert api.post("trader2", "/pools", {"org_id": api.org_id("TRD01")}).status_code == 404
    by_rm = api.ok(api.post("rm1", "/pools", {"org_id": api.org_id("TRD02")}), 201)
    assert api.ok(api.get("trader2", "/pools"))["items"][0]["id"] == by_rm["id"]
    assert api.post("rm1", "/pools", {"org_id": api.org_id("OEM1")}).status_code == 404
    assert api.post("rm1", "/pools", {}).status_code == 404
    # a teller books money into the deposit; the enterprise then pays margin in
    p = opened["id"]
    assert api.post("trader1", f"/pools/{p}/deposits", {"amount": "10.00"}).status_code == 403
    api.ok(api.post("teller1", f"/pools/{p}/deposits", {"amount": "500.00"}))
    api.ok(api.post("trader1", f"/pools/{p}/margin", {"amount": "200.00"}))
    pool = api.ok(api.get("trader1", f"/pools/{p}"))
    assert (pool["capacity"], pool["deposit_available"]) == ("200.00", "300.00")
    r = api.post("trader1", f"/pools/{p}/margin", {"amount": "300.01"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "insufficient_deposit"
    assert_pools_consistent(api.session)


def test_a_haircut_cut_reaches_the_real_risk_area(api: Api):
    """Through the real RiskEvents port: a configuration that leaves CORE1's pool short records
    one pool_shortfall risk event of CORE1's enterprise."""
    from sqlalchemy import select

    from backend.risk.models import RiskEvent

    pool = _pool(api, "core1")
    cap = pool["capacity"]
    api.ok(
        api.post(
            "core1",
            f"/pools/{pool['id']}/bills",
            {"payee": "P", "amount": cap, "maturity_date": in_days(30)},
        ),
        201,
    )
    config = api.ok(api.get("admin", "/config"))["values"]
    hc = {**config["haircuts_bp"], "edeposit": 5000}
    api.ok(api.post("approver1", "/config", {"values": {"haircuts_bp": hc}}), 201)
    short = api.ok(api.get("core1", f"/pools/{pool['id']}"))
    assert float(short["capacity"]) < 0
    with api.session() as s:
        kinds = [e.kind for e in s.scalars(select(RiskEvent))]
    assert kinds.count("pool_shortfall") >= 1
    assert_pools_consistent(api.session)
