"""Bad input to factoring gets the contract's error shape and changes nothing (every factoring,
ledger and audit table and every ledger balance compared before and after), on SQLite and
PostgreSQL: NaN, 1e308, three decimals, negative and zero amounts, huge integers, unknown ids,
bad dates and rates, unknown fields, illegal transitions."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from backend import ledger
from backend.models import metadata
from tests.integration import test_factoring_support as support
from tests.integration.test_factoring_support import Api, assert_books, new_invoice

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture


def snapshot(api: Api) -> dict:
    with api.session() as s:
        counts = {
            t.name: s.scalar(select(func.count()).select_from(t))
            for t in metadata.sorted_tables
            if t.name.startswith(("fct_", "ledger_")) or t.name == "audit_records"
        }
        balances = sorted(
            (a.code, a.debits_posted, a.credits_posted) for a in s.scalars(select(ledger.Account))
        )
    return {"counts": counts, "balances": balances}


def test_bad_input_is_refused_and_changes_nothing(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    p = api.payable(amount="1000.00")
    financed = api.payable(amount="2000.00")
    huge = api.payable(amount="30000000.00")  # more than CORE1's deposit
    api.ok(api.post("supplier1", f"/payables/{financed['id']}/finance"), 201)
    today = date.today()
    supp2, core1 = api.org_id("SUPP02"), api.org_id("CORE1")
    agreement = p["agreement_id"]
    reg = {
        "invoice_no": new_invoice(),
        "amount": "10.00",
        "issue_date": str(today),
        "maturity_date": str(today + timedelta(days=30)),
        "creditor_id": api.org_id("SUPP01"),
    }
    big = 2**63
    cases = [
        # (user, path, body or raw JSON text, status, code)
        ("core1", "/payables", {**reg, "amount": "10.001"}, 400, None),
        ("core1", "/payables", {**reg, "amount": "-10.00"}, 400, None),
        ("core1", "/payables", {**reg, "amount": "0"}, 400, None),
        ("core1", "/payables", {**reg, "amount": 10.5}, 400, None),
        ("core1", "/payables", {**reg, "amount": "1e308"}, 400, None),
        ("core1", "/payables", {**reg, "amount": "99999999999999999.00"}, 400, None),
        ("core1", "/payables", '{"amount": NaN}', 400, None),
        ("core1", "/payables", '{"amount": 1e308}', 400, None),
        ("core1", "/payables", {**reg, "creditor_id": big}, 400, None),
        ("core1", "/payables", {**reg, "creditor_id": 999999}, 422, "supplier_not_admitted"),
        ("core1", "/payables", {**reg, "maturity_date": str(today)}, 400, "invalid_maturity"),
        ("core1", "/payables", {**reg, "maturity_date": "2026-02-30"}, 400, None),
        (
            "core1",
            "/payables",
            {**reg, "maturity_date": str(today + timedelta(days=999))},
            400,
            "invalid_maturity",
        ),
        ("core1", "/payables", {**reg, "invoice_no": "<script>"}, 400, None),
        ("core1", "/payables", {**reg, "surprise": 1}, 400, None),
        (
            "core1",
            "/payables",
            {**reg, "invoice_no": p["invoice_no"]},
            409,
            "invoice_already_registered",
        ),
        (
            "supplier1",
            "/payables",
            {**reg, "creditor_id": None, "debtor_id": 999999},
            404,
            "core_enterprise_not_found",
        ),
        ("teller1", "/payables", reg, 403, "not_an_enterprise"),
        ("supplier1", "/payables/999999/finance", {}, 404, "payable_not_found"),
        ("supplier1", f"/payables/{big}/finance", {}, 400, None),
        (
            "supplier1",
            f"/payables/{p['id']}/transfer",
            {"to_org_id": supp2, "amount": "1000.01"},
            422,
            "exceeds_held_amount",
        ),
        (
            "supplier1",
            f"/payables/{p['id']}/transfer",
            {"to_org_id": supp2, "amount": "0.001"},
            400,
            None,
        ),
        (
            "supplier1",
            f"/payables/{p['id']}/transfer",
            {"to_org_id": 999999, "amount": "1.00"},
            404,
            "supplier_not_found",
        ),
        (
            "supplier1",
            f"/payables/{p['id']}/transfer",
            {"to_org_id": core1, "amount": "1.00"},
            422,
            "invalid_receiver",
        ),
        (
            "supplier1",
            f"/payables/{financed['id']}/transfer",
            {"to_org_id": supp2, "amount": "1.00"},
            409,
            "illegal_transition",
        ),
        ("core1", f"/payables/{p['id']}/confirm", {}, 409, "illegal_transition"),
        ("core1", "/payables/999999/pay", {}, 404, "payable_not_found"),
        ("core1", f"/payables/{huge['id']}/pay", {}, 422, "insufficient_deposit"),
        ("rm1", f"/payables/{financed['id']}/recourse", {}, 409, "illegal_transition"),
        ("rm1", "/agreements", {"core_id": core1}, 400, None),
        (
            "rm1",
            f"/agreements/{agreement}/suppliers",
            {"org_id": supp2, "counterparty_limit": "NaN"},
            400,
            None,
        ),
        (
            "rm1",
            "/agreements/999999/suppliers",
            {"org_id": supp2, "counterparty_limit": "1.00"},
            404,
            "agreement_not_found",
        ),
        ("rm1", f"/agreements/{agreement}/status", {"status": "sleeping"}, 400, None),
        ("teller1", "/deposits", {"org_id": core1, "amount": "-5.00"}, 400, None),
        ("teller1", "/deposits", {"org_id": 999999, "amount": "5.00"}, 404, "enterprise_not_found"),
    ]
    api.headers("teller1")
    before = snapshot(api)
    for user, path, body, status, code in cases:
        if isinstance(body, str):
            r = api.client.post(
                f"/api/v1/factoring{path}",
                data=body,
                content_type="application/json",
                headers=api.headers(user),
            )
        else:
            r = api.post(user, path, body)
        assert r.status_code == status, (path, body, r.get_json())
        error = r.get_json()["error"]
        assert set(error) >= {"code", "message"}, error
        if code:
            assert error["code"] == code, (path, body, error)
    rates = {
        "core_id": api.org_id("TRD03"),
        "limit": "1000.00",
        "advance_rate": "0.9",
        "interest_rate": "0.05",
        "fee_rate": "0.001",
        "with_recourse": False,
        "valid_from": str(today),
        "valid_to": str(today + timedelta(days=30)),
    }
    for bad in (
        {"advance_rate": "1.5"},
        {"advance_rate": "0.12345"},
        {"interest_rate": "0.9"},
        {"valid_to": str(today)},
        {"advance_rate": "0"},
    ):
        r = api.post("rm1", "/agreements", {**rates, **bad})
        assert r.status_code == 400, (bad, r.get_json())
    for query in ("?status=FLYING", "?limit=0", "?limit=100000", "?role=boss", "?cursor=zzz"):
        r = api.get("supplier1", f"/payables{query}")
        assert r.status_code == 400, (query, r.get_json())
    assert snapshot(api) == before
    assert_books(api)
