"""The factory's use cases: start a run (schedule, hand, API), queue one item, upload a file
for a robot, review a BUSINESS-failed item (maker-checker), and read runs, items, logs and
artefacts within the caller's department."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.after_commit import after_commit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from backend.platform.wiring import wiring_of
from backend.rpa import manifest as manifests
from backend.rpa.access import ensure_factory_user, ensure_sees
from backend.rpa.models import Artefact, Review, RobotRecord, RobotVersion, Run, WorkItem
from backend.rpa.queue import dispatcher_for
from backend.rpa.registry import active_version, robot_by_name
from backend.rpa.worker import _settle, artefact_row, new_item

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
UPLOAD_TYPES = ("image/png", "image/jpeg")


def _dispatcher(session: Session):
    return dispatcher_for(wiring_of(session).config)


def visible_robot(session: Session, actor: Actor, name: str, *, lock=False) -> RobotRecord:
    department = ensure_factory_user(session, actor)
    robot = robot_by_name(session, name, lock=lock)
    ensure_sees(department, robot.department, "robot")
    return robot


def start_run(
    session: Session,
    actor: Actor,
    name: str,
    *,
    trigger: str = "hand",
    params: dict[str, Any] | None = None,
    run_key: str | None = None,
) -> Run:
    """A new run of robot ``name`` (its ``produce`` runs on a worker). ``run_key`` makes it
    idempotent: the same key gives the same run."""
    robot = visible_robot(session, actor, name, lock=True)
    if run_key is not None:
        found = session.scalar(select(Run).where(Run.robot_id == robot.id, Run.run_key == run_key))
        if found is not None:
            return found
    if not robot.enabled:
        raise Conflict(f"robot {name} is disabled", code="robot_disabled")
    version = active_version(session, robot)
    if params is not None and not isinstance(params, dict):
        raise ValidationFailed("params must be a JSON object")
    run = Run(
        robot_id=robot.id,
        version_id=version.id,
        department=robot.department,
        trigger=trigger,
        requested_by=actor.username,
        params=params or {},
        run_key=run_key,
        status="running",
        produced=False,
        created_at=utcnow(),
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        actor,
        "rpa.run",
        "rpa_run",
        run.id,
        None,
        {"robot": name, "trigger": trigger, "version": version.version},
    )
    run_id, dispatcher = run.id, _dispatcher(session)
    after_commit(session, lambda: dispatcher.send_run(run_id))
    return run


def queue_item(
    session: Session, actor: Actor, name: str, payload: Any, *, run_key: str | None = None
) -> WorkItem:
    """One item straight into robot ``name``'s queue (an upload, a case from another system),
    in the day's inbox run of that robot."""
    robot = visible_robot(session, actor, name, lock=True)
    if not robot.enabled:
        raise Conflict(f"robot {name} is disabled", code="robot_disabled")
    version = active_version(session, robot)
    m = manifests.from_json(version.manifest)
    manifests.check_payload(m, payload)
    key = run_key or f"inbox:{utcnow().date().isoformat()}:v{version.id}"
    run = session.scalar(select(Run).where(Run.robot_id == robot.id, Run.run_key == key))
    if run is None:
        run = Run(
            robot_id=robot.id,
            version_id=version.id,
            department=robot.department,
            trigger="api",
            requested_by=actor.username,
            params={},
            run_key=key,
            status="running",
            produced=True,
            created_at=utcnow(),
            started_at=utcnow(),
        )
        session.add(run)
        session.flush()
    item = new_item(session, run, robot, version, m, payload)
    _settle(session, run)
    session.flush()
    audit.record(session, actor, "rpa.item", "rpa_work_item", item.id, None, {"robot": name})
    item_id, dispatcher = item.id, _dispatcher(session)
    after_commit(session, lambda: dispatcher.send_item(item_id))
    return item


def upload(
    session: Session, actor: Actor, name: str, data: bytes, content_type: str, filename: str
) -> Artefact:
    """A file (a scan) kept for robot ``name``'s department, to be named in an item."""
    robot = visible_robot(session, actor, name)
    if content_type not in UPLOAD_TYPES:
        raise ValidationFailed(f"file type must be one of {', '.join(UPLOAD_TYPES)}")
    if not data or len(data) > MAX_UPLOAD_BYTES:
        raise ValidationFailed(f"file must have 1 to {MAX_UPLOAD_BYTES} bytes")
    magic = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}
    if not any(data.startswith(k) and v == content_type for k, v in magic.items()):
        raise ValidationFailed("file content is not the declared image type")
    row = artefact_row(
        robot.department, None, None, filename or "upload", data, content_type, actor.username
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "rpa.upload",
        "rpa_artefact",
        row.id,
        None,
        {"robot": name, "sha256": row.sha256, "size": row.size},
    )
    return row


