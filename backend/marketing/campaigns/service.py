"""Campaigns' write side: drafts (create, edit), launch (freeze the list, draw the stratified
assignment, store the power), and RM task outcomes. Team only for campaigns (role marketing
or admin); an RM records the outcomes of their own tasks. Every change is audited."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend.marketing import access
from backend.marketing.campaigns import assign, templates
from backend.marketing.campaigns import power as power_mod
from backend.marketing.contact import CHANNELS
from backend.marketing.models import (
    Assignment,
    Campaign,
    Client,
    Segment,
    SegmentMember,
    Task,
)
from backend.marketing.segments.members import is_frozen
from backend.marketing.segments.service import freeze_segment
from backend.marketing.synth import TIERS
from backend.platform.audit import record
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    ValidationFailed,
)

TARGETS = ("renewal", "aum_growth", "tier_up", "purchase")
STATUSES = ("draft", "launched", "ended")
OUTCOMES = ("reached", "not_reached", "interested", "declined", "converted")
CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,39}$")
# the baseline conversion rate a power computation assumes when the list has no scores
DEFAULT_BASELINE = {"renewal": 0.10, "purchase": 0.05, "tier_up": 0.03, "aum_growth": 0.30}
DEFAULT_TARGET_UPLIFT = 0.05
MAX_DAYS = 366
# the days a campaign may run in: the jobs add the grace days to its end (a window at the end
# of the calendar would stop them for every campaign)
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
FIELDS = (
    "code",
    "name",
    "target_indicator",
    "segment_id",
    "product_code",
    "script",
    "sms_template",
    "channels",
    "starts_on",
    "ends_on",
    "budget",
    "cost_per_contact",
    "control_share",
)


def _snapshot(c: Campaign) -> dict:
    return {
        **{f: getattr(c, f) for f in FIELDS},
        "target_uplift": (c.power or {}).get("target_uplift"),
        "status": c.status,
    }


def _check(data: dict) -> None:
    """Cross-field rules of a draft (the API's schema checked each field's type)."""
    errors: dict[str, list[str]] = {}
    code = data.get("code")
    if code is not None and not CODE.match(code):
        errors["code"] = ["2 to 40 of A-Z, 0-9, '-' and '_', starting with a letter or digit"]
    if data.get("target_indicator") not in TARGETS:
        errors["target_indicator"] = [f"one of {', '.join(TARGETS)}"]
    channels = data.get("channels") or []
    if not channels or len(set(channels)) != len(channels) or not set(channels) <= set(CHANNELS):
        errors["channels"] = [f"one or more distinct of {', '.join(CHANNELS)}"]
    problems = templates.problems(data.get("sms_template") or "")
    if problems:
        errors["sms_template"] = problems
    if "sms" in channels and not (data.get("sms_template") or "").strip():
        errors.setdefault("sms_template", []).append("an SMS campaign needs a template")
    starts, ends = data.get("starts_on"), data.get("ends_on")
    for name, day in (("starts_on", starts), ("ends_on", ends)):
        if isinstance(day, date) and not EARLIEST <= day <= LATEST:
            errors[name] = [f"from {EARLIEST} to {LATEST}"]
    if isinstance(starts, date) and isinstance(ends, date) and "ends_on" not in errors:
        if ends < starts:
            errors["ends_on"] = ["on or after starts_on"]
        elif (ends - starts).days > MAX_DAYS:
            errors["ends_on"] = [f"at most {MAX_DAYS} days after starts_on"]
    for name in ("budget", "cost_per_contact"):
        value = data.get(name)
        if not isinstance(value, Decimal) or value < 0:
            errors[name] = ["an amount of at least 0.00"]
    share = data.get("control_share")
    if not isinstance(share, float) or not 0.05 <= share <= 0.5:
        errors["control_share"] = ["between 0.05 and 0.5"]
    uplift = data.get("target_uplift")
    if not isinstance(uplift, float) or not 0.001 <= uplift <= 0.5:
        errors["target_uplift"] = ["between 0.001 and 0.5"]
    if data.get("target_indicator") == "purchase" and not data.get("product_code"):
        errors["product_code"] = ["a purchase campaign names its product"]
    if errors:
        raise ValidationFailed("the campaign is not valid", details=errors)


def _segment(session: Session, segment_id: int | None) -> Segment | None:
    if segment_id is None:
        return None
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound("segment not found", code="segment_not_found")
    return segment


def create_campaign(session: Session, actor: Actor, data: dict, *, now=None) -> Campaign:
    """A draft. ``data``: FIELDS (money as Decimal, dates as date), ``target_uplift``,
    optional ``seed``."""
    access.ensure_team(actor)
    data = {
        "control_share": 0.25,
        "target_uplift": DEFAULT_TARGET_UPLIFT,
        "script": "",
        "sms_template": "",
        "product_code": None,
        "segment_id": None,
        **data,
    }
    _check(data)
    _segment(session, data["segment_id"])
    if session.scalar(select(Campaign.id).where(Campaign.code == data["code"])) is not None:
        raise Conflict("a campaign has this code", code="campaign_code_taken")
    now = now or utcnow()
    seed = data.get("seed")
    campaign = Campaign(
        **{f: data[f] for f in FIELDS},
        seed=int(seed) if seed is not None else secrets.randbelow(2**62),
        power={"target_uplift": data["target_uplift"]},
        status="draft",
        created_by_user_id=actor.user_id,
        created_at=now,
    )
    session.add(campaign)
    session.flush()
    record(
        session,
        actor,
        "marketing.campaign.create",
        "mkt_campaign",
        campaign.id,
        None,
        _snapshot(campaign),
    )
    return campaign


def get_for_change(session: Session, actor: Actor, campaign_id: int) -> Campaign:
    access.ensure_team(actor)
    campaign = session.get(Campaign, campaign_id, with_for_update=True, populate_existing=True)
    if campaign is None:
        raise NotFound("campaign not found", code="campaign_not_found")
    return campaign


def update_campaign(session: Session, actor: Actor, campaign_id: int, changes: dict) -> Campaign:
    """Edit a draft (a launched campaign never changes: 409 ``campaign_not_draft``)."""
    campaign = get_for_change(session, actor, campaign_id)
    if campaign.status != "draft":
        raise Conflict("only a draft may be edited", code="campaign_not_draft")
    before = _snapshot(campaign)
    data = {**before, **changes}
    _check(data)
    if "segment_id" in changes:
        _segment(session, changes["segment_id"])
    if (
        data["code"] != campaign.code
        and session.scalar(select(Campaign.id).where(Campaign.code == data["code"])) is not None
    ):
        raise Conflict("a campaign has this code", code="campaign_code_taken")
    for f in FIELDS:
        setattr(campaign, f, data[f])
    if changes.get("seed") is not None:
        campaign.seed = int(changes["seed"])
    campaign.power = {"target_uplift": data["target_uplift"]}
    record(
        session,
        actor,
        "marketing.campaign.update",
        "mkt_campaign",
        campaign.id,
        before,
        _snapshot(campaign),
    )
    return campaign


# --------------------------------------------------------------------------- power


def _members(session: Session, segment_id: int) -> list[tuple[int, str, float | None, Decimal]]:
    """(client id, tier, score, aum) of a frozen segment's members."""
    return list(
        session.execute(
            select(SegmentMember.client_id, Client.tier, SegmentMember.score, Client.aum)
            .join(Client, Client.id == SegmentMember.client_id)
            .where(SegmentMember.segment_id == segment_id)
        ).all()
    )


