"""A rule segment compiled to SQL and to a pandas mask picks the same clients on the same
data, on SQLite and PostgreSQL: hand-written definitions at the edges (bounds included, AUM at
the cent, event windows at their first day, not over EXISTS) and a few dozen random trees."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sqlalchemy import insert, select

from backend.marketing import synth
from backend.marketing.load import load_clients
from backend.marketing.models import Client, ClientTag, MarketingEvent
from backend.marketing.segments import members as mem
from backend.marketing.segments import rules

AS_OF = date(2026, 6, 1)
TAGS = ("maturing_soon", "high_value", "digital_first")
EDGE_CASES = [
    {"field": "tier", "op": "in", "value": ["affluent", "wealth"]},
    {"field": "aum", "op": ">=", "value": "50000.00"},
    {"field": "aum", "op": "between", "value": ["10000", "600000.00"]},
    {"field": "age", "op": "between", "value": [30, 45]},
    {"field": "age", "op": "==", "value": 46},
    {"field": "age", "op": "in", "value": [40, 50, 60]},
    {"field": "risk_level", "op": "<=", "value": 2},
    {"field": "digital_active", "op": "==", "value": False},
    {"not": {"field": "dormant", "op": "==", "value": True}},
    {"tag": "maturing_soon"},
    {"not": {"tag": "high_value"}},
    {"event": "large_in", "within_days": 7},
    {"event": "maturity", "within_days": 1},
    {"not": {"event": "large_in", "within_days": 30}},
    {
        "all": [
            {"any": [{"tag": "maturing_soon"}, {"event": "maturity", "within_days": 30}]},
            {"field": "tier", "op": "in", "value": ["affluent", "wealth"]},
            {"field": "digital_active", "op": "==", "value": True},
        ]
    },
    {
        "any": [
            {"field": "outlet", "op": "==", "value": "BR002"},
            {"field": "gender", "op": "==", "value": "F"},
        ]
    },
]


def _seed(session) -> list[int]:
    frame = synth.clients(600, seed=31)
    ids = load_clients(session, frame, as_of=AS_OF)
    # an AUM exactly at a bound, to the cent
    first = session.get(Client, ids[0])
    first.aum = rules.Decimal("50000.00")
    second = session.get(Client, ids[1])
    second.aum = rules.Decimal("49999.99")
    rng = np.random.default_rng(5)
    now = datetime.combine(AS_OF, time(12), UTC)
    tag_rows = [
        {
            "client_id": cid,
            "tag": tag,
            "source": "rule",
            "version": "t1",
            "score": None,
            "assigned_at": now,
        }
        for cid in ids
        for tag in TAGS
        if rng.random() < 0.25
    ]
    session.execute(insert(ClientTag), tag_rows)
    event_rows = []
    for k, cid in enumerate(ids):
        if rng.random() < 0.4:
            kind = ("large_in", "maturity", "large_out")[k % 3]
            # whole days back, some exactly at a window's first instant
            back = int(rng.integers(0, 40))
            at = datetime.combine(AS_OF - timedelta(days=back), time(0), UTC)
            if k % 2:
                at += timedelta(hours=int(rng.integers(0, 24)))
            event_rows.append(
                {
                    "client_id": cid,
                    "kind": kind,
                    "window_key": f"w{k}",
                    "occurred_at": at,
                    "detected_at": at,
                    "amount": None,
                    "ref": None,
                    "details": {},
                }
            )
    session.execute(insert(MarketingEvent), event_rows)
    session.commit()
    return ids


def _random_tree(rnd: random.Random, depth: int = 0) -> dict:
    if depth < 3 and rnd.random() < 0.45:
        kind = rnd.choice(["all", "any", "not"])
        if kind == "not":
            return {"not": _random_tree(rnd, depth + 1)}
        return {kind: [_random_tree(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]}
    pick = rnd.random()
    if pick < 0.15:
        return {"tag": rnd.choice(TAGS)}
    if pick < 0.3:
        return {
            "event": rnd.choice(["large_in", "maturity", "large_out", "dormancy"]),
            "within_days": rnd.choice([1, 2, 7, 30, 365]),
        }
    name = rnd.choice(list(rules.FIELDS))
    spec = rules.FIELDS[name]
    op = rnd.choice(spec.ops)

    def value():
        if spec.kind == "enum":
            return rnd.choice(spec.choices)
        if spec.kind == "code":
            return rnd.choice(synth.OUTLETS)
        if spec.kind == "bool":
            return rnd.random() < 0.5
        if spec.kind == "money":
            return f"{rnd.choice([0, 1000, 50000, 600000, 6000000]) + rnd.randint(0, 99) / 100:.2f}"
        return rnd.randint(spec.low, min(spec.high, 90))

    if op == "in":
        return {"field": name, "op": op, "value": [value() for _ in range(rnd.randint(1, 3))]}
    if op == "between":
        a, b = value(), value()
        if spec.kind == "money":
            a, b = sorted([a, b], key=rules.Decimal)
        else:
            a, b = sorted([a, b])
        return {"field": name, "op": op, "value": [a, b]}
    return {"field": name, "op": op, "value": value()}


def test_sql_and_pandas_pick_the_same_clients(session):
    _seed(session)
    population = mem.population(session, AS_OF)
    rnd = random.Random(42)
    definitions = EDGE_CASES + [_random_tree(rnd) for _ in range(40)]
    sizes = []
    for definition in definitions:
        tree = rules.parse_rule(definition)
        by_sql = set(session.scalars(select(Client.id).where(rules.to_sql(tree, AS_OF))))
        mask = rules.to_mask(tree, population, AS_OF)
        by_pandas = set(population.frame.index[mask].tolist())
        assert by_sql == by_pandas, definition
        sizes.append(len(by_sql))
    # the cases are not all trivially empty or everyone
    assert sum(0 < s < 600 for s in sizes) >= len(sizes) // 2
    at_bound = rules.parse_rule({"field": "aum", "op": ">=", "value": "50000.00"})
    chosen = set(session.scalars(select(Client.client_no).where(rules.to_sql(at_bound, AS_OF))))
    assert "C03100000000" in chosen and "C03100000001" not in chosen
