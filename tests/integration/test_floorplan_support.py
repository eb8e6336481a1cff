"""Helpers and fixtures shared by the floor-plan tests (imported by the other test_floorplan_*
modules), plus checks of the helpers' own invariants on the demo seed."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.floorplan import rules
from backend.floorplan.models import Bill, CreditLine, Vehicle
from backend.identity.models import Org, User
from backend.identity.service import actor_for
from backend.models import metadata
from tests.api_client import ApiClient

_vins = itertools.count(1)


def new_vin() -> str:
    return f"TST{next(_vins):014d}"


class Api(ApiClient):
    """A test client that logs demo users in once and speaks JSON."""

    def get(self, user: str, path: str, **kw):
        return self.client.get(f"/api/v1/floorplan{path}", headers=self.headers(user), **kw)

    def post(self, user: str, path: str, json=None, headers=None, **kw):
        h = {**self.headers(user), **(headers or {})}
        return self.client.post(f"/api/v1/floorplan{path}", json=json or {}, headers=h, **kw)

    def ok(self, response, status: int = 200) -> dict:
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def session(self):
        return self.app.extensions["finedge"].session_factory()

    def org_id(self, code: str) -> int:
        with self.session() as s:
            return s.scalar(select(Org.id).where(Org.code == code))

    def actor(self, username: str):
        with self.session() as s:
            return actor_for(s.scalar(select(User).where(User.username == username)))


@pytest.fixture
def api(app) -> Api:
    return Api(app)


@pytest.fixture
def pg_or_sqlite_api(make_app, db_url) -> Api:
    return Api(make_app(db_url))


def assert_books_balance(app_or_api) -> None:
    """`finedge ledger verify` on the app's database, and the floor-plan invariants."""
    app = getattr(app_or_api, "app", app_or_api)
    with app.extensions["finedge"].session_factory() as s:
        report = ledger.verify(s)
        assert report.ok, report.to_dict()
        assert_line_invariants(s)


def assert_line_invariants(s) -> None:
    """Each line's used amount is the financed balance: cars not repaid, plus bills with no
    cars (issued and not shipped, or matured unshipped and owed on the advance)."""
    for line in s.scalars(select(CreditLine)):
        cars = s.scalar(
            select(func.coalesce(func.sum(Vehicle.outstanding), 0)).where(
                Vehicle.dealer_org_id == line.dealer_org_id, Vehicle.status.in_(rules.UNPAID)
            )
        )
        carless = s.scalar(
            select(func.coalesce(func.sum(Bill.outstanding), 0)).where(
                Bill.dealer_org_id == line.dealer_org_id,
                Bill.status.in_(("issued", "overdue")),
                ~select(Vehicle.id).where(Vehicle.bill_id == Bill.id).exists(),
            )
        )
        total = sum(
            (Decimal(str(v)).quantize(Decimal("0.01")) for v in (cars, carless)), Decimal(0)
        )
        assert line.used_amount == total, (line.dealer_org_id, line.used_amount, total)
        assert 0 <= line.rbr_used <= line.rbr_limit


