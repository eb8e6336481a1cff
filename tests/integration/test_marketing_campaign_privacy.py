"""Review findings on campaigns: an RM's task goes with the client (a client handed to another
RM is no longer shown to the old one through the task), a withdrawn consent cancels the open
tasks that need it, only a propensity list of the campaign's target gives the power's baseline
rate, an AUM growth conversion is kept current (gone when the AUM fell back), and a campaign's
window stays where the jobs can add their grace days to it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from backend.marketing import clients
from backend.marketing.campaigns import queries, service
from backend.marketing.campaigns.conversions import attribute
from backend.marketing.campaigns.delivery import run_campaign
from backend.marketing.models import Campaign, Client, Conversion, Segment, Task
from backend.platform.audit import AuditRecord
from backend.platform.errors import Conflict, NotFound, ValidationFailed
from backend.platform.notifier import FakeNotifier, InboxNotifier
from tests.integration.marketing_campaign_support import DAYTIME, base, draft, frozen_segment


def launched(session, n=120):
    _frame, ids, actors = base(session, n)
    segment = frozen_segment(session, ids)
    campaign = draft(session, actors["t_mkt"], segment.id)
    service.launch(session, actors["t_mkt"], campaign.id, now=DAYTIME)
    run_campaign(session, campaign, DAYTIME, InboxNotifier(FakeNotifier()))
    session.commit()
    return ids, actors, campaign


def test_a_task_of_a_client_handed_to_another_rm_is_no_longer_the_old_rms(session):
    _ids, actors, _campaign = launched(session)
    rm1, rm2, team = actors["t_rm1"], actors["t_rm2"], actors["t_mkt"]
    mine = queries.list_tasks(session, rm1, limit=200).items
    assert mine
    task = mine[0]
    session.execute(
        update(Client).where(Client.id == task.client_id).values(rm_user_id=rm2.user_id)
    )
    session.commit()
    session.expire_all()
    assert task.id not in {t.id for t in queries.list_tasks(session, rm1, limit=200).items}
    with pytest.raises(NotFound):
        queries.task_detail(session, rm1, task.id)
    with pytest.raises(NotFound):
        service.record_outcome(session, rm1, task.id, "reached", False, "")
    assert session.get(Task, task.id).status == "open"
    # the team still sees it; the RM's other tasks are unchanged
    assert queries.task_detail(session, team, task.id)["task"].id == task.id
    assert {t.id for t in queries.list_tasks(session, rm1, limit=200).items} == {
        t.id for t in mine[1:]
    }


def test_a_withdrawn_call_consent_cancels_the_open_call_tasks(session):
    _ids, actors, _campaign = launched(session)
    rm1 = actors["t_rm1"]
    open_calls = [
        t
        for t in queries.list_tasks(session, rm1, status="open", limit=200).items
        if t.kind == "call"
    ]
    assert len(open_calls) >= 2
    task, other = open_calls[0], open_calls[1]
    # a withdrawn SMS consent leaves the call alone
    clients.set_consent(session, rm1, task.client_id, channel="sms", granted=False, now=DAYTIME)
    assert session.get(Task, task.id).status == "open"
    clients.set_consent(session, rm1, task.client_id, channel="call", granted=False, now=DAYTIME)
    session.commit()
    session.expire_all()
    assert session.get(Task, task.id).status == "cancelled"
    assert session.get(Task, other.id).status == "open"
    with pytest.raises(Conflict):
        service.record_outcome(session, rm1, task.id, "reached", False, "")
    audit = session.scalars(
        select(AuditRecord)
        .where(AuditRecord.action == "marketing.consent_changed")
        .order_by(AuditRecord.id.desc())
    ).first()
    assert audit.after["tasks_cancelled"] == 1


def _model_segment(session, ids, name, definition, score):
    segment = Segment(name=name, kind="model", definition=definition, created_at=DAYTIME)
    session.add(segment)
    session.flush()
    service.freeze_members(session, segment, ids, {i: score for i in ids})
    return segment


def test_only_a_propensity_list_of_the_target_gives_the_baseline_rate(session):
    _frame, ids, actors = base(session, 40)
    team = actors["t_mkt"]
    uplift = _model_segment(
        session, ids, "uplift list", {"model": "uplift", "model_id": 1, "top": 40}, 0.3
    )
    other = _model_segment(
        session, ids, "purchase list", {"model": "propensity", "target": "purchase", "top": 40}, 0.4
    )
    own = _model_segment(
        session, ids, "renewal list", {"model": "propensity", "target": "renewal", "top": 40}, 0.2
    )
    for code, segment, source, rate in (
        ("T-UPLIFT", uplift, "default", 0.1),  # predicted uplift is not a conversion rate
        ("T-OTHER", other, "default", 0.1),  # another indicator's propensity
        ("T-OWN", own, "list_scores", 0.2),
    ):
        campaign = draft(session, team, segment.id, code=code)
        power = service.power_of(session, team, campaign.id)
        assert (power["baseline_source"], power["baseline_rate"]) == (source, rate), code


def test_an_aum_growth_that_fell_back_is_no_longer_a_conversion(session):
    ids, _actors, campaign = launched(session, 40)
    grown, other = ids[0], ids[1]
    for cid in (grown, other):
        client = session.get(Client, cid)
        client.aum += Decimal("1000.00")
    later = DAYTIME + timedelta(days=3)
    attribute(session, campaign, later)
    session.commit()

    def growth():
        return {
            r.client_id: r.amount
            for r in session.scalars(
                select(Conversion).where(
                    Conversion.campaign_id == campaign.id, Conversion.kind == "aum_growth"
                )
            )
        }

    assert growth() == {grown: Decimal("1000.00"), other: Decimal("1000.00")}
    # the first client's AUM falls back below where it was at assignment
    session.get(Client, grown).aum -= Decimal("1500.00")
    counts = attribute(session, campaign, later + timedelta(days=1))
    session.commit()
    session.expire_all()
    assert growth() == {other: Decimal("1000.00")} and counts["removed"] == 1
    assert attribute(session, campaign, later + timedelta(days=1))["removed"] == 0


def test_a_window_at_the_end_of_the_calendar_is_refused(session):
    # the conversions job adds its grace days to the end: 9999-12-31 would overflow it and
    # stop attribution for every campaign
    _frame, ids, actors = base(session, 12)
    segment = frozen_segment(session, ids)
    team = actors["t_mkt"]
    for starts, ends in (
        (date(9999, 12, 1), date(9999, 12, 31)),
        (date(1, 1, 1), date(1, 1, 2)),
    ):
        with pytest.raises(ValidationFailed) as refused:
            draft(session, team, segment.id, code="T-FAR", starts_on=starts, ends_on=ends)
        assert "ends_on" in refused.value.details or "starts_on" in refused.value.details
    assert session.scalar(select(Campaign.id).where(Campaign.code == "T-FAR")) is None
    campaign = draft(session, team, segment.id, code="T-NEAR")
    with pytest.raises(ValidationFailed):
        service.update_campaign(session, team, campaign.id, {"ends_on": date(9999, 12, 31)})
