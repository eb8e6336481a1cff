"""Risk data that a browser test owns: an enterprise of its own (a fresh credit code) with a
hard signal from a court feed (a dishonest-debtor listing), assigned to rm1, so tests change no
seeded enterprise and pass in any order."""

from __future__ import annotations

import itertools
import os

from backend.risk.creditcode import make_credit_code

_seq = itertools.count(int.from_bytes(os.urandom(3), "big") % 500_000 + 5_000_000)


def own_enterprise(server, *, name: str, kind: str = "dishonest_debtor") -> dict:
    """Create an enterprise with one event of ``kind`` (admin feed), assign it to rm1; answers
    ``{"enterprise_id", "signal_ids", "credit_code"}``."""
    code = make_credit_code(next(_seq))
    register(server, code, name)  # only the registry creates enterprises (docs/risk.md)
    report = feed(server, code, name, kind)
    assert report["accepted"] == 1 and not report["queued"], report
    found = server.api("GET", "/risk/enterprises", "admin", params={"q": code}).json()["items"]
    enterprise_id = found[0]["id"]
    rm_id = _user_id(server, "rm1")
    r = server.api(
        "PATCH", f"/risk/enterprises/{enterprise_id}", "admin", json={"rm_user_id": rm_id}
    )
    assert r.status_code == 200, r.text
    return {
        "enterprise_id": enterprise_id,
        "signal_ids": report["signals"]["signal_ids"],
        "credit_code": code,
        "name": name,
    }


def register(server, code: str, name: str) -> dict:
    """The registry's profile of a new enterprise (which creates it)."""
    body = {
        "records": [
            {
                "record_id": f"T-{code}-profile",
                "type": "profile",
                "credit_code": code,
                "name": name,
                "time": "2024-01-01",
                "data": {"registered_capital": "10000000.00"},
            }
        ]
    }
    r = server.api("POST", "/risk/feeds/registry", "admin", json=body)
    assert r.status_code == 200 and r.json()["enterprises_created"] == 1, r.text
    return r.json()


def feed(server, code: str, name: str, kind: str, *, record: str | None = None) -> dict:
    data = {"amount": "500000.00"} if kind != "news" else {"sentiment": -0.9}
    body = {
        "records": [
            {
                "record_id": record or f"T-{code}-{kind}",
                "credit_code": code,
                "name": name,
                "kind": kind,
                "time": "2026-11-01T00:00:00Z",
                "title": f"{kind} {name}",
                "data": data,
            }
        ]
    }
    r = server.api("POST", "/risk/feeds/court", "admin", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _user_id(server, username: str) -> int:
    import requests

    r = requests.post(
        f"{server.url}/api/v1/auth/token",
        json={"username": username, "password": f"{username}-demo"},
        timeout=30,
    )
    return r.json()["user"]["id"]


def hard_signal_pending_review(server, *, name: str, maker: str = "rm1") -> dict:
    """An own enterprise whose hard signal has a ``confirm`` proposed by ``maker``."""
    own = own_enterprise(server, name=name)
    signal_id = own["signal_ids"][0]
    r = server.api(
        "POST", f"/risk/signals/{signal_id}/confirm", maker, json={"comment": "listing verified"}
    )
    assert r.status_code == 200 and r.json()["status"] == "pending_review", r.text
    return {**own, "signal_id": signal_id}
