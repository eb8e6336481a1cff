"""Segments over HTTP on both databases: preview (size, per tier and outlet, overlap with the
saved ones), save, freeze (once), export with a purpose (CSV recorded in mkt_exports and
audited), the marketing team only (an RM and a teller: 403), bad definitions refused with the
path of the bad node and nothing saved."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from backend.identity.models import User
from backend.marketing import synth
from backend.marketing.load import load_clients
from backend.marketing.models import Client, ListExport, Segment, SegmentMember
from backend.platform.audit import AuditRecord
from tests.conftest import login

AS_OF = date(2026, 6, 1)
BASE = "/api/v1/marketing/segments"
MID = {"field": "tier", "op": "in", "value": ["affluent", "wealth"]}
DIGITAL = {"field": "digital_active", "op": "==", "value": True}


def _api(make_app, url):
    app = make_app(url)
    factory = app.extensions["finedge"].session_factory
    with factory() as s:
        # the seed's own segments (the demo campaign's list): the tests count only theirs
        app.config["SEEDED_SEGMENTS"] = set(s.scalars(select(Segment.id)))
        users = dict(s.execute(select(User.username, User.id)).all())
        load_clients(
            s, synth.clients(240, seed=21), rm_user_ids=(users["rm1"], users["rm2"]), as_of=AS_OF
        )
        s.commit()
    client = app.test_client()
    cache: dict[str, dict] = {}

    def headers(username: str) -> dict:
        if username not in cache:
            cache[username] = login(client, username)
        return cache[username]

    return app, client, headers, factory


@pytest.fixture
def api(make_app, db_url):
    """The app on SQLite and on PostgreSQL (the lifecycle touches every query)."""
    return _api(make_app, db_url)


@pytest.fixture
def api_sqlite(make_app, sqlite_url):
    """The app on SQLite: permissions and refusals happen before any SQL that differs."""
    return _api(make_app, sqlite_url)


def _own(app, overlap: list[dict]) -> list[dict]:
    return [o for o in overlap if o["segment_id"] not in app.config["SEEDED_SEGMENTS"]]


def _count(factory, *where) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(Client).where(*where))


def test_preview_save_freeze_export(api):
    _app, client, auth, factory = api
    mkt = auth("mkt1")
    body = {"definition": {"all": [MID, DIGITAL]}, "as_of": "2026-06-01"}
    r = client.post(f"{BASE}/preview", json=body, headers=mkt)
    assert r.status_code == 200, r.get_json()
    preview = r.get_json()
    expected = _count(
        factory, Client.tier.in_(["affluent", "wealth"]), Client.digital_active.is_(True)
    )
    assert preview["size"] == expected > 0
    assert sum(preview["by_tier"].values()) == expected
    assert preview["by_tier"]["mass"] == 0 and preview["by_tier"]["private"] == 0
    assert sum(preview["by_outlet"].values()) == expected
    assert _own(_app, preview["overlap"]) == [] and preview["model"] is None

    r = client.post(
        BASE, json={"name": "mid digital", "definition": body["definition"]}, headers=mkt
    )
    assert r.status_code == 201, r.get_json()
    seg_a = r.get_json()
    assert seg_a["kind"] == "rule" and seg_a["frozen"] is False and seg_a["size"] is None
    r = client.post(BASE, json={"name": "mid digital", "definition": MID}, headers=mkt)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "segment_name_taken"

    # a second definition overlaps the first: count and Jaccard against the saved one
    r = client.post(f"{BASE}/preview", json={"definition": MID, "as_of": "2026-06-01"}, headers=mkt)
    mid = r.get_json()
    assert mid["size"] == _count(factory, Client.tier.in_(["affluent", "wealth"]))
    (row,) = _own(_app, mid["overlap"])
    assert row["segment_id"] == seg_a["id"] and row["size"] == expected
    assert row["overlap"] == expected  # A is inside "mid"
    assert row["jaccard"] == pytest.approx(expected / mid["size"], abs=1e-4)

    r = client.post(f"{BASE}/{seg_a['id']}/freeze", json={"as_of": "2026-06-01"}, headers=mkt)
    assert r.status_code == 200, r.get_json()
    frozen = r.get_json()
    assert frozen["size"] == expected and frozen["segment"]["frozen"] is True
    assert frozen["segment"]["size"] == expected and frozen["model"] is None
    with factory() as s:
        members = s.scalar(
            select(func.count())
            .select_from(SegmentMember)
            .where(SegmentMember.segment_id == seg_a["id"])
        )
    assert members == expected
    r = client.post(f"{BASE}/{seg_a['id']}/freeze", json={}, headers=mkt)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "segment_frozen"
    r = client.patch(f"{BASE}/{seg_a['id']}", json={"definition": MID}, headers=mkt)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "segment_frozen"
    r = client.patch(f"{BASE}/{seg_a['id']}", json={"name": "mid digital v1"}, headers=mkt)
    assert r.status_code == 200 and r.get_json()["name"] == "mid digital v1"

    # export: a purpose is required; the file is recorded and audited
    r = client.post(f"{BASE}/{seg_a['id']}/export", json={}, headers=mkt)
    assert r.status_code == 400
    r = client.post(
        f"{BASE}/{seg_a['id']}/export", json={"purpose": "renewal call list"}, headers=mkt
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    raw = r.get_data()
    assert hashlib.sha256(raw).hexdigest() == r.headers["X-Export-Sha256"]
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert lines[0] == ["client_no", "name", "tier", "outlet", "rm"]
    assert len(lines) == expected + 1
    assert {line[2] for line in lines[1:]} <= {"affluent", "wealth"}
    rms = {line[4] for line in lines[1:]}  # the seed's own clients: some have no RM ("")
    assert {"rm1", "rm2"} <= rms <= {"rm1", "rm2", ""}
    with factory() as s:
        (export,) = s.scalars(select(ListExport)).all()
        assert export.rows == expected and export.sha256 == r.headers["X-Export-Sha256"]
        assert export.purpose == "renewal call list" and export.segment_id == seg_a["id"]
        assert export.user_id == s.scalar(select(User.id).where(User.username == "mkt1"))
        actions = set(
            s.scalars(
                select(AuditRecord.action).where(
                    AuditRecord.object_type == "mkt_segment",
                    AuditRecord.object_id == str(seg_a["id"]),
                )
            )
        )
    assert {
        "marketing.segment.create",
        "marketing.segment.freeze",
        "marketing.segment.update",
        "marketing.segment.export",
    } <= actions
    r = client.delete(f"{BASE}/{seg_a['id']}", headers=mkt)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "segment_exported"

    # an unfrozen, unexported segment can go
    r = client.post(BASE, json={"name": "mid", "definition": MID}, headers=mkt)
    seg_b = r.get_json()
    listed = client.get(BASE, headers=mkt).get_json()
    ours = [s["id"] for s in listed["items"] if s["id"] not in _app.config["SEEDED_SEGMENTS"]]
    assert ours == [seg_b["id"], seg_a["id"]]
    assert client.delete(f"{BASE}/{seg_b['id']}", headers=mkt).status_code == 204
    assert client.get(f"{BASE}/{seg_b['id']}", headers=mkt).status_code == 404


def test_only_the_marketing_team(api_sqlite):
    _app, client, auth, factory = api_sqlite
    mkt = auth("mkt1")
    seg = client.post(BASE, json={"name": "mid", "definition": MID}, headers=mkt).get_json()
    for user in ("rm1", "rm2", "teller1", "dealer1"):
        h = auth(user)
        for method, path, body in (
            ("get", BASE, None),
            ("post", BASE, {"name": "x", "definition": MID}),
            ("post", f"{BASE}/preview", {"definition": MID}),
            ("get", f"{BASE}/{seg['id']}", None),
            ("patch", f"{BASE}/{seg['id']}", {"name": "y"}),
            ("post", f"{BASE}/{seg['id']}/freeze", {}),
            ("post", f"{BASE}/{seg['id']}/export", {"purpose": "take it home"}),
            ("delete", f"{BASE}/{seg['id']}", None),
            ("get", f"{BASE}/vocabulary", None),
        ):
            r = getattr(client, method)(path, json=body, headers=h)
            assert r.status_code == 403, (user, method, path, r.status_code)
    assert client.get(f"{BASE}/{seg['id']}", headers=auth("admin")).status_code == 200
    assert client.get(f"{BASE}/999999", headers=mkt).status_code == 404
    assert client.get(f"{BASE}/{2**63}", headers=mkt).status_code == 400
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Segment)) == 1 + len(
            _app.config["SEEDED_SEGMENTS"]
        )
        assert s.scalar(select(func.count()).select_from(ListExport)) == 0
        assert s.scalar(select(Segment.name)) == "mid"


BAD = [
    ({"all": []}, "definition.all"),
    ({"field": "salary", "op": "==", "value": 1}, "definition.field"),
    ({"field": "aum", "op": ">=", "value": 50000.5}, "definition.value"),
    ({"field": "aum", "op": ">=", "value": "1e5"}, "definition.value"),
    ({"field": "aum", "op": ">=", "value": "99999999999999.00"}, "definition.value"),
    ({"field": "age", "op": ">=", "value": True}, "definition.value"),
    ({"field": "age", "op": "between", "value": [60, 30]}, "definition.value"),
    ({"field": "tier", "op": ">=", "value": "mass"}, "definition.op"),
    (
        {"any": [MID, {"field": "tier", "op": "in", "value": ["gold"]}]},
        "definition.any[1].value[0]",
    ),
    ({"all": [MID], "any": [MID]}, "definition"),
    ({"event": "maturity", "within_days": 0}, "definition.within_days"),
    ({"event": "lottery", "within_days": 3}, "definition.event"),
    ({"tag": "<script>"}, "definition.tag"),
    ({"model": "propensity", "target": "renewal"}, "definition.top"),
    ({"model": "propensity", "target": "gold", "top": 5}, "definition.target"),
    ({"model": "oracle", "top": 5}, "definition.model"),
    (
        {"model": "propensity", "target": "renewal", "top": 5, "where": {"not": []}},
        "definition.where.not",
    ),
]


def _deep(n: int) -> dict:
    node: dict = MID
    for _ in range(n - 1):
        node = {"not": node}
    return node


def test_bad_definitions_are_refused_with_their_path(api_sqlite):
    _app, client, auth, factory = api_sqlite
    mkt = auth("mkt1")
    cases = [*BAD, (_deep(9), "definition" + ".not" * 8), ({"any": [MID] * 101}, "definition")]
    for definition, path in cases:
        for url, body in (
            (f"{BASE}/preview", {"definition": definition}),
            (BASE, {"name": "bad", "definition": definition}),
        ):
            r = client.post(url, json=body, headers=mkt)
            assert r.status_code == 400, (definition, r.get_json())
            error = r.get_json()["error"]
            assert error["code"] == "invalid_definition", error
            assert path in error["details"], (path, error["details"])
    assert (
        client.post(f"{BASE}/preview", json={"definition": _deep(8)}, headers=mkt).status_code
        == 200
    )
    # a day so far back that an event window would leave the calendar
    r = client.post(f"{BASE}/preview", json={"definition": MID, "as_of": "0001-01-02"}, headers=mkt)
    assert r.status_code == 400 and "as_of" in r.get_json()["error"]["details"]
    # the edge's own refusals: NaN, numbers past 64 bits
    for raw in (
        b'{"definition": {"field": "age", "op": ">=", "value": NaN}}',
        b'{"definition": {"field": "age", "op": ">=", "value": 9223372036854775808}}',
    ):
        r = client.post(
            f"{BASE}/preview", data=raw, headers={**mkt, "Content-Type": "application/json"}
        )
        assert r.status_code == 400
        assert r.get_json()["error"]["code"] in ("non_finite_number", "number_out_of_range")
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Segment)) == len(
            _app.config["SEEDED_SEGMENTS"]
        )
