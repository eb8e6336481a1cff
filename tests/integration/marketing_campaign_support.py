"""Shared set-up of the campaign tests: a bank org, two RMs and a marketing user, a synthetic
client base split between the RMs, a frozen segment and a draft campaign."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from backend.identity.models import Org, User
from backend.marketing import synth
from backend.marketing.campaigns import service
from backend.marketing.load import load_clients
from backend.marketing.models import Segment
from backend.platform.context import Actor

AS_OF = date(2026, 6, 1)
# 10:00 in Shanghai: outside everyone's do-not-disturb hours
DAYTIME = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
# 22:00 in Shanghai: inside 21:00-09:00
NIGHT = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)


def people(session) -> dict[str, Actor]:
    org = session.scalar(select(Org).where(Org.code == "MKTBANK"))
    if org is None:
        org = Org(code="MKTBANK", name="Bank", kind="bank", created_at=DAYTIME)
        session.add(org)
        session.flush()
    out = {}
    for username, role in (
        ("t_rm1", "rm"),
        ("t_rm2", "rm"),
        ("t_mkt", "marketing"),
        ("t_teller", "teller"),
    ):
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, role=role, org_id=org.id, created_at=DAYTIME)
            session.add(user)
            session.flush()
        out[username] = Actor(user.id, username, role, org.id)
    return out


def base(session, n: int = 240, seed: int = 5):
    """(frame, client ids, actors): ``n`` synthetic clients, RMs t_rm1 and t_rm2 in turn."""
    actors = people(session)
    frame = synth.clients(n, seed=seed)
    ids = load_clients(
        session,
        frame,
        rm_user_ids=(actors["t_rm1"].user_id, actors["t_rm2"].user_id),
        as_of=AS_OF,
        user_ids=None,
    )
    session.flush()
    return frame, ids, actors


def frozen_segment(session, ids, name="test list") -> Segment:
    segment = Segment(name=name, kind="rule", definition={"all": []}, created_at=DAYTIME)
    session.add(segment)
    session.flush()
    service.freeze_members(session, segment, ids)
    return segment


def draft(session, actor, segment_id, **over):
    data = {
        "code": "T-RENEW",
        "name": "renewal test",
        "target_indicator": "renewal",
        "segment_id": segment_id,
        "product_code": "WM-180",
        "script": "script",
        "sms_template": "您好{name}",
        "channels": ["sms", "call"],
        "starts_on": date(2026, 6, 1),
        "ends_on": date(2026, 6, 30),
        "budget": Decimal("100000.00"),
        "cost_per_contact": Decimal("0.50"),
        "control_share": 0.25,
        "target_uplift": 0.05,
        "seed": 7,
        **over,
    }
    return service.create_campaign(session, actor, data, now=DAYTIME)
