"""Batch revaluation of the whole book: every active property valued again by the champion,
in chunks that commit, so that progress is visible (``done``/``total``) and a crash resumes.

``run_key`` names a run (the monthly job uses ``YYYY-MM``): starting the same key again
resumes it, and a property already valued in the run is skipped (the unique constraint
``uq_col_valuation_run_property`` guards it even against two processes). When every property
is valued, every credit's LTV is recomputed (``ltv.recompute``) and the run is ``done``; a
finished run started again does nothing and returns its summary.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.collateral.models import Property, RevaluationRun, Valuation
from backend.collateral.monitoring import ltv
from backend.platform.audit import record
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, DomainError, ValidationFailed

RUN_KEY_MAX = 60
Progress = Callable[[int, int], None]


class Valuer(Protocol):
    """What a revaluation needs of the valuation engine (tests inject a small fake)."""

    def champion_id(self, session: Session) -> int | None: ...

    def value(
        self, session: Session, actor: Actor, prop: Property, *, run_id: int, now: datetime
    ) -> Valuation: ...


@dataclass
class ChampionValuer:
    """The AVM's champion through ``backend.collateral.valuer`` (flushes a Valuation and sets
    the property's latest value)."""

    def champion_id(self, session: Session) -> int | None:
        from backend.collateral.modelstore import champion

        found = champion(session)
        return None if found is None else found[0].id

    def value_chunk(
        self, session: Session, actor: Actor, props: list[Property], *, run_id: int, now
    ) -> list[dict]:
        """``props`` valued in one vectorised call (``valuer.value_properties``: the same
        checks, log rows, latest values and audit records as one by one); returns the
        failures, each property's own (facts the valuer refuses)."""
        from backend.collateral.valuer import value_properties

        _done, failed = value_properties(
            session, actor, [p.id for p in props], purpose="revaluation", run_id=run_id, now=now
        )
        return [
            {"property_id": pid, "code": "validation_error", "error": details}
            for pid, details in failed.items()
        ]

    def value(self, session, actor, prop, *, run_id, now):
        from backend.collateral.valuer import facts_of, value_facts

        return value_facts(
            session,
            actor,
            facts_of(prop),
            property_id=prop.id,
            purpose="revaluation",
            run_id=run_id,
            now=now,
        )


def check_run_key(run_key: str) -> str:
    key = (run_key or "").strip()
    if not key or len(key) > RUN_KEY_MAX or not key.isprintable():
        raise ValidationFailed(
            "run_key: 1 to 60 printable characters",
            code="validation_error",
            details={"run_key": ["1 to 60 printable characters"]},
        )
    return key


def _active_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(Property.status == "active")) or 0


def _valued_in(session: Session, run_id: int) -> int:
    return session.scalar(select(func.count()).where(Valuation.run_id == run_id)) or 0


def start_run(session: Session, actor: Actor, run_key: str, valuer: Valuer) -> RevaluationRun:
    """The run of ``run_key``, created (``running``) when new. Commits nothing."""
    key = check_run_key(run_key)
    run = session.scalar(select(RevaluationRun).where(RevaluationRun.run_key == key))
    if run is not None:
        return run
    model_id = valuer.champion_id(session)
    if model_id is None:
        raise BusinessRuleViolation("no champion model to value with", code="no_champion_model")
    now = utcnow()
    run = RevaluationRun(
        run_key=key,
        model_id=model_id,
        status="running",
        total=_active_count(session),
        done=0,
        summary={},
        started_by=actor.username,
        started_at=now,
        finished_at=None,
    )
    session.add(run)
    session.flush()
    record(
        session,
        actor,
        "collateral.revaluation_started",
        "col_revaluation_run",
        run.id,
        None,
        {"run_key": key, "model_id": model_id, "total": run.total},
    )
    return run


def _opener(target: sessionmaker[Session] | Session) -> Callable[[], Any]:
    """Sessions from a factory, or the one session given (a job's), never closed here."""
    if isinstance(target, Session):
        return lambda: nullcontext(target)
    return target


def revalue_book(
    target: sessionmaker[Session] | Session,
    actor: Actor,
    *,
    run_key: str,
    progress: Progress | None = None,
    chunk: int = 50,
    valuer: Valuer | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Value every active property not yet valued in run ``run_key``, committing every
    ``chunk`` properties, then recompute every LTV. Returns the run's summary. ``target``: a
    session factory (each chunk in its own session), or one session committed per chunk."""
    valuer = valuer or ChampionValuer()
    factory = _opener(target)
    with factory() as session:
        try:
            run = start_run(session, actor, run_key, valuer)
            session.commit()
        except IntegrityError:  # another process created it at the same moment
            session.rollback()
            run = start_run(session, actor, run_key, valuer)
        run_id, status = run.id, run.status
        if status == "done":
            return summary_of(run)
        if run.status == "failed":
            run.status = "running"
            session.commit()
    failed: list[dict] = []
    after = 0  # properties failed in this pass are not tried again in it
    while True:
        with factory() as session:
            run = session.get(RevaluationRun, run_id)
            already = exists().where(
                Valuation.run_id == run_id, Valuation.property_id == Property.id
            )
            props = list(
                session.scalars(
                    select(Property)
                    .where(Property.status == "active", Property.id > after, ~already)
                    .order_by(Property.id)
                    .limit(chunk)
                )
            )
            if not props:
                break
            when = now or utcnow()
            after = props[-1].id
            if not _value_chunk(session, actor, valuer, props, run_id, when, failed):
                for prop in props:  # one by one: a bad property or a concurrent resume
                    try:
                        with session.begin_nested():
                            valuer.value(session, actor, prop, run_id=run_id, now=when)
                    except DomainError as exc:  # bad facts on one property: note it, go on
                        failed.append({"property_id": prop.id, "code": exc.code, "error": str(exc)})
                    except IntegrityError:  # valued by a concurrent resume of the same run
                        pass
            run.done = _valued_in(session, run_id)
            run.total = max(run.total, run.done)
            session.commit()
            if progress is not None:
                progress(run.done, run.total)
    with factory() as session:
        run = session.get(RevaluationRun, run_id)
        when = now or utcnow()
        ltv_result = ltv.recompute(session, actor, now=when)
        run.done = _valued_in(session, run_id)
        run.total = max(run.done, _active_count(session))
        run.status = "done"
        run.finished_at = utcnow()
        run.summary = {
            "valued": run.done,
            "failed": failed,
            "ltv": {k: ltv_result[k] for k in ("credits", "levels", "risk_events")},
            "level_changes": len(ltv_result["changes"]),
        }
        record(
            session,
            actor,
            "collateral.revaluation_done",
            "col_revaluation_run",
            run.id,
            None,
            {"run_key": run.run_key, "done": run.done, "total": run.total, "failed": len(failed)},
        )
        session.commit()
        return summary_of(run)


def _value_chunk(session, actor, valuer, props, run_id, when, failed) -> bool:
    """The chunk in one batch where the valuer can (True); False: value one by one."""
    batch = getattr(valuer, "value_chunk", None)
    if batch is None:
        return False
    try:
        with session.begin_nested():
            failed.extend(batch(session, actor, props, run_id=run_id, now=when))
    except IntegrityError:  # a concurrent resume valued some of them: one by one then
        return False
    return True


def summary_of(run: RevaluationRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "run_key": run.run_key,
        "model_id": run.model_id,
        "status": run.status,
        "done": run.done,
        "total": run.total,
        "summary": run.summary,
    }
