"""Segments, the write side: save, change and delete a definition, freeze its members (the
list a campaign uses) and export a list. The marketing team (and admins) only; every change
and every export is audited, an export also recorded in ``mkt_exports`` (rows, SHA-256 of the
file, who, why)."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.orm import Session

from backend.identity.models import User
from backend.marketing.access import ensure_team
from backend.marketing.models import (
    Campaign,
    Client,
    ClientTag,
    ListExport,
    Segment,
    SegmentMember,
)
from backend.marketing.segments import members as mem
from backend.platform.audit import record
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

EXPORT_COLUMNS = ("client_no", "name", "tier", "outlet", "rm")
CHUNK = 5_000


def get_segment(session: Session, actor: Actor, segment_id: int, *, lock: bool = False) -> Segment:
    ensure_team(actor)
    segment = session.get(Segment, segment_id, with_for_update=lock, populate_existing=lock)
    if segment is None:
        raise NotFound("segment not found", code="segment_not_found")
    return segment


def _name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= 80:
        raise ValidationFailed(
            "a segment needs a name of 1 to 80 characters",
            code="validation_error",
            details={"name": ["1 to 80 characters"]},
        )
    return name


def _name_free(session: Session, name: str, but: int | None = None) -> None:
    stmt = select(Segment.id).where(Segment.name == name)
    if but is not None:
        stmt = stmt.where(Segment.id != but)
    if session.scalar(stmt) is not None:
        raise Conflict("a segment of that name exists", code="segment_name_taken")


def _view(segment: Segment) -> dict:
    return {
        "name": segment.name,
        "kind": segment.kind,
        "definition": segment.definition,
        "size": segment.size,
    }


def create_segment(session: Session, actor: Actor, *, name: str, definition: object) -> Segment:
    ensure_team(actor)
    name = _name(name)
    parsed = mem.parse_definition(definition)
    _name_free(session, name)
    now = utcnow()
    segment = Segment(
        name=name,
        kind=parsed.kind,
        definition=parsed.stored(),
        size=None,
        sized_at=None,
        created_by_user_id=actor.user_id,
        created_at=now,
    )
    session.add(segment)
    session.flush()
    record(
        session, actor, "marketing.segment.create", "mkt_segment", segment.id, None, _view(segment)
    )
    return segment


def update_segment(
    session: Session,
    actor: Actor,
    segment_id: int,
    *,
    name: str | None = None,
    definition: object = None,
) -> Segment:
    segment = get_segment(session, actor, segment_id, lock=True)
    before = _view(segment)
    if definition is not None:
        if mem.is_frozen(session, segment):
            raise Conflict(
                "a frozen segment's definition does not change: save a new segment",
                code="segment_frozen",
            )
        parsed = mem.parse_definition(definition)
        segment.kind, segment.definition = parsed.kind, parsed.stored()
    if name is not None:
        name = _name(name)
        _name_free(session, name, but=segment.id)
        segment.name = name
    session.flush()
    record(
        session,
        actor,
        "marketing.segment.update",
        "mkt_segment",
        segment.id,
        before,
        _view(segment),
    )
    return segment


def delete_segment(session: Session, actor: Actor, segment_id: int) -> None:
    segment = get_segment(session, actor, segment_id, lock=True)
    if session.scalar(select(exists().where(Campaign.segment_id == segment.id))):
        raise Conflict("a campaign uses this segment", code="segment_in_use")
    if session.scalar(select(exists().where(ListExport.segment_id == segment.id))):
        raise Conflict(
            "this segment was exported: it stays, with its members, for the record",
            code="segment_exported",
        )
    before = _view(segment)
    session.execute(delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
    session.delete(segment)
    session.flush()
    record(session, actor, "marketing.segment.delete", "mkt_segment", segment_id, before, None)


@dataclass
class FreezeResult:
    segment: Segment
    size: int
    model: dict | None
    tagged: int


def _write_model_tags(session: Session, tag: str, version: str, scores: dict[int, float]) -> int:
    """The list's clients carry the model tag (score, model version); the tag's previous
    holders lose it (a model tag says what the latest list said)."""
    session.execute(delete(ClientTag).where(ClientTag.tag == tag, ClientTag.source == "model"))
    # a rule tag of the same name stays the rule's: the model does not overwrite it
    ruled = set(session.scalars(select(ClientTag.client_id).where(ClientTag.tag == tag)))
    now = utcnow()
    rows = [
        {
            "client_id": cid,
            "tag": tag,
            "source": "model",
            "version": version[:40],
            "score": float(score),
            "assigned_at": now,
        }
        for cid, score in scores.items()
        if cid not in ruled
    ]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(ClientTag), rows[start : start + CHUNK])
    return len(rows)


def freeze_segment(
    session: Session, actor: Actor, segment_id: int, *, as_of: date | None = None
) -> FreezeResult:
    """Materialise the members (with a model list's scores) into ``mkt_segment_members``:
    the list a campaign uses from now on. Once only (409 ``segment_frozen``)."""
    segment = get_segment(session, actor, segment_id, lock=True)
    if mem.is_frozen(session, segment):
        raise Conflict("the segment is already frozen", code="segment_frozen")
    as_of = mem.check_as_of(as_of or utcnow().date())
    members = mem.of_segment(session, segment, as_of)
    assert members is not None
    scores = members.scores or {}
    rows = [
        {"segment_id": segment.id, "client_id": cid, "score": scores.get(cid)}
        for cid in members.ids
    ]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(SegmentMember), rows[start : start + CHUNK])
    now = utcnow()
    segment.size, segment.sized_at = len(rows), now
    tagged = 0
    model = None
    if members.scored is not None:
        model = members.scored.info
        if members.scored.tag:
            tagged = _write_model_tags(session, members.scored.tag, members.scored.version, scores)
    session.flush()
    after = {"size": len(rows), "as_of": as_of.isoformat(), "tagged": tagged}
    if model is not None:
        after["model"] = {k: v for k, v in model.items() if k != "metrics"}
        after["model"]["metrics"] = {
            k: model["metrics"].get(k) for k in ("auc", "brier", "brier_base_rate", "ece")
        }
    record(session, actor, "marketing.segment.freeze", "mkt_segment", segment.id, None, after)
    return FreezeResult(segment=segment, size=len(rows), model=model, tagged=tagged)


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass
class Export:
    record: ListExport
    filename: str
    body: bytes


def export_segment(
    session: Session, actor: Actor, segment_id: int, *, purpose: str, at: datetime | None = None
) -> Export:
    """The segment's members as CSV (client no, name, tier, outlet, RM), recorded and
    audited. A frozen segment exports its frozen list; another its members now."""
    segment = get_segment(session, actor, segment_id)
    if actor.user_id is None:  # a list leaves with a person's name on the record
        raise PermissionDenied("an export is made by a signed-in user", code="export_needs_user")
    purpose = purpose.strip() if isinstance(purpose, str) else ""
    if not 3 <= len(purpose) <= 200:
        raise ValidationFailed(
            "an export needs its purpose (3 to 200 characters)",
            code="validation_error",
            details={"purpose": ["3 to 200 characters: why the list leaves FinEdge"]},
        )
    at = at or utcnow()
    members = mem.of_segment(session, segment, at.date())
    assert members is not None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    rows = 0
    for start in range(0, len(members.ids), CHUNK):
        chunk = members.ids[start : start + CHUNK]
        result = session.execute(
            select(Client.client_no, Client.name, Client.tier, Client.outlet, User.username)
            .outerjoin(User, User.id == Client.rm_user_id)
            .where(Client.id.in_(chunk))
            .order_by(Client.client_no)
        )
        for line in result:
            writer.writerow([_cell(v) for v in line])
            rows += 1
    body = out.getvalue().encode("utf-8-sig")  # with a BOM: spreadsheets read it as UTF-8
    digest = hashlib.sha256(body).hexdigest()
    entry = ListExport(
        user_id=actor.user_id,
        segment_id=segment.id,
        campaign_id=None,
        rows=rows,
        purpose=purpose,
        sha256=digest,
        at=at,
    )
    session.add(entry)
    session.flush()
    record(
        session,
        actor,
        "marketing.segment.export",
        "mkt_segment",
        segment.id,
        None,
        {"export_id": entry.id, "rows": rows, "sha256": digest, "purpose": purpose},
    )
    return Export(record=entry, filename=f"segment-{segment.id}-{entry.id}.csv", body=body)