def snapshot(app_or_api) -> dict:
    """Row counts of the floor-plan, ledger and audit tables, every ledger balance, every car
    and line: "nothing changed" is equality."""
    app = getattr(app_or_api, "app", app_or_api)
    with app.extensions["finedge"].session_factory() as s:
        counts = {
            t.name: s.scalar(select(func.count()).select_from(t))
            for t in metadata.sorted_tables
            if t.name.startswith(("fp_", "ledger_")) or t.name in ("audit_records", "orgs")
        }
        balances = sorted(
            (a.code, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
            for a in s.scalars(select(ledger.Account))
        )
        cars = sorted(
            (v.vin, v.status, v.outstanding, v.margin_held) for v in s.scalars(select(Vehicle))
        )
        lines = sorted((c.id, c.used_amount, c.rbr_used) for c in s.scalars(select(CreditLine)))
    return {"counts": counts, "balances": balances, "cars": cars, "lines": lines}


def financed_cars(api: Api, dealer: str, prices: list[str], *, term: int = 3) -> tuple[dict, list]:
    """Through the HTTP API: the dealer asks for a bill, the bank issues it, the OEM ships the
    cars to the dealer's yard and the supervisor takes them in. Returns (bill, vins)."""
    total = sum(Decimal(p) for p in prices)
    bill = api.ok(api.post(dealer, "/bills", {"amount": str(total), "term_months": term}), 201)
    bill = api.ok(api.post("approver1", f"/bills/{bill['id']}/issue"))
    assert bill["status"] == "issued"
    dealer_id = bill["dealer_id"]
    yard = next(
        w for w in api.ok(api.get("admin", "/warehouses"))["items"] if w["dealer_id"] == dealer_id
    )
    cars = [
        {"vin": new_vin(), "model": "Test Sedan", "price": p, "certificate_no": f"C-{new_vin()}"}
        for p in prices
    ]
    shipment = api.ok(
        api.post(
            "oem1",
            "/shipments",
            {"bill_id": bill["id"], "warehouse_id": yard["id"], "vehicles": cars},
        ),
        201,
    )
    assert {v["status"] for v in shipment["vehicles"]} == {"in_transit"}
    api.ok(api.post("supervisor1", f"/shipments/{shipment['id']}/arrive"))
    for car in cars:
        v = api.ok(
            api.post(
                "supervisor1",
                f"/vehicles/{car['vin']}/intake",
                {"certificate_no": car["certificate_no"], "location": "row A"},
            )
        )
        assert v["status"] == "in_stock"
    return api.ok(api.get(dealer, f"/bills/{bill['id']}")), [c["vin"] for c in cars]


def deposit(api: Api, dealer_code: str, amount: str) -> None:
    api.ok(
        api.post("teller1", f"/dealers/{api.org_id(dealer_code)}/deposits", {"amount": amount}),
        201,
    )


def test_demo_seed_gives_both_demo_dealers_financed_cars_in_stock(api):
    for dealer in ("dealer1", "dealer2"):
        page = api.ok(api.get(dealer, "/vehicles?status=in_stock"))
        assert len(page["items"]) >= 2
        assert all(Decimal(v["outstanding"]) > 0 for v in page["items"])
    assert_books_balance(api)


def test_new_vins_are_valid():
    assert all(rules.VIN_RE.match(new_vin()) for _ in range(3))


def new_dealer(api: Api, code: str, *, limit: str = "5000000.00", trusted: bool = False) -> int:
    """A dealer of OEM1 with a yard, a line approved by maker-checker and a login
    (``code.lower()``, password ``<login>-demo``)."""
    from backend.floorplan.service import credit
    from backend.identity import service as identity

    admin, rm, approver = api.actor("admin"), api.actor("rm1"), api.actor("approver1")
    with api.session() as s:  # (SQLite: one writer; actors are read before)
        oem = s.scalar(select(Org).where(Org.code == "OEM1"))
        sup = s.scalar(select(Org).where(Org.code == "SUP1"))
        dealer = identity.get_or_create_org(s, code, f"{code} Motors", "dealer", oem)
        credit.create_warehouse(
            s,
            admin,
            code=f"WH-{code}",
            name=f"{code} yard",
            dealer_org_id=dealer.id,
            supervisor_org_id=sup.id,
        )
        request = credit.propose_credit_line(
            s,
            rm,
            dealer_org_id=dealer.id,
            limit=limit,
            trusted=trusted,
            rbr_limit="500000.00" if trusted else "0.00",
        )
        credit.approve_credit_line(s, approver, request.id)
        identity.create_user(
            s,
            admin,
            username=code.lower(),
            password=f"{code.lower()}-demo",
            role="dealer",
            org=dealer,
        )
        s.commit()
        return dealer.id


class RecordingRisk(list):
    """What floor-plan asked of risk early warning through its ports (no signal blocks)."""


@pytest.fixture
def risk_calls(monkeypatch) -> list:
    """Replace risk early warning behind floor-plan's ports (``DisbursementGate``,
    ``RiskEvents``, implemented by ``backend.risk.ports.RiskPort``) with a recorder, in every
    app the test builds."""
    from backend.risk.ports import RiskPort

    calls = RecordingRisk()
    monkeypatch.setattr(
        RiskPort,
        "ensure_no_blocking_signal",
        lambda self, session, org_id, *, levels=("hard",): calls.append(("check", org_id)),
    )
    monkeypatch.setattr(
        RiskPort,
        "record_internal_event",
        lambda self, session, actor, **kw: calls.append(("event", kw)),
    )
    return calls