# ---------------------------------------------------------------------- reads


def _visible(session: Session, actor: Actor, model, row_id: int, what: str, *, lock=False):
    """A row of the caller's department (another department's, or none: 404)."""
    department = ensure_factory_user(session, actor)
    row = session.get(model, row_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"{what} not found")
    ensure_sees(department, row.department, what)
    return row


def get_run(session: Session, actor: Actor, run_id: int) -> Run:
    return _visible(session, actor, Run, run_id, "run")


def get_item(session: Session, actor: Actor, item_id: int) -> WorkItem:
    return _visible(session, actor, WorkItem, item_id, "work item")


def get_artefact(session: Session, actor: Actor, artefact_id: int) -> Artefact:
    return _visible(session, actor, Artefact, artefact_id, "artefact")


# ---------------------------------------------------------------------- reviews


def get_review(session: Session, actor: Actor, review_id: int, *, lock=False) -> Review:
    return _visible(session, actor, Review, review_id, "review", lock=lock)


def propose(
    session: Session,
    actor: Actor,
    review_id: int,
    action: str,
    *,
    corrected_payload: dict | None = None,
    note: str = "",
) -> Review:
    """The maker: retry the item (with a corrected payload, checked now) or close it."""
    review = get_review(session, actor, review_id, lock=True)
    if actor.user_id is None:
        raise PermissionDenied("a review needs a person")
    if review.status != "open":
        raise Conflict(f"review is {review.status}", code="review_not_open")
    if action not in ("retry", "close"):
        raise ValidationFailed("action must be retry or close")
    item = session.get(WorkItem, review.item_id)
    if action == "retry":
        payload = corrected_payload if corrected_payload is not None else item.payload
        m = manifests.from_json(_version_manifest(session, item))
        manifests.check_payload(m, payload)
        review.corrected_payload = payload
    review.action = action
    review.note = (note or "")[:2000]
    review.status = "proposed"
    review.proposed_by = actor.user_id
    review.proposed_at = utcnow()
    audit.record(
        session, actor, "rpa.review.propose", "rpa_review", review.id, None, {"action": action}
    )
    return review


def check(session: Session, actor: Actor, review_id: int, approve: bool) -> Review:
    """The checker (another person of the department): approve or send back to open."""
    review = get_review(session, actor, review_id, lock=True)
    if review.status != "proposed":
        raise Conflict(f"review is {review.status}", code="review_not_proposed")
    if actor.user_id is None or actor.user_id == review.proposed_by:
        raise PermissionDenied(
            "the checker must be another person than the maker", code="same_maker_checker"
        )
    if not approve:
        audit.record(
            session,
            actor,
            "rpa.review.reject",
            "rpa_review",
            review.id,
            {"action": review.action},
            None,
        )
        review.status = "open"
        review.action = review.corrected_payload = review.proposed_by = None
        review.proposed_at = None
        return review
    item = session.get(WorkItem, review.item_id)
    if review.action == "retry":
        run = session.get(Run, item.run_id, with_for_update=True)
        robot = session.get(RobotRecord, item.robot_id)
        version = session.get(RobotVersion, item.version_id)
        m = manifests.from_json(version.manifest)
        again = new_item(
            session, run, robot, version, m, review.corrected_payload, parent_item_id=item.id
        )
        _settle(session, run)
        session.flush()
        review.retry_item_id = again.id
        again_id, dispatcher = again.id, _dispatcher(session)
        after_commit(session, lambda: dispatcher.send_item(again_id))
    review.status = "resolved"
    review.checked_by = actor.user_id
    review.resolved_at = utcnow()
    audit.record(
        session,
        actor,
        "rpa.review.approve",
        "rpa_review",
        review.id,
        None,
        {"action": review.action, "retry_item_id": review.retry_item_id},
    )
    return review


def _version_manifest(session: Session, item: WorkItem) -> dict:
    return session.get(RobotVersion, item.version_id).manifest
