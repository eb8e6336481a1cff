"""The registry's rules on SQLite and PostgreSQL: credit links through the floor-plan and
factoring ports (an unknown credit changes nothing), loans as reported, third-party
collateral; maker-checker registration (the maker never checks); what may be released when;
documents by reference; every change audited."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from backend.platform.audit import AuditRecord
from tests.integration import test_collateral_registry_support as support
from tests.integration.test_collateral_registry_support import Api

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture

TODAY = str(date.today())


def _link(api: Api, user: str, pid: int, body: dict, status: int = 201):
    return api.post(user, f"/properties/{pid}/credits", body)


def test_credit_links_through_the_ports_and_loans(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    prop = api.register("rm1", owner="CLIENTS", owner_name="Wang Fang")
    pid = prop["id"]
    before = api.counts()
    for body, status, code in (
        ({"credit_kind": "floorplan_line", "credit_ref": "999999999"}, 404, "credit_not_found"),
        ({"credit_kind": "factoring_agreement", "credit_ref": "FA-NOPE"}, 404, "credit_not_found"),
        ({"credit_kind": "loan", "credit_ref": "LN1"}, 400, "validation_error"),
        (
            {"credit_kind": "floorplan_line", "credit_ref": "1", "outstanding": "1.00"},
            400,
            "validation_error",
        ),
        (
            {
                "credit_kind": "loan",
                "credit_ref": "LN1",
                "outstanding": "-1.00",
                "borrower_org_id": api.org_id("CLIENTS"),
            },
            400,
            "validation_error",
        ),
        (
            {
                "credit_kind": "loan",
                "credit_ref": "LN1",
                "outstanding": "1.00",
                "borrower_org_id": 2**62,
            },
            404,
            "org_not_found",
        ),
        ({"credit_kind": "mortgage", "credit_ref": "X1"}, 400, "validation_error"),
    ):
        assert api.error(_link(api, "rm1", pid, body), status) == code, body
    assert api.counts() == before  # nothing changed

    line = api.ok(
        _link(
            api, "rm1", pid, {"credit_kind": "floorplan_line", "credit_ref": api.line_id("DEALER1")}
        ),
        201,
    )
    assert line["borrower_org_id"] == api.org_id("DEALER1") and line["third_party"] is True
    assert line["status"] == "active" and line["ltv_bp"] is None
    again = _link(
        api, "rm1", pid, {"credit_kind": "floorplan_line", "credit_ref": api.line_id("DEALER1")}
    )
    assert api.error(again, 409) == "credit_already_linked"
    fa = api.ok(
        _link(
            api,
            "rm1",
            pid,
            {"credit_kind": "factoring_agreement", "credit_ref": api.agreement_code("CORE1")},
        ),
        201,
    )
    assert fa["borrower_org_id"] == api.org_id("CORE1")
    loan = api.ok(
        _link(
            api,
            "rm1",
            pid,
            {
                "credit_kind": "loan",
                "credit_ref": "LN-2026-0001",
                "outstanding": "1200000.00",
                "borrower_org_id": api.org_id("CLIENTS"),
            },
        ),
        201,
    )
    assert loan["outstanding"] == "1200000.00" and loan["third_party"] is False
    detail = api.ok(api.get("rm1", f"/properties/{pid}"))
    assert [c["credit_kind"] for c in detail["credits"]] == [
        "floorplan_line",
        "factoring_agreement",
        "loan",
    ]
    with api.session() as s:
        audits = s.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "collateral.credit_linked",
                AuditRecord.object_id.in_([str(c["id"]) for c in detail["credits"]]),
            )
        ).all()
        assert len(audits) == 3
        assert sorted(a.after["third_party"] for a in audits) == [False, True, True]

    # released, then linked again: the same row comes back to life
    api.ok(api.post("rm1", f"/credits/{loan['id']}/release"))
    assert api.error(api.post("rm1", f"/credits/{loan['id']}/release"), 409) == (
        "credit_link_released"
    )
    back = api.ok(
        _link(
            api,
            "rm1",
            pid,
            {
                "credit_kind": "loan",
                "credit_ref": "LN-2026-0001",
                "outstanding": "1000000.00",
                "borrower_org_id": api.org_id("CLIENTS"),
            },
        ),
        201,
    )
    assert back["id"] == loan["id"] and back["outstanding"] == "1000000.00"


def test_maker_checker_and_release_rules(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    prop = api.register("rm1", owner="DEALER1")
    pid = prop["id"]
    link = api.ok(
        _link(
            api, "rm1", pid, {"credit_kind": "floorplan_line", "credit_ref": api.line_id("DEALER1")}
        ),
        201,
    )
    again = None
    for _ in range(2):  # the same Idempotency-Key twice: recorded once, the same answer
        again = api.post(
            "rm1",
            f"/properties/{pid}/documents",
            {"kind": "photo", "uri": "s3://col-docs/front.jpg", "sha256": "f" * 64},
            headers={"Idempotency-Key": f"doc-{pid}"},
        )
        assert again.status_code == 201
    detail = api.ok(api.get("rm1", f"/properties/{pid}"))
    assert [d["id"] for d in detail["documents"]] == [again.get_json()["id"]]
    reg = api.ok(
        api.post(
            "rm1",
            f"/properties/{pid}/registrations",
            {
                "certificate_no": "浙(2026)杭州市不动产证明第0001234号",
                "registered_on": TODAY,
                "credit_link_id": link["id"],
            },
        ),
        201,
    )
    assert reg["status"] == "pending" and reg["maker_user_id"] == api.user_id("rm1")
    second = api.post(
        "approver1",
        f"/properties/{pid}/registrations",
        {"certificate_no": "ZJ-0002", "registered_on": TODAY},
    )
    assert api.error(second, 409) == "registration_pending"
    # nothing may be released while the registration is pending
    assert api.error(api.post("rm1", f"/credits/{link['id']}/release"), 422) == (
        "registration_pending"
    )
    assert api.error(api.post("rm1", f"/properties/{pid}/release"), 422) == (
        "property_has_active_credit"
    )
    # the maker (an RM) may not check at all; approvers and admins may, never their own
    assert api.error(api.post("rm1", f"/registrations/{reg['id']}/approve"), 403) == "forbidden"
    approved = api.ok(api.post("approver1", f"/registrations/{reg['id']}/approve"))
    assert approved["status"] == "registered"
    assert approved["checker_user_id"] == api.user_id("approver1")
    assert api.error(api.post("admin", f"/registrations/{reg['id']}/approve"), 409) == (
        "registration_not_pending"
    )
    # an approver as maker: they cannot approve their own, the admin can reject it
    prop2 = api.register("approver1", owner="DEALER1", rm_user_id=api.user_id("rm1"))
    reg2 = api.ok(
        api.post(
            "approver1",
            f"/properties/{prop2['id']}/registrations",
            {"certificate_no": "ZJ-0003", "registered_on": TODAY},
        ),
        201,
    )
    own = api.post("approver1", f"/registrations/{reg2['id']}/approve")
    assert api.error(own, 403) == "maker_checker_violation"
    own = api.post("approver1", f"/registrations/{reg2['id']}/reject", {"reason": "mine"})
    assert api.error(own, 403) == "maker_checker_violation"
    assert api.error(api.post("admin", f"/registrations/{reg2['id']}/reject", {}), 400) == (
        "validation_error"
    )
    rejected = api.ok(
        api.post("admin", f"/registrations/{reg2['id']}/reject", {"reason": "wrong certificate"})
    )
    assert rejected["status"] == "rejected" and rejected["reason"] == "wrong certificate"
    queue = api.ok(api.get("approver1", "/registrations?status=pending&limit=200"))["items"]
    assert not {reg["id"], reg2["id"]} & {r["id"] for r in queue}

    # release order: the mortgage only once its credit is released, the property last
    assert api.error(api.post("rm1", f"/registrations/{reg['id']}/release"), 422) == (
        "credit_link_active"
    )
    api.ok(api.post("rm1", f"/credits/{link['id']}/release"))
    assert api.error(api.post("rm1", f"/properties/{pid}/release"), 422) == "mortgage_registered"
    released = api.ok(api.post("rm1", f"/registrations/{reg['id']}/release"))
    assert released["status"] == "released"
    done = api.ok(api.post("rm1", f"/properties/{pid}/release"))
    assert done["status"] == "released"
    assert api.error(api.post("rm1", f"/properties/{pid}/release"), 409) == "property_released"
    assert api.error(api.patch("rm1", f"/properties/{pid}", {"rooms": 2}), 409) == (
        "property_released"
    )
    with api.session() as s:
        actions = s.scalars(
            select(AuditRecord.action).where(AuditRecord.action.like("collateral.%"))
        ).all()
    for action in (
        "property_registered",
        "credit_linked",
        "registration_recorded",
        "registration_approved",
        "registration_rejected",
        "credit_released",
        "registration_released",
        "property_released",
    ):
        assert f"collateral.{action}" in actions


def test_update_is_audited_and_documents_are_references(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    prop = api.register("rm1", owner="DEALER1")
    pid = prop["id"]
    updated = api.ok(api.patch("rm1", f"/properties/{pid}", {"floor": 18, "decoration": "luxury"}))
    assert updated["floor"] == 18 and updated["decoration"] == "luxury"
    bad = api.patch("rm1", f"/properties/{pid}", {"floor": 19})  # above the 18 floors
    assert api.error(bad, 400) == "validation_error"
    assert "floor" in bad.get_json()["error"]["details"]
    assert (
        api.error(api.patch("rm1", f"/properties/{pid}", {"rm_user_id": api.user_id("rm2")}), 403)
        == "forbidden"
    )
    moved = api.ok(api.patch("approver1", f"/properties/{pid}", {"rm_user_id": api.user_id("rm2")}))
    assert moved["rm_user_id"] == api.user_id("rm2")
    assert api.error(api.get("rm1", f"/properties/{pid}"), 404) == "property_not_found"
    with api.session() as s:
        rows = s.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "collateral.property_updated")
            .order_by(AuditRecord.id)
        ).all()
    assert rows[0].before == {"floor": 7, "decoration": "fine"}
    assert rows[0].after == {"floor": 18, "decoration": "luxury"}

    sha = "0123456789abcdef" * 4
    for uri in (
        "https://dms.bank.example/deeds/2026/001.pdf",
        "s3://col-docs/p/1.jpg",
        "docstore:DS-2026-000123",
    ):
        doc = api.ok(
            api.post(
                "rm2",
                f"/properties/{pid}/documents",
                {"kind": "title_deed", "uri": uri, "sha256": sha.upper()},
            ),
            201,
        )
        assert doc["sha256"] == sha
    before = api.counts()
    for body, field in (
        ({"kind": "title_deed", "uri": "http://insecure.example/x.pdf", "sha256": sha}, "uri"),
        ({"kind": "title_deed", "uri": "file:///etc/passwd", "sha256": sha}, "uri"),
        ({"kind": "title_deed", "uri": "s3://b/k", "sha256": "z" * 64}, "sha256"),
        ({"kind": "selfie", "uri": "s3://col-docs/k", "sha256": sha}, "kind"),
    ):
        r = api.post("rm2", f"/properties/{pid}/documents", body)
        assert api.error(r, 400) == "validation_error"
        assert field in r.get_json()["error"]["details"], body
    assert api.counts() == before
    detail = api.ok(api.get("rm2", f"/properties/{pid}"))
    assert len(detail["documents"]) == 3 and detail["latest_valuation"] is None
    future = str(date.today() + timedelta(days=2))
    r = api.post(
        "rm2",
        f"/properties/{pid}/registrations",
        {"certificate_no": "ZJ-0009", "registered_on": future},
    )
    assert api.error(r, 400) == "validation_error"
