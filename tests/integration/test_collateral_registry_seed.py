"""The demo registry: 40 properties split between rm1 and rm2, owned by dealers, enterprises
and retail clients, securing floor-plan lines, the factoring agreement and loans, with
registrations in every state; seeding again changes nothing."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from backend.collateral.models import CreditLink, MortgageRegistration, Property
from backend.platform.db import session_scope
from backend.seed import seed
from tests.integration import test_collateral_registry_support as support
from tests.integration.test_collateral_registry_support import Api

api = support.api  # fixture


def _snapshot(s) -> dict:
    return {
        "properties": s.execute(
            select(
                Property.code, Property.rm_user_id, Property.owner_org_id, Property.area_m2
            ).order_by(Property.code)
        ).all(),
        "links": s.scalar(select(func.count()).select_from(CreditLink)),
        "registrations": sorted(s.scalars(select(MortgageRegistration.status)).all()),
    }


def test_demo_registry_is_varied_and_seeding_is_idempotent(api: Api):
    rm1, rm2 = api.user_id("rm1"), api.user_id("rm2")
    orgs = {api.org_id(code) for code in ("DEALER1", "DEALER2", "CORE1", "SUPP01", "CLIENTS")}
    with api.session() as s:
        first = _snapshot(s)
        props = s.scalars(select(Property).where(Property.code.like("DEMO-COL-%"))).all()
        assert len(props) == 40
        by_rm = Counter(p.rm_user_id for p in props)
        assert by_rm[rm1] >= 15 and by_rm[rm2] >= 15
        assert {p.owner_org_id for p in props} == orgs
        kinds = Counter(s.scalars(select(CreditLink.credit_kind)).all())
        assert set(kinds) == {"floorplan_line", "factoring_agreement", "loan"}
        assert set(first["registrations"]) == {"pending", "registered", "rejected", "released"}
    config = api.app.extensions["finedge"].config
    with session_scope(api.app.extensions["finedge"].session_factory) as s:
        seed(s, config)
    with api.session() as s:
        assert _snapshot(s) == first
    # rm1 lists only their own clients' demo properties
    page = api.ok(api.get("rm1", "/properties?limit=200"))
    assert {p["rm_user_id"] for p in page["items"]} == {rm1}
