"""Clearing over HTTP on the demo seed: the clearing house's signed interface (signature,
timestamp, nonce; single and batch; idempotency), traders who see only their own accounts
(trader1 and trader2), bank staff who see everything, reconciliation uploads, and the
simulator driving a day through the Flask test client."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend import ledger
from backend.clearing import queries, service
from backend.clearing.models import TraderAccount
from backend.clearing.seed import DEMO_SECRET
from backend.clearing.signing import sign_headers
from backend.clearing.sim import Opening, Simulator
from backend.platform.clock import utcnow

PATH = "/api/v1/clearing/instructions"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def app(request, sqlite_template, tmp_path_factory):
    """One seeded app for the module on each database (its tests read numbers as they find
    them): seeding per test would cost seconds each."""
    import shutil

    from backend.app import create_app
    from backend.platform.config import Config
    from backend.platform.db import session_scope
    from backend.seed import seed
    from tests.conftest import truncate_pg

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("clearing-http") / "finedge.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        truncate_pg(url)
    config = Config.from_env(database_url=url)
    app = create_app(config)
    app.config["TESTING"] = True
    with session_scope(app.extensions["finedge"].session_factory) as session:
        seed(session, config)
    yield app
    app.extensions["finedge"].runtime.stop()


class ClientTransport:
    """The simulator's transport over Flask's test client."""

    def __init__(self, client):
        self.client = client

    def post(self, path, body, headers):
        response = self.client.post(path, data=body, headers=headers)
        return response.status_code, response.get_json()


def signed(
    client,
    document,
    *,
    secret=DEMO_SECRET,
    house="CCH1",
    now=None,
    nonce=None,
    path=PATH,
    body=None,
):
    body = body if body is not None else json.dumps(document).encode()
    headers = sign_headers(secret, house, "POST", path, body, now=now or utcnow(), nonce=nonce)
    return client.post(path, data=body, headers=headers)


def session_of(app):
    return app.extensions["finedge"].session_factory()


def next_seq(app, number):
    with session_of(app) as s:
        return s.scalar(select(TraderAccount.next_seq).where(TraderAccount.account_no == number))


def account_id(app, number):
    with session_of(app) as s:
        return s.scalar(select(TraderAccount.id).where(TraderAccount.account_no == number))


def order(app, number="TRD03-AU", amount="100.00", **kw):
    return {
        "id": f"H{number}-{next_seq(app, number)}-{kw.pop('tag', '')}",
        "account": number,
        "seq": next_seq(app, number),
        "kind": "order",
        "order": f"HO-{number}-{next_seq(app, number)}",
        "amount": amount,
        **kw,
    }


def test_signed_single_instruction_applies_and_repeats(app, client):
    body = order(app)
    first = signed(client, body)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["status"] == "applied"
    again = signed(client, body)
    assert again.status_code == 200 and again.get_json()["replayed"] is True
    other = signed(client, {**body, "amount": "101.00"})
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "instruction_id_reused"


@pytest.mark.parametrize(
    "tamper,code",
    [
        ({"secret": "wrong"}, "bad_signature"),
        ({"house": "NOPE"}, "unknown_clearing_house"),
        ({"now_shift": -3600}, "stale_timestamp"),
        ({"now_shift": 3600}, "stale_timestamp"),
        ({"nonce": "bad nonce!"}, "bad_nonce"),
    ],
)
def test_bad_signatures_are_refused_and_change_nothing(app, client, tamper, code):
    before = next_seq(app, "TRD03-AU")
    kw = {}
    if "secret" in tamper:
        kw["secret"] = tamper["secret"]
    if "house" in tamper:
        kw["house"] = tamper["house"]
    if "now_shift" in tamper:
        kw["now"] = utcnow() + timedelta(seconds=tamper["now_shift"])
    if "nonce" in tamper:
        kw["nonce"] = tamper["nonce"]
    response = signed(client, order(app), **kw)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == code
    assert next_seq(app, "TRD03-AU") == before


def test_reused_nonce_missing_headers_and_changed_body(app, client):
    body = order(app)
    assert signed(client, body, nonce="nonce-0001").status_code == 200
    replay = signed(client, order(app, tag="x"), nonce="nonce-0001")
    assert replay.get_json()["error"]["code"] == "nonce_reused"
    bare = client.post(PATH, json=order(app))
    assert (bare.status_code, bare.get_json()["error"]["code"]) == (401, "signature_required")
    raw = json.dumps(order(app)).encode()
    headers = sign_headers(DEMO_SECRET, "CCH1", "POST", PATH, raw, now=utcnow())
    tampered = client.post(PATH, data=raw.replace(b"100.00", b"900.00"), headers=headers)
    assert tampered.get_json()["error"]["code"] == "bad_signature"


def test_batch_answers_per_instruction(app, client):
    seq = next_seq(app, "TRD04-AU")
    batch = [
        {
            "id": "B1",
            "account": "TRD04-AU",
            "seq": seq + 1,
            "kind": "order",
            "order": "BO2",
            "amount": "10.00",
        },
        {
            "id": "B2",
            "account": "TRD04-AU",
            "seq": seq,
            "kind": "order",
            "order": "BO1",
            "amount": "10.00",
        },
        {
            "id": "B3",
            "account": "TRD04-AU",
            "seq": seq + 2,
            "kind": "order",
            "order": "BO3",
            "amount": "10.001",
        },
        {
            "id": "B4",
            "account": "NOBODY",
            "seq": 1,
            "kind": "order",
            "order": "BO4",
            "amount": "1.00",
        },
        {
            "id": "B5",
            "account": "TRD04-AU",
            "seq": seq + 2,
            "kind": "order",
            "order": "BO5",
            "amount": "99999999.00",
        },
    ]
    response = signed(client, {"instructions": batch})
    assert response.status_code == 207
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["pending", "applied", "refused", "refused", "refused"]
    assert results[1]["applied_after"] == ["B1"]
    assert [r["code"] for r in results[2:]] == [
        "invalid_amount",
        "unknown_account",
        "insufficient_funds",
    ]
    assert next_seq(app, "TRD04-AU") == seq + 2


def test_traders_see_only_their_own(app, client, auth):
    mine = client.get("/api/v1/clearing/accounts", headers=auth("trader1")).get_json()["items"]
    assert {a["account_no"] for a in mine} == {"TRD01-AU", "TRD01-CU"}
    au = next(a for a in mine if a["account_no"] == "TRD01-AU")
    assert Decimal(au["held"]) >= Decimal("35035.00")  # O-DEMO-2 still frozen
    other = account_id(app, "TRD02-AU")
    for path in (
        f"/accounts/{other}",
        f"/accounts/{other}/orders",
        f"/instruction-log?account_id={other}",
    ):
        response = client.get(f"/api/v1/clearing{path}", headers=auth("trader1"))
        assert response.status_code == 404, path
    assert (
        client.get(f"/api/v1/clearing/accounts/{other}", headers=auth("trader2")).status_code == 200
    )
    orders = client.get(
        f"/api/v1/clearing/accounts/{au['id']}/orders", headers=auth("trader1")
    ).get_json()["items"]
    status = {o["order_ref"]: o["status"] for o in orders}
    assert status["O-DEMO-1"] == "delivered" and status["O-DEMO-2"] == "open"
    log = client.get(
        "/api/v1/clearing/instruction-log?limit=200", headers=auth("trader2")
    ).get_json()["items"]
    mine2 = {account_id(app, "TRD02-AU")}
    assert log and {i["account_id"] for i in log} == mine2
    for path in ("/houses", "/gaps", "/gap-alarms", "/reconciliations", "/differences", "/replay"):
        assert client.get(f"/api/v1/clearing{path}", headers=auth("trader1")).status_code == 403
    fund = client.post(
        f"/api/v1/clearing/accounts/{other}/fund",
        headers=auth("trader1"),
        json={"amount": "1.00", "reference": "x1"},
    )
    assert fund.status_code == 404


def test_bank_staff_see_all_and_reconcile(app, client, auth):
    rm = auth("rm1")
    accounts = client.get("/api/v1/clearing/accounts?limit=200", headers=rm).get_json()["items"]
    assert len(accounts) == 11
    runs = client.get("/api/v1/clearing/reconciliations", headers=rm).get_json()["items"]
    assert runs[0]["status"] == "matched"
    assert client.get("/api/v1/clearing/replay", headers=rm).get_json()["ok"] is True
    house = client.get("/api/v1/clearing/houses", headers=rm).get_json()["items"][0]
    bad = {
        "house_id": house["id"],
        "business_date": utcnow().date().isoformat(),
        "csv": "account_no,balance,held,instruction_count\nTRD01-AU,1.00,0.00,0\n",
    }
    run = client.post("/api/v1/clearing/reconciliations", headers=rm, json=bad)
    assert run.status_code == 201 and run.get_json()["status"] == "differences"
    diffs = client.get(
        f"/api/v1/clearing/differences?reconciliation_id={run.get_json()['id']}&limit=200",
        headers=rm,
    ).get_json()["items"]
    assert {d["field"] for d in diffs} >= {"balance", "held", "instruction_count", "missing_row"}
    resolved = client.post(f"/api/v1/clearing/differences/{diffs[0]['id']}/resolve", headers=rm)
    assert resolved.get_json()["status"] == "resolved"
    assert (
        client.post(
            "/api/v1/clearing/reconciliations", headers=auth("trader1"), json=bad
        ).status_code
        == 403
    )


def test_admin_registers_a_house_and_secret_is_shown_once(app, client, auth):
    from backend.identity.models import Org
    from backend.platform.clock import utcnow as now_

    with session_of(app) as s:
        org = Org(code="CCH9", name="Another house", kind="clearinghouse", created_at=now_())
        s.add(org)
        s.commit()
        org_id = org.id
    response = client.post(
        "/api/v1/clearing/houses", headers=auth("admin"), json={"org_id": org_id}
    )
    assert response.status_code == 201
    secret = response.get_json()["hmac_secret"]
    assert len(secret) == 64
    listed = client.get("/api/v1/clearing/houses", headers=auth("admin")).get_json()["items"]
    assert all("hmac_secret" not in h for h in listed)
    assert (
        client.post(
            "/api/v1/clearing/houses", headers=auth("rm1"), json={"org_id": org_id}
        ).status_code
        == 403
    )


def test_simulator_drives_a_day_over_http_and_it_reconciles(app, client):
    with session_of(app) as s:
        house_id = s.scalar(select(TraderAccount.clearing_house_id).limit(1))
        openings = {
            n: Opening(*v) for n, v in queries.openings(s, house_id, utcnow().date()).items()
        }
    sim = Simulator(ClientTransport(client), "CCH1", DEMO_SECRET, batch=15)
    summary = sim.run_day(
        openings,
        instructions=60,
        seed=3,
        faults=("duplicates", "reorder", "gaps"),
        prefix="SIMT",
        traders=4,
    )
    assert summary.refused == 0, summary.to_dict()
    assert summary.applied == 60 and summary.replayed > 0 and summary.pending > 0
    assert summary.reconciliation["status"] == "matched", summary.to_dict()
    with session_of(app) as s:
        assert ledger.verify(s).ok
        assert service.replay_check(s).ok


def test_the_same_instruction_sent_twice_at_once_applies_once(app):
    """Two clients race with one instruction (each request its own nonce): one applies it, the
    other gets the same answer (or, having lost the race for the write, 409); the hold once."""
    from concurrent.futures import ThreadPoolExecutor

    body = order(app, "TRD06-AU", amount="77.00")
    before = account_id(app, "TRD06-AU")

    def send(_):
        return signed(app.test_client(), body)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(send, range(2)))
    codes = sorted(r.status_code for r in answers)
    assert codes in ([200, 200], [200, 409]), [r.get_json() for r in answers]
    assert next_seq(app, "TRD06-AU") == body["seq"] + 1
    with session_of(app) as s:
        assert ledger.verify(s).ok
        assert service.replay_check(s).ok
    assert before


def test_trader_funds_its_own_account_once_per_reference(app, client, auth):
    cu = account_id(app, "TRD01-CU")
    path = f"/api/v1/clearing/accounts/{cu}/fund"
    before = client.get(f"/api/v1/clearing/accounts/{cu}", headers=auth("trader1")).get_json()
    body = {"amount": "12.34", "reference": "top-up-1"}
    assert client.post(path, headers=auth("trader1"), json=body).status_code == 201
    assert client.post(path, headers=auth("trader1"), json=body).status_code == 201
    after = client.get(f"/api/v1/clearing/accounts/{cu}", headers=auth("trader1")).get_json()
    assert Decimal(after["balance"]) - Decimal(before["balance"]) == Decimal("12.34")
    other = client.post(path, headers=auth("trader1"), json={**body, "amount": "99.00"})
    assert other.status_code == 409
    for bad in ("1.001", "-1.00", "NaN", "1e308"):
        response = client.post(path, headers=auth("trader1"), json={**body, "amount": bad})
        assert response.status_code == 400, bad
    assert client.post(path, headers=auth("trader2"), json=body).status_code == 404


def test_admin_configures_a_house_and_staff_suspend_an_agreement(app, client, auth):
    house = client.get("/api/v1/clearing/houses", headers=auth("admin")).get_json()["items"][0]
    path = f"/api/v1/clearing/houses/{house['id']}"
    changed = client.patch(path, headers=auth("admin"), json={"gap_alarm_s": 120})
    assert changed.status_code == 200 and changed.get_json()["gap_alarm_s"] == 120
    assert client.patch(path, headers=auth("admin"), json={"replay_window_s": 5}).status_code == 400
    assert client.patch(path, headers=auth("rm1"), json={"gap_alarm_s": 1}).status_code == 403
    assert client.patch(path, headers=auth("trader1"), json={"gap_alarm_s": 1}).status_code == 403
    agreements = client.get("/api/v1/clearing/agreements", headers=auth("trader2")).get_json()
    (mine,) = agreements["items"]
    a_path = f"/api/v1/clearing/agreements/{mine['id']}"
    assert (
        client.patch(a_path, headers=auth("trader2"), json={"status": "suspended"}).status_code
        == 403
    )
    assert (
        client.patch(a_path, headers=auth("rm1"), json={"status": "suspended"}).status_code == 200
    )
    refused = signed(client, order(app, "TRD02-AU"))
    assert refused.get_json()["error"]["code"] == "account_inactive"
    assert client.patch(a_path, headers=auth("rm1"), json={"status": "active"}).status_code == 200
    assert signed(client, order(app, "TRD02-AU")).status_code == 200


def test_trader_withdraws_available_funds_once_per_reference(app, client, auth):
    cu = account_id(app, "TRD01-CU")
    path = f"/api/v1/clearing/accounts/{cu}/withdraw"
    view = f"/api/v1/clearing/accounts/{cu}"
    before = client.get(view, headers=auth("trader1")).get_json()
    body = {"amount": "10.00", "reference": "wd-1"}
    first = client.post(path, headers=auth("trader1"), json=body)
    assert first.status_code == 201 and first.get_json()["amount"] == "-10.00"
    assert client.post(path, headers=auth("trader1"), json=body).get_json() == first.get_json()
    after = client.get(view, headers=auth("trader1")).get_json()
    assert Decimal(before["balance"]) - Decimal(after["balance"]) == Decimal("10.00")
    assert after["held"] == before["held"]
    other = client.post(path, headers=auth("trader1"), json={**body, "amount": "11.00"})
    assert other.status_code == 409
    too_much = {"amount": str(Decimal(after["available"]) + Decimal("0.01")), "reference": "wd-2"}
    refused = client.post(path, headers=auth("trader1"), json=too_much)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "insufficient_funds"
    for bad in ("1.001", "-1.00", "NaN", "1e308", 10**30):
        response = client.post(path, headers=auth("trader1"), json={**body, "amount": bad})
        assert response.status_code == 400, bad
    assert client.post(path, headers=auth("trader2"), json=body).status_code == 404
    staff = client.post(path, headers=auth("teller1"), json={"amount": "1.00", "reference": "s1"})
    assert staff.status_code == 201
    assert client.get(view, headers=auth("trader1")).get_json()["balance"] == str(
        Decimal(after["balance"]) - Decimal("1.00")
    )
    with session_of(app) as s:
        assert ledger.verify(s).ok
        assert service.replay_check(s).ok
