"""The factoring lifecycle through the HTTP API, on SQLite and PostgreSQL: registered,
confirmed, split and transferred, financed (money through the ledger), paid by the core
enterprise and settled; illegal transitions are 409 and change nothing; every step is audited;
an Idempotency-Key replays the first answer; the books balance."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend import ledger
from backend.factoring import rules
from backend.platform.audit import AuditRecord
from tests.integration import test_factoring_support as support
from tests.integration.test_factoring_support import Api, assert_books, new_invoice

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture


@pytest.fixture
def api(pg_or_sqlite_api: Api) -> Api:
    """Every lifecycle test runs on SQLite and on PostgreSQL."""
    return pg_or_sqlite_api


def balance(api: Api, code: str) -> Decimal:
    with api.session() as s:
        account = s.scalar(select(ledger.Account).where(ledger.Account.code == code))
        return ledger.balance_of(account).posted if account else Decimal("0.00")


def test_supplier_registers_core_confirms_then_finance_pay_settle(api: Api):
    supp, core = api.org_id("SUPP01"), api.org_id("CORE1")
    today = date.today()
    body = {
        "invoice_no": new_invoice(),
        "amount": "200000.00",
        "issue_date": str(today),
        "maturity_date": str(today + timedelta(days=90)),
        "debtor_id": core,
    }
    p = api.ok(api.post("supplier1", "/payables", body), 201)
    assert p["status"] == "REGISTERED" and p["holder_id"] == supp
    # not confirmed yet: the rules refuse, the refusal is kept with its reason
    refused = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
    assert refused["status"] == "refused"
    assert [r["code"] for r in refused["reasons"]] == ["payable_not_confirmed"]
    assert api.error(api.post("supplier1", f"/payables/{p['id']}/confirm"), 403) == "not_the_debtor"
    p = api.ok(api.post("core1", f"/payables/{p['id']}/confirm"))
    assert p["status"] == "CONFIRMED"
    assert api.error(api.post("core1", f"/payables/{p['id']}/confirm"), 409) == "illegal_transition"

    before = balance(api, f"fct:org{supp}:deposit")
    app_ = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
    assert app_["status"] == "approved", app_
    # 0.90 advance, 4.35 % a year on 90 days (360-day year), 0.20 % fee, taken up front
    advance = Decimal("180000.00")
    interest = (advance * Decimal("0.0435") * 90 / 360).quantize(Decimal("0.01"))
    fee = Decimal("360.00")
    assert Decimal(app_["advance_amount"]) == advance
    assert Decimal(app_["interest"]) == interest and Decimal(app_["fee"]) == fee
    assert Decimal(app_["disbursed"]) == advance - interest - fee
    assert balance(api, f"fct:org{supp}:deposit") - before == advance - interest - fee
    assert api.ok(api.get("supplier1", f"/payables/{p['id']}"))["status"] == "FINANCED"
    # the same Idempotency-Key again: the first answer, nothing new
    key = {"Idempotency-Key": f"fin-{p['id']}"}
    first = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance", headers=key), 201)
    replay = api.post("supplier1", f"/payables/{p['id']}/finance", headers=key)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.get_json() == first
    again = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
    assert [r["code"] for r in again["reasons"]] == ["invoice_already_financed"]
    assert_books(api)

    # the core enterprise pays at (or before) maturity: PAID, then SETTLED
    assert api.error(api.post("supplier1", f"/payables/{p['id']}/pay"), 403) == "not_the_debtor"
    income_before = balance(api, "fct:bank:income")
    paid = api.ok(api.post("core1", f"/payables/{p['id']}/pay"))
    assert paid["status"] == "SETTLED" and paid["paid_at"] and paid["settled_at"]
    assert balance(api, f"fct:org{supp}:deposit") - before == Decimal("200000.00") - interest - fee
    assert balance(api, "fct:bank:income") - income_before == interest + fee
    assert api.error(api.post("core1", f"/payables/{p['id']}/pay"), 409) == "illegal_transition"
    with api.session() as s:
        actions = list(
            s.scalars(
                select(AuditRecord.action)
                .where(
                    AuditRecord.object_type == "fct_payable", AuditRecord.object_id == str(p["id"])
                )
                .order_by(AuditRecord.id)
            )
        )
    assert actions == [
        "factoring.payable_registered",
        "factoring.payable_confirmed",
        "factoring.payable_financed",
        "factoring.payable_paid",
        "factoring.payable_settled",
    ]
    assert_books(api)


def test_split_and_transfer_keeps_the_parts_adding_up_and_the_confirmation(api: Api):
    p = api.payable(amount="100000.00")
    supp1, supp2, supp15 = api.org_id("SUPP01"), api.org_id("SUPP02"), api.org_id("SUPP15")
    part = api.ok(
        api.post(
            "supplier1", f"/payables/{p['id']}/transfer", {"to_org_id": supp2, "amount": "30000.01"}
        ),
        201,
    )
    assert part["id"] != p["id"] and part["parent_id"] == p["id"] and part["part_no"] == 1
    assert part["holder_id"] == supp2 and part["transferred_from_id"] == supp1
    assert part["status"] == "CONFIRMED" and part["confirmed_at"]
    parent = api.ok(api.get("supplier1", f"/payables/{p['id']}"))
    assert parent["amount"] == "69999.99" and parent["holder_id"] == supp1
    assert sum(Decimal(x["amount"]) for x in parent["parts"]) == Decimal("100000.00")
    # more than what is held: refused, nothing changes
    code = api.error(
        api.post(
            "supplier2",
            f"/payables/{part['id']}/transfer",
            {"to_org_id": supp15, "amount": "30000.02"},
        ),
        422,
    )
    assert code == "exceeds_held_amount"
    # supplier2 passes all of its part on to SUPP15 (another chain's supplier: admitted at tier 2)
    whole = api.ok(
        api.post(
            "supplier2",
            f"/payables/{part['id']}/transfer",
            {"to_org_id": supp15, "amount": "30000.01"},
        ),
        201,
    )
    assert whole["id"] == part["id"] and whole["holder_id"] == supp15
    chain = api.ok(api.get("admin", f"/agreements/{p['agreement_id']}/suppliers?limit=200"))[
        "items"
    ]
    assert any(s["org_id"] == supp15 and s["tier"] == 2 for s in chain)
    # each part is financed on its own; the holder that passed a part on can no longer act
    assert (
        api.error(api.post("supplier2", f"/payables/{part['id']}/finance"), 403) == "not_the_holder"
    )
    ok = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
    assert ok["status"] == "approved" and ok["amount"] == "69999.99"
    # a financed part cannot be split any more
    code = api.error(
        api.post(
            "supplier1", f"/payables/{p['id']}/transfer", {"to_org_id": supp2, "amount": "1.00"}
        ),
        409,
    )
    assert code == "illegal_transition"
    assert_books(api)


def test_the_same_invoice_is_registered_once_however_it_is_written(api: Api):
    p = api.payable()
    today = date.today()
    body = {
        "invoice_no": p["invoice_no"].lower().replace("-", " "),
        "amount": "5.00",
        "issue_date": str(today),
        "maturity_date": str(today + timedelta(days=30)),
        "debtor_id": api.org_id("CORE1"),
    }
    assert rules.normalise_invoice_no(body["invoice_no"]) == rules.normalise_invoice_no(
        p["invoice_no"]
    )
    assert api.error(api.post("supplier1", "/payables", body), 409) == "invoice_already_registered"


def test_limits_refuse_with_reasons(api: Api):
    supp = api.org_id("SUPP03")
    agreement = api.ok(api.get("rm1", "/agreements"))["items"][0]
    api.ok(
        api.post(
            "rm1",
            f"/agreements/{agreement['id']}/suppliers",
            {"org_id": supp, "counterparty_limit": "1000.00"},
        ),
        201,
    )
    p = api.payable(supplier="SUPP03", amount="2000.00")
    # SUPP03 has no login: it applies through the service as the HTTP view would
    from backend.factoring import service
    from backend.platform.context import Actor

    with api.session() as s:
        actor = Actor(user_id=None, username="supp3", role="enterprise", org_id=supp)
        decided = service.apply_for_financing(s, actor, p["id"])
        s.commit()
        assert decided.status == "refused"
        assert [r["code"] for r in decided.reasons] == ["counterparty_limit_exceeded"]
    listed = api.ok(api.get("approver1", f"/applications?payable_id={p['id']}"))["items"]
    assert listed[0]["reasons"][0]["code"] == "counterparty_limit_exceeded"


def test_expired_or_suspended_agreement_refuses(api: Api):
    p = api.payable(amount="1000.00")
    agreement_id = p["agreement_id"]
    api.ok(api.post("rm1", f"/agreements/{agreement_id}/status", {"status": "suspended"}))
    refused = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
    assert [r["code"] for r in refused["reasons"]] == ["agreement_inactive"]
    api.ok(api.post("rm1", f"/agreements/{agreement_id}/status", {"status": "active"}))
    assert (
        api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)["status"] == "approved"
    )
