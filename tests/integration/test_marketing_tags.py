"""Rule tags in the database (both): written with the file's version, recomputed (a tag no
longer true goes, a new one comes), a model tag of the same name left alone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from backend.marketing import synth, tags
from backend.marketing.load import load_clients
from backend.marketing.models import Client, ClientTag, MarketingEvent

NOW = datetime(2026, 11, 4, 8, 0, tzinfo=UTC)


def test_apply_tags_writes_recomputes_and_leaves_model_tags(session):
    frame = synth.clients(150, seed=4)
    ids = load_clients(session, frame, as_of=NOW.date())
    session.add(
        MarketingEvent(
            client_id=ids[0],
            kind="large_in",
            window_key="2026-11-01",
            occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
            detected_at=NOW,
            details={},
        )
    )
    session.add(
        ClientTag(
            client_id=ids[1],
            tag="retiree",
            source="model",
            version="m1",
            score=0.9,
            assigned_at=NOW,
        )
    )
    session.commit()
    first = tags.apply_tags(session, NOW)
    session.commit()
    assert first["version"] == tags.RULES.version and first["clients"] == 150
    rows = session.execute(
        select(ClientTag.client_id, ClientTag.tag, ClientTag.source, ClientTag.version)
    ).all()
    rule = {(c, t) for c, t, s, _ in rows if s == "rule"}
    assert all(v == tags.RULES.version for _, _, s, v in rows if s == "rule")
    assert (ids[0], "large_inflow_30d") in rule
    expect_high = {ids[i] for i in range(150) if frame["aum"].iloc[i] >= 600_000}
    assert {c for c, t in rule if t == "high_value"} == expect_high
    assert (ids[1], "retiree", "model", "m1") in set(rows)  # untouched
    # nothing changed: nothing added or removed
    again = tags.apply_tags(session, NOW)
    assert (again["added"], again["removed"]) == (0, 0)
    # a client becomes dormant and loses their AUM: dormant comes, high_value goes
    rich = next(iter(expect_high))
    client = session.get(Client, rich)
    client.dormant, client.aum = True, 100
    session.commit()
    third = tags.apply_tags(session, NOW)
    session.commit()
    now_tags = set(session.scalars(select(ClientTag.tag).where(ClientTag.client_id == rich)))
    assert "dormant" in now_tags and "high_value" not in now_tags
    assert third["added"] >= 1 and third["removed"] >= 1
