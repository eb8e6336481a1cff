"""Campaigns on both databases: the stratified launch with its persistent holdout, delivery
under the contact policy (consent per channel, holdout, do-not-disturb, fatigue, budget),
RM tasks and their isolation, conversions from the simulated market, the demo seeder."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from backend.marketing.campaigns import queries, service
from backend.marketing.campaigns.conversions import attribute
from backend.marketing.campaigns.delivery import run_campaign, run_campaigns
from backend.marketing.models import (
    Assignment,
    Campaign,
    Client,
    Contact,
    ContactConsent,
    Conversion,
    Task,
)
from backend.marketing.simulate import simulate
from backend.platform.audit import AuditRecord
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from backend.platform.notifier import FakeNotifier, InboxNotifier, notifier_of
from tests.integration.marketing_campaign_support import (
    DAYTIME,
    NIGHT,
    base,
    draft,
    frozen_segment,
)


def launched(session, n=240, **over):
    frame, ids, actors = base(session, n)
    segment = frozen_segment(session, ids)
    campaign = draft(session, actors["t_mkt"], segment.id, **over)
    service.launch(session, actors["t_mkt"], campaign.id, now=DAYTIME)
    session.commit()
    return frame, ids, actors, campaign


def test_launch_is_stratified_balanced_persistent_and_audited(session):
    _frame, ids, actors, campaign = launched(session)
    rows = session.execute(
        select(
            Assignment.client_id, Assignment.arm, Assignment.stratum, Assignment.aum_before
        ).where(Assignment.campaign_id == campaign.id)
    ).all()
    assert len(rows) == len(ids)
    tiers = dict(session.execute(select(Client.id, Client.tier)).all())
    per = Counter((r.stratum, r.arm) for r in rows)
    for tier in set(tiers.values()):
        n = sum(1 for r in rows if r.stratum == tier)
        assert per[(tier, "control")] == int(n * 0.25 + 0.5), tier
        assert all(r.stratum == tiers[r.client_id] for r in rows)
    assert all(r.aum_before is not None for r in rows)
    assert campaign.status == "launched" and campaign.power["overall"]["control"] == sum(
        1 for r in rows if r.arm == "control"
    )
    before = {r.client_id: r.arm for r in rows}
    with pytest.raises(Conflict):
        service.launch(session, actors["t_mkt"], campaign.id)
    session.rollback()
    with pytest.raises(Conflict):
        service.update_campaign(session, actors["t_mkt"], campaign.id, {"name": "x"})
    session.rollback()
    after = dict(
        session.execute(
            select(Assignment.client_id, Assignment.arm).where(
                Assignment.campaign_id == campaign.id
            )
        ).all()
    )
    assert after == before
    actions = set(
        session.scalars(select(AuditRecord.action).where(AuditRecord.object_type == "mkt_campaign"))
    )
    assert {"marketing.campaign.create", "marketing.campaign.launch"} <= actions


def test_the_same_seed_draws_the_same_arms(session):
    _, ids, actors = base(session, 120)
    seg_a = frozen_segment(session, ids, "a")
    seg_b = frozen_segment(session, ids, "b")
    a = draft(session, actors["t_mkt"], seg_a.id, code="T-A", seed=99)
    b = draft(session, actors["t_mkt"], seg_b.id, code="T-B", seed=99)
    for c in (a, b):
        service.launch(session, actors["t_mkt"], c.id, now=DAYTIME)

    def arms(c):
        return dict(
            session.execute(
                select(Assignment.client_id, Assignment.arm).where(Assignment.campaign_id == c.id)
            ).all()
        )

    assert arms(a) == arms(b)


def test_drafts_are_the_teams_and_bad_drafts_are_refused(session):
    _, ids, actors = base(session, 40)
    segment = frozen_segment(session, ids)
    for who in ("t_rm1", "t_teller"):
        with pytest.raises(PermissionDenied):
            draft(session, actors[who], segment.id)
    with pytest.raises(NotFound):
        draft(session, actors["t_mkt"], 2**63 - 1)
    for bad in (
        {"sms_template": "{name.__class__}"},
        {"channels": ["sms", "sms"]},
        {"channels": []},
        {"ends_on": date(2026, 5, 1)},
        {"budget": Decimal("-1.00")},
        {"control_share": 0.9},
        {"code": "bad code"},
        {"target_indicator": "purchase", "product_code": None},
    ):
        with pytest.raises(ValidationFailed):
            draft(session, actors["t_mkt"], segment.id, **bad)
    c = draft(session, actors["t_mkt"], segment.id)
    with pytest.raises(Conflict):
        draft(session, actors["t_mkt"], segment.id)
    power = service.power_of(session, actors["t_mkt"], c.id)
    assert (
        power["segment_frozen"]
        and power["overall"]["treatment"] + power["overall"]["control"] == 40
    )
    assert power["baseline_source"] == "default" and power["baseline_rate"] == 0.1


def test_an_unfrozen_or_empty_list_is_not_launched(session):
    _, _, actors = base(session, 20)
    empty = frozen_segment(session, [], "empty")
    c = draft(session, actors["t_mkt"], empty.id)
    with pytest.raises(BusinessRuleViolation) as exc:
        service.launch(session, actors["t_mkt"], c.id)
    assert exc.value.code in ("segment_not_frozen", "segment_empty")


def test_delivery_respects_holdout_consent_dnd_and_makes_rm_tasks(session):
    _frame, _ids, _actors, campaign = launched(session)
    fake = FakeNotifier()
    notifier = InboxNotifier(fake)
    run_campaign(session, campaign, NIGHT, notifier)
    session.commit()
    arms = dict(
        session.execute(
            select(Assignment.client_id, Assignment.arm).where(
                Assignment.campaign_id == campaign.id
            )
        ).all()
    )
    consent = {
        (c, ch): g
        for c, ch, g in session.execute(
            select(ContactConsent.client_id, ContactConsent.channel, ContactConsent.granted)
        )
    }
    clients = {c.id: c for c in session.scalars(select(Client))}
    contacts = session.scalars(select(Contact).where(Contact.campaign_id == campaign.id)).all()
    assert contacts
    for row in contacts:
        assert arms[row.client_id] == "treatment"  # the holdout is never even tried
        if row.status == "sent":
            need = "call" if row.channel in ("call", "visit") else row.channel
            assert consent[(row.client_id, need)]
        c = clients[row.client_id]
        if c.dnd_from and consent.get((c.id, "sms" if row.channel == "sms" else "call")):
            # 22:00 in Shanghai: the client's SMS and call wait
            assert row.status == "waiting" and row.reason == "do_not_disturb"
    waiting = [r for r in contacts if r.status == "waiting"]
    assert waiting
    assert {m["to"] for m in fake.sent} <= {c.client_no for c in clients.values()}
    assert len(fake.sent) == sum(1 for r in contacts if r.status == "sent" and r.channel == "sms")
    # the next morning the waiting ones go; nothing is sent twice
    morning = NIGHT + timedelta(hours=12)
    run_campaign(session, campaign, morning, notifier)
    run_campaign(session, campaign, morning + timedelta(minutes=15), notifier)
    session.commit()
    sent = session.execute(
        select(Contact.client_id, Contact.channel, func.count())
        .where(Contact.campaign_id == campaign.id, Contact.status == "sent")
        .group_by(Contact.client_id, Contact.channel)
    ).all()
    assert sent and all(n == 1 for _c, _ch, n in sent)
    # the night's waits became the morning's sends: none left behind
    assert not session.scalars(
        select(Contact).where(Contact.campaign_id == campaign.id, Contact.status == "waiting")
    ).all()
    assert {(r.client_id, r.channel) for r in waiting} <= {(c, ch) for c, ch, _n in sent} | {
        (r.client_id, r.channel)
        for r in session.scalars(select(Contact).where(Contact.status == "refused"))
    }
    assert all(arms[c] == "treatment" for c, _ch, _n in sent)
    tasks = session.scalars(select(Task).where(Task.campaign_id == campaign.id)).all()
    assert tasks and all(t.rm_user_id == clients[t.client_id].rm_user_id for t in tasks)
    assert {t.client_id for t in tasks} == {c for c, ch, _n in sent if ch == "call"}
    assert all(arms[t.client_id] == "treatment" for t in tasks)


def test_fatigue_limits_count_contacts_across_campaigns(session):
    _frame, ids, actors = base(session, 60)
    session.execute(update(ContactConsent).values(granted=True))
    session.execute(update(Client).values(dnd_from=None, dnd_to=None))
    notifier = InboxNotifier(FakeNotifier())
    campaigns = []
    for k in range(3):
        seg = frozen_segment(session, ids, f"s{k}")
        c = draft(
            session, actors["t_mkt"], seg.id, code=f"T-F{k}", channels=["sms"], control_share=0.05
        )
        service.launch(session, actors["t_mkt"], c.id, now=DAYTIME)
        campaigns.append(c)
    session.commit()
    for c in campaigns:
        run_campaign(session, c, DAYTIME, notifier)
    session.commit()
    per_client = Counter(session.scalars(select(Contact.client_id).where(Contact.status == "sent")))
    assert per_client and max(per_client.values()) == 2  # at most 2 per 7 days
    refused = session.scalars(select(Contact).where(Contact.reason == "fatigue")).all()
    assert refused and all(per_client[r.client_id] == 2 for r in refused)
    # a week later one more fits the 7-day limit but the 30-day limit (4) still holds
    later = DAYTIME + timedelta(days=8)
    for k in range(3, 6):
        seg = frozen_segment(session, ids, f"s{k}")
        c = draft(
            session,
            actors["t_mkt"],
            seg.id,
            code=f"T-F{k}",
            channels=["sms"],
            control_share=0.05,
            starts_on=date(2026, 6, 1),
        )
        service.launch(session, actors["t_mkt"], c.id, now=later)
        run_campaign(session, c, later, notifier)
        run_campaign(session, c, later + timedelta(minutes=1), notifier)
    session.commit()
    since = later - timedelta(days=7)
    week = Counter(
        session.scalars(
            select(Contact.client_id).where(Contact.status == "sent", Contact.at > since)
        )
    )
    assert max(week.values()) <= 2
    total = Counter(session.scalars(select(Contact.client_id).where(Contact.status == "sent")))
    assert max(total.values()) <= 4


def test_budget_caps_what_is_sent(session):
    _frame, ids, actors = base(session, 80)
    session.execute(update(ContactConsent).values(granted=True))
    session.execute(update(Client).values(dnd_from=None, dnd_to=None))
    seg = frozen_segment(session, ids)
    c = draft(
        session,
        actors["t_mkt"],
        seg.id,
        channels=["sms"],
        budget=Decimal("5.00"),
        cost_per_contact=Decimal("0.50"),
    )
    service.launch(session, actors["t_mkt"], c.id, now=DAYTIME)
    run_campaign(session, c, DAYTIME, InboxNotifier(FakeNotifier()))
    session.commit()
    statuses = Counter(session.scalars(select(Contact.status).where(Contact.campaign_id == c.id)))
    assert statuses["sent"] == 10
    assert (
        session.scalar(select(func.count()).select_from(Contact).where(Contact.reason == "budget"))
        == statuses["refused"]
        > 0
    )


def test_tasks_are_the_rms_own_and_outcomes_idempotent(session):
    _frame, _ids, actors, campaign = launched(session)
    run_campaign(session, campaign, DAYTIME, InboxNotifier(FakeNotifier()))
    session.commit()
    rm1, rm2 = actors["t_rm1"], actors["t_rm2"]
    mine = queries.list_tasks(session, rm1, limit=200).items
    theirs = queries.list_tasks(session, rm2, limit=200).items
    assert mine and theirs
    assert all(t.rm_user_id == rm1.user_id for t in mine)
    every = queries.list_tasks(session, actors["t_mkt"], limit=200).items
    assert len(every) == len(mine) + len(theirs)
    with pytest.raises(NotFound):
        queries.task_detail(session, rm2, mine[0].id)
    with pytest.raises(NotFound):
        service.record_outcome(session, rm2, mine[0].id, "reached", False, "")
    with pytest.raises(PermissionDenied):
        queries.list_tasks(session, actors["t_teller"])
    detail = queries.task_detail(session, rm1, mine[0].id)
    assert detail["campaign"]["script"] == "script" and detail["client"]["name"]
    t = service.record_outcome(session, rm1, mine[0].id, "interested", True, "回电")
    again = service.record_outcome(session, rm1, mine[0].id, "interested", True, "回电")
    assert t is again and t.status == "done"
    with pytest.raises(Conflict):
        service.record_outcome(session, rm1, mine[0].id, "declined", False, "")


def test_conversions_come_from_the_simulated_market_for_both_arms(session):
    frame, _ids, actors, campaign = launched(session, 400)
    run_campaign(session, campaign, DAYTIME, InboxNotifier(FakeNotifier()))
    result = simulate(session, campaign, frame, as_of=date(2026, 6, 20), seed=3)
    assert result["converted_treatment"] + result["converted_control"] > 0
    counts = attribute(session, campaign, DAYTIME + timedelta(days=20))
    session.commit()
    rows = session.scalars(select(Conversion).where(Conversion.campaign_id == campaign.id)).all()
    renew = Counter(r.arm for r in rows if r.kind == "renewal")
    assert renew["treatment"] == result["converted_treatment"]
    assert renew["control"] == result["converted_control"]
    tier_up = Counter(r.arm for r in rows if r.kind == "tier_up")
    assert tier_up["treatment"] == result["tier_up_treatment"]
    assert tier_up["control"] == result["tier_up_control"]
    assert all(r.amount > 0 for r in rows if r.kind == "aum_growth")
    again = attribute(session, campaign, DAYTIME + timedelta(days=20))
    session.commit()
    assert sum(v for k, v in again.items() if k != "updated") == 0
    assert session.scalar(select(func.count()).select_from(Conversion)) == len(rows)
    assert counts
    detail = queries.campaign_detail(session, actors["t_mkt"], campaign.id)
    assert detail["conversions"]["renewal"]["treatment"] == renew["treatment"]


def test_the_job_ends_campaigns_past_their_window(session):
    _frame, _ids, _actors, campaign = launched(session, 60)
    first = run_campaigns(session, DAYTIME)  # the notifier the configuration names: fake
    assert first["campaigns"][campaign.code].get("sent", 0) > 0
    assert isinstance(notifier_of(session).sms, FakeNotifier)
    assert notifier_of(session).sms.sent
    result = run_campaigns(session, DAYTIME + timedelta(days=40), InboxNotifier(FakeNotifier()))
    assert campaign.code in result["ended"]
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == "ended"
    assert not session.scalars(select(Task).where(Task.status == "open")).all()
