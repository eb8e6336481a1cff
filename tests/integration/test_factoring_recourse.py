"""Recourse collection from the supplier, on SQLite and PostgreSQL: bank staff collect a
recourse claim from the supplier's deposit (all, what the deposit holds, or an amount given;
never more than the claim or the deposit), a retry applies once, the claim closes when fully
paid, a late core payment repays the rest and gives the supplier back what it paid, and the
maturity job collects from a funded supplier deposit. ``ledger verify`` after each."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.ledger.models import Transfer
from backend.platform.audit import AuditRecord
from tests.integration import test_factoring_support as support
from tests.integration.test_factoring_concurrency import _race
from tests.integration.test_factoring_risk import _age, _run_job
from tests.integration.test_factoring_support import Api, assert_books

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture


@pytest.fixture
def api(pg_or_sqlite_api: Api) -> Api:
    return pg_or_sqlite_api


def _claim(api: Api) -> tuple[dict, dict, dict]:
    """A financed part CORE1 cannot pay, overdue, its recourse claim booked: (part, application,
    claim)."""
    p = api.payable(amount="30000000.00", days=60)  # CORE1's deposit cannot cover it
    body = {"org_id": api.org_id("SUPP01"), "counterparty_limit": "40000000.00"}
    api.ok(api.post("rm1", f"/agreements/{p['agreement_id']}/suppliers", body), 201)
    application = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
    assert application["status"] == "approved", application
    _age(api, p["id"], 5)
    _run_job(api, datetime.now(UTC))
    claim = api.ok(api.post("rm1", f"/payables/{p['id']}/recourse"), 201)
    assert claim["status"] == "open" and claim["collected"] == "0.00"
    assert claim["outstanding"] == application["disbursed"]
    return p, application, claim


def _balance(api: Api, code: str) -> Decimal:
    with api.session() as s:
        account = s.scalar(select(ledger.Account).where(ledger.Account.code == code))
        return ledger.balance_of(account).posted if account is not None else Decimal("0.00")


def _deposit_of(api: Api, org: str) -> Decimal:
    return _balance(api, f"fct:org{api.org_id(org)}:deposit")


def test_partial_collection_then_a_late_core_payment_repays_the_rest_and_refunds(api: Api):
    p, application, claim = _claim(api)
    disbursed = Decimal(application["disbursed"])
    cid = claim["id"]
    supp = api.org_id("SUPP01")
    # the advance is gone from the supplier's deposit: spend it down to 1,000,000.00
    start = _deposit_of(api, "SUPP01")
    with api.session() as s:
        from backend.factoring.accounts import bank_accounts
        from backend.platform.context import SYSTEM

        deposit = s.scalar(
            select(ledger.Account).where(ledger.Account.code == f"fct:org{supp}:deposit")
        )
        ledger.transfer(
            s,
            SYSTEM,
            transfer_id="test:spend",
            debit_account_id=deposit.id,
            credit_account_id=bank_accounts(s, SYSTEM)["cash"].id,
            amount=start - Decimal("1000000.00"),
            code="test_spend",
        )
        s.commit()
    # who may: bank staff collect; the supplier sees its own claim; another supplier 404
    assert api.error(api.post("supplier1", f"/recourse-claims/{cid}/collect"), 403) == "forbidden"
    assert api.error(api.post("rm1", "/recourse-claims/999999/collect"), 404) == (
        "recourse_claim_not_found"
    )
    assert api.ok(api.get("supplier1", f"/recourse-claims/{cid}"))["id"] == cid
    assert api.error(api.get("supplier2", f"/recourse-claims/{cid}"), 404) == (
        "recourse_claim_not_found"
    )
    assert cid not in [c["id"] for c in api.ok(api.get("supplier2", "/recourse-claims"))["items"]]
    assert cid in [c["id"] for c in api.ok(api.get("supplier1", "/recourse-claims"))["items"]]
    # never more than the claim, nor than the deposit; bad input changes nothing
    too_much = {"amount": str(disbursed + Decimal("0.01"))}
    assert api.error(api.post("rm1", f"/recourse-claims/{cid}/collect", too_much), 422) == (
        "exceeds_outstanding"
    )
    short = {"amount": "1000000.01"}
    assert api.error(api.post("rm1", f"/recourse-claims/{cid}/collect", short), 422) == (
        "insufficient_deposit"
    )
    for bad in ("1.001", "NaN", "-5.00", "1e308", 12.5, "0.00"):
        r = api.post("rm1", f"/recourse-claims/{cid}/collect", {"amount": bad})
        assert r.status_code in (400, 422), (bad, r.get_json())
    assert api.ok(api.get("rm1", f"/recourse-claims/{cid}"))["collected"] == "0.00"
    # an amount given, retried with the same Idempotency-Key: applied once
    key = {"Idempotency-Key": "rcol-test-1"}
    body = {"amount": "400000.00"}
    first = api.ok(api.post("rm1", f"/recourse-claims/{cid}/collect", body, headers=key))
    again = api.ok(api.post("rm1", f"/recourse-claims/{cid}/collect", body, headers=key))
    assert first == again
    assert first["collected"] == "400000.00" and first["collections"] == 1
    # without an amount: what the deposit holds (600,000.00), the claim stays open
    second = api.ok(api.post("approver1", f"/recourse-claims/{cid}/collect"))
    assert second["collected"] == "1000000.00" and second["status"] == "open"
    assert Decimal(second["outstanding"]) == disbursed - Decimal("1000000.00")
    assert api.error(api.post("admin", f"/recourse-claims/{cid}/collect"), 422) == (
        "insufficient_deposit"
    )
    assert _deposit_of(api, "SUPP01") == 0
    assert _balance(api, f"fct:org{supp}:recourse") == disbursed - Decimal("1000000.00")
    with api.session() as s:
        audits = s.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "factoring.recourse_collected",
                AuditRecord.object_id == str(cid),
            )
        ).all()
        assert len(audits) == 2
    assert_books(api)
    # the core enterprise pays late: the rest of the claim repaid, the 1,000,000.00 back
    api.deposit("CORE1", "30000000.00")
    assert api.ok(api.post("core1", f"/payables/{p['id']}/pay"))["status"] == "SETTLED"
    advance = Decimal(application["advance_amount"])
    rest = Decimal(p["amount"]) - advance
    assert _balance(api, f"fct:org{supp}:recourse") == 0
    assert _deposit_of(api, "SUPP01") == Decimal("1000000.00") + rest
    closed = api.ok(api.get("rm1", f"/recourse-claims/{cid}"))
    assert closed["status"] == "repaid" and closed["closed_at"]
    assert api.error(api.post("rm1", f"/recourse-claims/{cid}/collect"), 409) == ("recourse_closed")
    assert_books(api)


def test_full_collection_closes_the_claim_and_a_late_payment_gives_it_all_back(api: Api):
    p, application, claim = _claim(api)
    disbursed = Decimal(application["disbursed"])
    cid = claim["id"]
    # the supplier's deposit still holds the advance: all of the claim is collected
    done = api.ok(api.post("rm1", f"/recourse-claims/{cid}/collect"))
    assert done["status"] == "collected" and done["outstanding"] == "0.00"
    assert Decimal(done["collected"]) == disbursed and done["closed_at"]
    assert api.error(api.post("rm1", f"/recourse-claims/{cid}/collect"), 409) == ("recourse_closed")
    listed = api.ok(api.get("rm1", "/recourse-claims?status=collected&limit=1"))
    assert [c["id"] for c in listed["items"]] == [cid]
    assert api.ok(api.get("rm1", f"/payables/{p['id']}"))["status"] == "OVERDUE"
    assert_books(api)
    before = _deposit_of(api, "SUPP01")
    api.deposit("CORE1", "30000000.00")
    assert api.ok(api.post("core1", f"/payables/{p['id']}/pay"))["status"] == "SETTLED"
    rest = Decimal(p["amount"]) - Decimal(application["advance_amount"])
    assert _deposit_of(api, "SUPP01") == before + disbursed + rest
    assert _balance(api, f"fct:org{api.org_id('SUPP01')}:recourse") == 0
    assert api.ok(api.get("supplier1", f"/recourse-claims/{cid}"))["status"] == "repaid"
    assert_books(api)


def test_the_maturity_job_collects_open_claims_from_funded_deposits(api: Api):
    _p, application, claim = _claim(api)
    result = _run_job(api, datetime.now(UTC))  # the deposit holds the advance: all collected
    assert result["recourse_collected"] == 1
    got = api.ok(api.get("rm1", f"/recourse-claims/{claim['id']}"))
    assert got["status"] == "collected" and got["collected"] == application["disbursed"]
    again = _run_job(api, datetime.now(UTC))  # nothing open: nothing moves
    assert again["recourse_collected"] == 0
    assert api.ok(api.get("rm1", f"/recourse-claims/{claim['id']}"))["collections"] == 1
    assert_books(api)


def test_concurrent_collections_of_one_claim_collect_it_once(api: Api):
    """16 bank-staff collections at the same moment, each its own client and connection: one
    collects the claim, the others find it closed; one ledger movement."""
    _p, application, claim = _claim(api)
    answers = _race(api, "rm1", f"/recourse-claims/{claim['id']}/collect")
    assert [a["http"] for a in answers].count(200) == 1, answers
    closed = [a for a in answers if a["http"] != 200]
    assert {(a["http"], a["error"]["code"]) for a in closed} == {(409, "recourse_closed")}
    got = api.ok(api.get("rm1", f"/recourse-claims/{claim['id']}"))
    assert got["collected"] == application["disbursed"] and got["collections"] == 1
    with api.session() as s:
        moved = s.scalar(
            select(func.count())
            .select_from(Transfer)
            .where(Transfer.transfer_id.like(f"fct:rcol:{claim['id']}:%"))
        )
        assert moved == 1
    assert_books(api)
