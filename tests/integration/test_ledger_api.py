"""The ledger over HTTP with two dealer orgs, on SQLite and PostgreSQL: an org sees only its own
accounts, money moves only for tellers and admins, every movement is idempotent and audited,
refused requests change nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from backend import ledger
from backend.identity import service as identity
from backend.identity.models import Org
from backend.identity.tokens import issue_token
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM
from tests.ledger_support import snapshot

PREFIX = "/api/v1/ledger"


USERS = [  # username, role, org code
    ("admin", "admin", "BANK"),
    ("teller1", "teller", "BR001"),
    ("approver1", "approver", "BANK"),
    ("dealer1", "dealer", "DEALER1"),
    ("dealer2", "dealer", "DEALER2"),
]


class Client:
    """Test client with a Bearer token per user (issued directly: no password hashing)."""

    def __init__(self, app, tokens: dict[str, dict]):
        self.app = app
        self.client = app.test_client()
        self.tokens = tokens

    def get(self, user, path, **kw):
        return self.client.get(PREFIX + path, headers=self.tokens[user], **kw)

    def post(self, user, path, body=None, headers=None):
        h = {**self.tokens[user], **(headers or {})}
        return self.client.post(PREFIX + path, json=body or {}, headers=h)

    def session(self):
        return self.app.extensions["finedge"].session_factory()


def expect(response, status: int, code: str | None = None) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body


@pytest.fixture
def api(make_app, db_url):
    app = make_app(db_url, seeded=False)
    if "ledger" not in app.blueprints:  # until the composition root lists miniapp_api.ledger
        from miniapp_api.ledger import blp

        app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(blp)
    ext = app.extensions["finedge"]
    tokens, accounts = {}, {}
    with ext.session_factory() as s:
        orgs = {
            code: identity.get_or_create_org(s, code, code, kind)
            for code, kind in (
                ("BANK", "bank"),
                ("BR001", "branch"),
                ("DEALER1", "dealer"),
                ("DEALER2", "dealer"),
            )
        }
        for username, role, org in USERS:
            user = identity.create_user(
                s, SYSTEM, username=username, password=None, role=role, org=orgs[org]
            )
            token = issue_token(identity.actor_for(user), ext.config.secret_key, 3600)
            tokens[username] = {"Authorization": f"Bearer {token}"}
        funding = ledger.open_account(s, SYSTEM, code="t:funding", name="f", kind="internal")
        accounts["funding"] = funding.id
        for code in ("DEALER1", "DEALER2"):
            acct = ledger.open_account(
                s, SYSTEM, code=f"t:{code}", name=code, kind="deposit", owner_org_id=orgs[code].id
            )
            ledger.transfer(
                s,
                SYSTEM,
                transfer_id=f"t:fund:{code}",
                debit_account_id=funding.id,
                credit_account_id=acct.id,
                amount="1000.00",
                code="funding",
            )
            accounts[code] = acct.id
        s.commit()
    client = Client(app, tokens)
    client.accounts = accounts
    return client


def test_an_org_sees_only_its_own_accounts(api):
    mine, theirs = api.accounts["DEALER1"], api.accounts["DEALER2"]
    ids = {a["id"] for a in expect(api.get("dealer1", "/accounts?limit=200"), 200)["items"]}
    assert mine in ids and theirs not in ids and api.accounts["funding"] not in ids
    staff = {a["id"] for a in expect(api.get("teller1", "/accounts?limit=200"), 200)["items"]}
    assert {mine, theirs, api.accounts["funding"]} <= staff
    account = expect(api.get("dealer1", f"/accounts/{mine}"), 200)
    assert account["balance"]["available"] == "1000.00"
    assert account["balance"]["posted"] == "1000.00" and account["kind"] == "deposit"
    for path in (
        f"/accounts/{theirs}",
        f"/accounts/{theirs}/statement",
        "/transfers/t:fund:DEALER2",
    ):
        expect(api.get("dealer1", path), 404)
    expect(api.get("dealer2", f"/accounts/{mine}/holds"), 404)
    expect(api.get("dealer1", "/transfers/t:fund:DEALER1"), 200)


def test_transfers_are_for_bank_staff_and_idempotent(api):
    a, b = api.accounts["DEALER1"], api.accounts["DEALER2"]
    body = {
        "transfer_id": "api-1",
        "debit_account_id": a,
        "credit_account_id": b,
        "amount": "250.50",
        "code": "payment",
        "reference": "inv 9",
    }
    before = snapshot_of(api)
    expect(api.post("dealer1", "/transfers", body), 403, "forbidden")
    expect(api.post("approver1", "/transfers", body), 403, "forbidden")
    assert snapshot_of(api) == before
    created = expect(api.post("teller1", "/transfers", body), 201)
    assert (created["amount"], created["replayed"], created["created_by"]) == (
        "250.50",
        False,
        "teller1",
    )
    again = expect(api.post("teller1", "/transfers", body), 200)
    assert again["id"] == created["id"] and again["replayed"] is True
    expect(
        api.post("teller1", "/transfers", {**body, "amount": "250.51"}), 409, "transfer_id_reused"
    )
    assert expect(api.get("dealer2", f"/accounts/{b}"), 200)["balance"]["posted"] == "1250.50"
    # Idempotency-Key on top: the stored answer comes back, another body is refused
    key = {"Idempotency-Key": "k-1"}
    body2 = {**body, "transfer_id": "api-2"}
    first = api.post("admin", "/transfers", body2, headers=key)
    second = api.post("admin", "/transfers", body2, headers=key)
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.get_json() == expect(first, 201)
    expect(
        api.post("admin", "/transfers", {**body2, "amount": "1.00"}, headers=key),
        409,
        "idempotency_key_reused",
    )
    with api.session() as s:
        record = s.scalar(select(AuditRecord).where(AuditRecord.object_id == "api-1"))
        assert (record.action, record.actor_username) == ("ledger.transfer", "teller1")


BAD_TRANSFERS = [
    ({"amount": "0"}, 400, "invalid_amount"),
    ({"amount": "-1.00"}, 400, "invalid_amount"),
    ({"amount": "1.005"}, 400, "validation_error"),
    ({"amount": 1.5}, 400, "validation_error"),
    ({"credit_account_id": 999999}, 404, "account_not_found"),
    ({"credit_account_id": "x"}, 400, "validation_error"),
    ({"transfer_id": "has space"}, 400, "validation_error"),
    ({"currency": "USD"}, 422, "currency_mismatch"),
    ({"amount": "1000.01"}, 422, "insufficient_funds"),
    ({"surprise": 1}, 400, "validation_error"),
]


def test_bad_transfers_are_refused_and_change_nothing(api):
    body = {
        "transfer_id": "bad-1",
        "debit_account_id": api.accounts["DEALER1"],
        "credit_account_id": api.accounts["DEALER2"],
        "amount": "10.00",
        "code": "payment",
    }
    before = snapshot_of(api)
    for change, status, code in BAD_TRANSFERS:
        expect(api.post("teller1", "/transfers", {**body, **change}), status, code)
    assert snapshot_of(api) == before
    assert (
        "amount"
        in api.post("teller1", "/transfers", {**body, "amount": 1.5}).get_json()["error"]["details"]
    )


def test_holds_post_void_and_resolve_once(api):
    a, b = api.accounts["DEALER1"], api.accounts["DEALER2"]
    hold = {"debit_account_id": a, "credit_account_id": b, "code": "freeze", "timeout_s": 3600}
    expect(api.post("teller1", "/holds", {**hold, "transfer_id": "h-1", "amount": "600.00"}), 201)
    account = expect(api.get("dealer1", f"/accounts/{a}"), 200)["balance"]
    assert (account["available"], account["pending"]) == ("400.00", "600.00")
    expect(
        api.post("teller1", "/holds", {**hold, "transfer_id": "h-2", "amount": "400.01"}),
        422,
        "insufficient_funds",
    )
    expect(api.post("teller1", "/holds/h-1/post", {"amount": "600.01"}), 422, "amount_exceeds_hold")
    posted = expect(api.post("teller1", "/holds/h-1/post", {"amount": "100.00"}), 201)
    assert (posted["kind"], posted["hold_transfer_id"]) == ("post_pending", "h-1")
    expect(api.post("teller1", "/holds/h-1/post", {"amount": "100.00"}), 200)  # replay
    expect(api.post("teller1", "/holds/h-1/void"), 422, "hold_already_resolved")
    expect(api.post("dealer1", "/holds/h-1/void"), 403)
    state = expect(api.get("dealer1", "/holds/h-1"), 200)
    assert (state["state"], state["posted_amount"]) == ("posted", "100.00")
    assert state["resolution_transfer_id"] == "h-1~post"
    expect(api.post("teller1", "/holds", {**hold, "transfer_id": "h-3", "amount": "50.00"}), 201)
    expect(api.post("teller1", "/holds/h-3/void", {"reference": "unfreeze"}), 201)
    expect(api.post("teller1", "/holds/nope/void"), 404, "hold_not_found")
    assert expect(api.get("dealer1", f"/accounts/{a}"), 200)["balance"]["available"] == "900.00"
    held = expect(api.get("dealer2", f"/accounts/{b}/holds?state=voided"), 200)["items"]
    assert [h["transfer_id"] for h in held] == ["h-3"]


def test_statement_pages_with_a_cursor(api):
    a, b = api.accounts["DEALER1"], api.accounts["DEALER2"]
    for i in range(4):
        body = {
            "transfer_id": f"s-{i}",
            "debit_account_id": a,
            "credit_account_id": b,
            "amount": f"{i + 1}.00",
            "code": "pay",
        }
        expect(api.post("teller1", "/transfers", body), 201)
    seen, cursor = [], None
    while True:
        query = f"/accounts/{a}/statement?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = expect(api.get("dealer1", query), 200)
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [line["transfer_id"] for line in seen] == ["t:fund:DEALER1", "s-0", "s-1", "s-2", "s-3"]
    assert [line["posted_change"] for line in seen] == [
        "1000.00",
        "-1.00",
        "-2.00",
        "-3.00",
        "-4.00",
    ]
    assert seen[1]["side"] == "debit" and seen[1]["counterparty_account_id"] == b
    expect(api.get("dealer1", f"/accounts/{a}/statement?limit=0"), 400)
    expect(api.get("dealer1", f"/accounts/{a}/statement?cursor=garbage!"), 400)


def test_batches_reversals_and_verify(api):
    a, b = api.accounts["DEALER1"], api.accounts["DEALER2"]
    legs = [
        {"transfer_id": "b-1", "debit_account_id": a, "credit_account_id": b, "amount": "600.00"},
        {
            "transfer_id": "b-2",
            "kind": "pending",
            "debit_account_id": b,
            "credit_account_id": a,
            "amount": "100.00",
        },
        {"transfer_id": "b-3", "debit_account_id": a, "credit_account_id": b, "amount": "400.01"},
    ]
    legs = [{**leg, "code": "batch"} for leg in legs]
    before = snapshot_of(api)
    expect(api.post("teller1", "/batches", {"transfers": legs}), 422, "insufficient_funds")
    assert snapshot_of(api) == before
    legs[2]["amount"] = "400.00"
    done = expect(api.post("teller1", "/batches", {"batch_id": "bb-1", "transfers": legs}), 201)
    assert [t["kind"] for t in done["transfers"]] == ["single", "pending", "single"]
    assert expect(api.get("dealer1", f"/accounts/{a}"), 200)["balance"]["posted"] == "0.00"
    again = expect(api.post("teller1", "/batches", {"batch_id": "bb-1", "transfers": legs}), 200)
    assert all(t["replayed"] for t in again["transfers"])
    rev = expect(api.post("teller1", "/transfers/b-3/reverse", {"reference": "typo"}), 201)
    assert (rev["transfer_id"], rev["reversal_of"], rev["amount"]) == (
        "b-3~reverse",
        "b-3",
        "400.00",
    )
    expect(api.post("teller1", "/transfers/b-3/reverse", {"reference": "typo"}), 200)  # replay
    expect(api.post("teller1", "/transfers/b-3/reverse"), 409, "transfer_id_reused")
    expect(api.post("teller1", "/transfers/b-2/reverse"), 422, "transfer_not_reversible")
    expect(api.get("teller1", "/verify"), 403)
    report = expect(api.get("admin", "/verify"), 200)
    assert report["ok"] is True and report["differences"] == []


def test_admin_opens_accounts(api):
    with api.session() as s:
        org = s.scalar(select(Org.id).where(Org.code == "DEALER2"))
    body = {"code": "t:new", "name": "New", "kind": "margin", "owner_org_id": org}
    expect(api.post("teller1", "/accounts", body), 403)
    created = expect(api.post("admin", "/accounts", body), 201)
    assert created["debits_must_not_exceed_credits"] is True
    assert created["balance"]["available"] == "0.00"
    expect(api.post("admin", "/accounts", {**body, "kind": "deposit"}), 409, "account_code_taken")
    expect(api.post("admin", "/accounts", {**body, "kind": "savings"}), 400)


def test_openapi_documents_the_ledger(api):
    spec = api.client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/ledger/transfers" in spec["paths"]
    assert "/api/v1/ledger/holds/{transfer_id}/post" in spec["paths"]


def snapshot_of(api) -> tuple:
    with api.session() as s:
        return snapshot(s)


def test_money_is_never_a_float(api):
    account = expect(api.get("teller1", f"/accounts/{api.accounts['DEALER1']}"), 200)
    for value in account["balance"].values():
        assert not isinstance(value, float)
    assert Decimal(account["balance"]["posted"]) == Decimal("1000.00")
