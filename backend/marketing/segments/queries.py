"""Segments, the read side: the saved list, one segment, and the size and overlap of a
definition before it is used (a preview saves nothing). The marketing team only: segments
span every RM's clients."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.marketing.access import ensure_team
from backend.marketing.models import Client, Segment
from backend.marketing.segments import members as mem
from backend.marketing.segments import propensity, rules, scorers
from backend.marketing.segments.service import get_segment
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation
from backend.platform.pagination import Page, paginate

OVERLAP_WITH = 100  # the newest saved segments a preview compares with


def _mark(session: Session, segment: Segment) -> Segment:
    segment.frozen = mem.is_frozen(session, segment)  # type: ignore[attr-defined]
    return segment


def list_segments(
    session: Session,
    actor: Actor,
    *,
    kind: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    ensure_team(actor)
    stmt = select(Segment)
    if kind:
        stmt = stmt.where(Segment.kind == kind)
    page = paginate(session, stmt, Segment.id, limit=limit, cursor=cursor, descending=True)
    page.items = [_mark(session, s) for s in page.items]
    return page


def segment_detail(session: Session, actor: Actor, segment_id: int) -> Segment:
    return _mark(session, get_segment(session, actor, segment_id))


@dataclass
class Preview:
    kind: str
    as_of: date
    size: int
    by_tier: dict[str, int]
    by_outlet: dict[str, int]
    overlap: list[dict] = field(default_factory=list)
    model: dict | None = None


def _profile(session: Session, parsed: mem.Parsed, ids: list[int], as_of: date) -> tuple:
    if parsed.kind == "rule":
        rows = session.execute(
            select(Client.tier, Client.outlet).where(rules.to_sql(parsed.tree, as_of))
        ).all()
    else:
        wanted = set(ids)
        rows = [
            (tier, outlet)
            for cid, tier, outlet in session.execute(select(Client.id, Client.tier, Client.outlet))
            if cid in wanted
        ]
    tiers = Counter(r[0] for r in rows)
    outlets = Counter(r[1] for r in rows)
    by_tier = {t: tiers.get(t, 0) for t in rules.TIERS}
    return by_tier, dict(sorted(outlets.items()))


def overlaps(
    session: Session, ids: list[int], as_of: date, *, but: int | None = None
) -> list[dict]:
    """Each saved segment (the newest ``OVERLAP_WITH``) against ``ids``: its size, the
    clients in both, and the Jaccard index. An unfrozen model list is not scored for this
    (``overlap`` null)."""
    mine = set(ids)
    stmt = select(Segment).order_by(Segment.id.desc()).limit(OVERLAP_WITH)
    out = []
    for segment in session.scalars(stmt):
        if segment.id == but:
            continue
        try:
            theirs = mem.of_segment(session, segment, as_of, score_models=False)
        except BusinessRuleViolation:  # a stored definition no longer valid: not compared
            theirs = None
        if theirs is None:
            out.append(
                {
                    "segment_id": segment.id,
                    "name": segment.name,
                    "kind": segment.kind,
                    "frozen": False,
                    "size": None,
                    "overlap": None,
                    "jaccard": None,
                }
            )
            continue
        other = set(theirs.ids)
        both = len(mine & other)
        union = len(mine | other)
        out.append(
            {
                "segment_id": segment.id,
                "name": segment.name,
                "kind": segment.kind,
                "frozen": theirs.frozen,
                "size": len(other),
                "overlap": both,
                "jaccard": round(both / union, 4) if union else 0.0,
            }
        )
    return out


def preview(
    session: Session, actor: Actor, definition: object, *, as_of: date | None = None
) -> Preview:
    """Size, size per tier and per outlet, and the overlap with each saved segment, of a
    definition (a model list is scored: its model's figures come with it). Saves nothing."""
    ensure_team(actor)
    parsed = mem.parse_definition(definition)
    as_of = mem.check_as_of(as_of or utcnow().date())
    members = mem.evaluate(session, parsed, as_of)
    by_tier, by_outlet = _profile(session, parsed, members.ids, as_of)
    return Preview(
        kind=parsed.kind,
        as_of=as_of,
        size=len(members.ids),
        by_tier=by_tier,
        by_outlet=by_outlet,
        overlap=overlaps(session, members.ids, as_of),
        model=members.scored.info if members.scored is not None else None,
    )


def vocabulary(actor: Actor) -> dict:
    """What a definition may name (the console's builder offers exactly this)."""
    ensure_team(actor)
    return {
        "fields": {
            name: {
                "kind": spec.kind,
                "ops": list(spec.ops),
                "choices": list(spec.choices),
                "low": spec.low if spec.kind == "int" else None,
                "high": spec.high if spec.kind == "int" else None,
            }
            for name, spec in rules.FIELDS.items()
        },
        "events": list(rules.EVENT_KINDS),
        "models": list(scorers.SCORERS),
        "targets": list(propensity.TARGETS),
        "max_depth": rules.MAX_DEPTH,
        "max_leaves": rules.MAX_LEAVES,
    }