def compute_power(session: Session, campaign: Campaign) -> dict:
    """The power report of the campaign's list as it is now (module ``power``): sizes per tier
    from the frozen segment (or its last sizing), the baseline from the members' scores when
    every member has one and the list is a propensity list of the campaign's target, else the
    target's stated default."""
    delta = float((campaign.power or {}).get("target_uplift") or DEFAULT_TARGET_UPLIFT)
    strata: dict[str, int] = {}
    scores: list[float | None] = []
    frozen = False
    segment = session.get(Segment, campaign.segment_id) if campaign.segment_id else None
    # the members' scores are the baseline only when they are the no-contact propensity of
    # the campaign's own indicator (a propensity list of that target): an uplift list's
    # scores are predicted *differences*, another target's a different rate
    definition = (segment.definition or {}) if segment is not None else {}
    propensity_list = (
        definition.get("model") == "propensity"
        and definition.get("target") == campaign.target_indicator
    )
    if campaign.segment_id is not None:
        rows = session.execute(
            select(
                Client.tier,
                func.count(),
                func.avg(SegmentMember.score),
                func.count(SegmentMember.score),
            )
            .join(Client, Client.id == SegmentMember.client_id)
            .where(SegmentMember.segment_id == campaign.segment_id)
            .group_by(Client.tier)
        ).all()
        frozen = bool(rows)
        total = scored = 0
        weighted = 0.0
        for tier, n, mean, n_scored in rows:
            strata[tier] = int(n)
            total += int(n)
            scored += int(n_scored)
            weighted += float(mean or 0.0) * int(n_scored)
        if rows and scored == total and propensity_list:
            scores = [weighted / total]
    strata = {t: strata[t] for t in sorted(strata, key=_tier_order)}
    if scores and 0.0 < scores[0] < 1.0:
        p0, source = scores[0], "list_scores"  # the mean of the list's propensity scores
    else:
        p0 = DEFAULT_BASELINE[campaign.target_indicator]
        source = "default"  # DEFAULT_BASELINE of the target
    sizes = assign.arm_sizes(strata, campaign.control_share)
    out = power_mod.report(sizes, p0, delta, baseline_source=source)
    out["segment_frozen"] = frozen
    out["control_share"] = campaign.control_share
    return out


