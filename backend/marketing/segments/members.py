"""Who is in a segment: a rule's members from SQL, a model list's from its scorer, a frozen
segment's from ``mkt_segment_members`` (what a campaign uses, never evaluated again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from backend.marketing.models import Client, ClientTag, MarketingEvent, Segment, SegmentMember
from backend.marketing.segments import rules, scorers
from backend.platform.errors import BusinessRuleViolation, ValidationFailed


@dataclass
class Parsed:
    kind: str  # rule | model
    tree: dict  # the parsed definition (rule tree, or model definition with ``where`` parsed)

    def stored(self) -> dict:
        return rules.to_json(self.tree)


@dataclass
class Members:
    ids: list[int]  # sorted client ids
    scores: dict[int, float] | None = None  # a model list's (or a frozen segment's) scores
    scored: scorers.Scored | None = None  # the model that picked them (not for frozen ones)
    frozen: bool = False


EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


def check_as_of(as_of: date) -> date:
    """An as-of day within reason (event windows reach ten years back from it)."""
    if not EARLIEST <= as_of <= LATEST:
        raise ValidationFailed(
            "as_of is out of range",
            code="validation_error",
            details={"as_of": [f"from {EARLIEST} to {LATEST}"]},
        )
    return as_of


def parse_definition(definition: Any) -> Parsed:
    """A definition of either kind, checked (400 ``invalid_definition`` with paths)."""
    if not isinstance(definition, dict):
        raise ValidationFailed(
            "the segment definition is not valid",
            code="invalid_definition",
            details={"definition": ["an object: a rule tree or a model definition"]},
        )
    if "model" in definition:
        return Parsed("model", scorers.parse_model(definition))
    return Parsed("rule", rules.parse_rule(definition))


def rule_ids(session: Session, tree: dict, as_of: date) -> list[int]:
    stmt = select(Client.id).where(rules.to_sql(tree, as_of)).order_by(Client.id)
    return list(session.scalars(stmt))


def evaluate(session: Session, parsed: Parsed, as_of: date) -> Members:
    if parsed.kind == "rule":
        return Members(ids=rule_ids(session, parsed.tree, as_of))
    definition = parsed.tree
    scorer = scorers.SCORERS[definition["model"]]
    candidates = rule_ids(session, definition["where"], as_of) if "where" in definition else None
    scored = scorer.score(session, definition, candidates, as_of)
    chosen = scorers.pick(scored.scores, definition)
    return Members(ids=sorted(chosen), scores=chosen, scored=scored)


def is_frozen(session: Session, segment: Segment) -> bool:
    """Frozen by ``freeze`` (``sized_at`` set) or created with its members (a model list)."""
    if segment.sized_at is not None:
        return True
    return bool(session.scalar(select(exists().where(SegmentMember.segment_id == segment.id))))


def frozen_members(session: Session, segment_id: int) -> Members:
    rows = session.execute(
        select(SegmentMember.client_id, SegmentMember.score)
        .where(SegmentMember.segment_id == segment_id)
        .order_by(SegmentMember.client_id)
    ).all()
    scores = {cid: s for cid, s in rows if s is not None}
    return Members(ids=[r[0] for r in rows], scores=scores or None, frozen=True)


def of_segment(
    session: Session, segment: Segment, as_of: date, *, score_models: bool = True
) -> Members | None:
    """The segment's members: frozen ones as they are, else evaluated now. ``None`` for an
    unfrozen model list when ``score_models`` is False (scoring trains a model: not done for
    every saved list a preview compares with)."""
    if is_frozen(session, segment):
        return frozen_members(session, segment.id)
    if segment.kind == "model" and not score_models:
        return None
    try:
        parsed = parse_definition(segment.definition)
    except ValidationFailed:
        raise BusinessRuleViolation(
            "the saved definition is no longer valid (a model no longer offered?)",
            code="segment_definition_invalid",
            details={"segment_id": segment.id},
        ) from None
    return evaluate(session, parsed, as_of)


def population(session: Session, as_of: date) -> rules.Population:
    """Every client with the columns the mask reads, their tags and events, from the tables:
    the in-memory side of the SQL/pandas equivalence (and a batch's way to evaluate many
    definitions at once)."""
    import pandas as pd

    rows = session.execute(
        select(
            Client.id,
            Client.tier,
            Client.gender,
            Client.outlet,
            Client.aum,
            Client.birth_year,
            Client.risk_level,
            Client.digital_active,
            Client.dormant,
        )
    ).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "id",
            "tier",
            "gender",
            "outlet",
            "aum",
            "birth_year",
            "risk_level",
            "digital_active",
            "dormant",
        ],
    ).set_index("id")
    frame["aum"] = frame["aum"].astype(float)
    frame["age"] = as_of.year - frame["birth_year"].astype(int)
    frame["risk_level"] = frame["risk_level"].astype(int)
    frame["digital_active"] = frame["digital_active"].astype(bool)
    frame["dormant"] = frame["dormant"].astype(bool)
    tags = pd.DataFrame(
        session.execute(select(ClientTag.client_id, ClientTag.tag)).all(), columns=["client", "tag"]
    )
    events = pd.DataFrame(
        session.execute(
            select(MarketingEvent.client_id, MarketingEvent.kind, MarketingEvent.occurred_at)
        ).all(),
        columns=["client", "kind", "occurred_at"],
    )
    return rules.Population(frame=frame, tags=tags, events=events)
