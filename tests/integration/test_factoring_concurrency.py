"""One invoice, financed once: 16 applications at the same moment, each in its own thread with
its own client (so its own session and connection), on SQLite and PostgreSQL. Exactly one is
approved, the rest refused with ``invoice_already_financed``; the ledger moved once and verifies.
And the claim itself: a second claim on the same part of an invoice cannot be inserted."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.factoring import rules
from backend.factoring.models import Application, FinancingClaim, Payable
from backend.ledger.models import Transfer
from tests.integration import test_factoring_support as support
from tests.integration.test_factoring_support import Api, assert_books

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture

N = 16


def _race(api: Api, user: str, path: str) -> list[dict]:
    api.headers(user)  # log in before the race
    barrier = threading.Barrier(N)
    answers: list[dict | None] = [None] * N

    def run(i: int) -> None:
        client = api.app.test_client()
        barrier.wait()
        r = client.post(f"/api/v1/factoring{path}", json={}, headers=api.headers(user))
        answers[i] = {"http": r.status_code, **(r.get_json() or {})}

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers


def test_sixteen_concurrent_applications_finance_an_invoice_once(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    p = api.payable(amount="500000.00")
    answers = _race(api, "supplier1", f"/payables/{p['id']}/finance")
    assert all(a and a["http"] == 201 for a in answers), answers
    assert [a["status"] for a in answers].count("approved") == 1
    refused = [a for a in answers if a["status"] == "refused"]
    assert len(refused) == N - 1
    assert {r["reasons"][0]["code"] for r in refused} == {"invoice_already_financed"}
    with api.session() as s:
        assert s.get(Payable, p["id"]).status == "FINANCED"
        legs = s.scalar(
            select(func.count())
            .select_from(Transfer)
            .where(Transfer.transfer_id == f"fct:adv:{p['id']}")
        )
        assert legs == 1
        kept = dict(
            s.execute(
                select(Application.status, func.count())
                .where(Application.payable_id == p["id"])
                .group_by(Application.status)
            ).all()
        )
        assert kept == {"approved": 1, "refused": N - 1}
    assert_books(api)


def test_a_second_claim_on_one_part_of_an_invoice_cannot_be_inserted(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    p = api.payable(amount="1000.00")
    app_ = api.ok(api.post("supplier1", f"/payables/{p['id']}/finance"), 201)
    assert app_["status"] == "approved"
    with api.session() as s:
        payable = s.get(Payable, p["id"])
        twin = FinancingClaim(
            claim_key=rules.claim_key(payable.invoice_key, payable.part_no),
            invoice_key=payable.invoice_key,
            payable_id=payable.id,
            application_id=app_["id"],
            amount=payable.amount,
            created_at=datetime.now(UTC),
        )
        s.add(twin)
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