def _tier_order(tier: str) -> int:
    return TIERS.index(tier) if tier in TIERS else len(TIERS)


def power_of(session: Session, actor: Actor, campaign_id: int) -> dict:
    access.ensure_team(actor)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign not found", code="campaign_not_found")
    if campaign.status != "draft":
        return campaign.power
    return compute_power(session, campaign)


# --------------------------------------------------------------------------- launch


def freeze_members(session: Session, segment: Segment, client_ids, scores=None) -> int:
    """Freeze a segment as these clients (used by the demo seeder and tests; the segments
    part freezes rule and model segments through its own API)."""
    ids = sorted(set(int(i) for i in client_ids))
    if ids:
        session.execute(
            insert(SegmentMember),
            [
                {"segment_id": segment.id, "client_id": i, "score": (scores or {}).get(i)}
                for i in ids
            ],
        )
    segment.size = len(ids)
    segment.sized_at = utcnow()
    return len(ids)


def _freeze(session: Session, actor: Actor, segment: Segment) -> None:
    """Freeze an unfrozen segment through the segments part (its members as of today, a model
    list's scores with them)."""
    freeze_segment(session, actor, segment.id)


def launch(session: Session, actor: Actor, campaign_id: int, *, now: datetime | None = None):
    """Launch a draft: freeze its segment if needed, draw the stratified assignment (kept for
    ever: the control group is a persistent holdout), store the power. Twice: 409."""
    campaign = get_for_change(session, actor, campaign_id)
    if campaign.status != "draft":
        raise Conflict("the campaign is already launched", code="campaign_already_launched")
    if campaign.segment_id is None:
        raise BusinessRuleViolation("the campaign has no segment", code="campaign_no_segment")
    segment = _segment(session, campaign.segment_id)
    if not is_frozen(session, segment):
        _freeze(session, actor, segment)
    members = _members(session, segment.id)
    if not members:
        raise BusinessRuleViolation("the campaign's list is empty", code="segment_empty")
    now = now or utcnow()
    report = compute_power(session, campaign)
    arms = assign.draw(
        ((cid, tier) for cid, tier, _s, _a in members), campaign.control_share, campaign.seed
    )
    rows = [
        {
            "campaign_id": campaign.id,
            "client_id": cid,
            "arm": arms[cid],
            "stratum": tier,
            "aum_before": aum,
            "score": score,
            "assigned_at": now,
        }
        for cid, tier, score, aum in members
    ]
    for start in range(0, len(rows), 1000):
        session.execute(insert(Assignment), rows[start : start + 1000])
    campaign.power = {**report, "computed_at": now.isoformat()}
    campaign.status = "launched"
    campaign.launched_at = now
    campaign.launched_by_user_id = actor.user_id
    treated = sum(1 for a in arms.values() if a == "treatment")
    record(
        session,
        actor,
        "marketing.campaign.launch",
        "mkt_campaign",
        campaign.id,
        {"status": "draft"},
        {
            "status": "launched",
            "treatment": treated,
            "control": len(arms) - treated,
            "seed": campaign.seed,
            "power": report["overall"],
        },
    )
    session.flush()
    return campaign


# --------------------------------------------------------------------------- tasks


def record_outcome(
    session: Session,
    actor: Actor,
    task_id: int,
    outcome: str,
    opportunity: bool,
    note: str,
    *,
    now: datetime | None = None,
) -> Task:
    """The RM's outcome of a task (their own; the team any). The same outcome again changes
    nothing (idempotent); another outcome on a done task is 409 ``task_done``."""
    access.ensure_reader(actor)
    task = access.get_task(session, actor, task_id, lock=True)
    if outcome not in OUTCOMES:
        raise ValidationFailed("unknown outcome", details={"outcome": [f"one of {OUTCOMES}"]})
    if task.status == "done":
        if (task.outcome, task.opportunity, task.note) == (outcome, opportunity, note):
            return task
        raise Conflict("the task already has its outcome", code="task_done")
    if task.status != "open":
        raise Conflict("the task is not open", code="task_not_open")
    before = {"status": task.status}
    task.status = "done"
    task.outcome = outcome
    task.opportunity = bool(opportunity)
    task.note = note
    task.done_at = now or utcnow()
    record(
        session,
        actor,
        "marketing.task.outcome",
        "mkt_task",
        task.id,
        before,
        {"status": "done", "outcome": outcome, "opportunity": task.opportunity},
    )
    return task
