"""Batch revaluation on both databases: the same run key twice values each property once, a
run that dies midway resumes where it stopped, and the LTVs are recomputed at the end. The
valuer is a small deterministic fake: these tests are about the book-keeping, not the model
(the AVM's own tests hold the model)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.collateral.models import RevaluationRun, Valuation
from backend.collateral.monitoring import service
from backend.platform.context import SYSTEM
from backend.platform.errors import BusinessRuleViolation, PermissionDenied, ValidationFailed
from tests.integration.collateral_monitoring_support import (
    NOW,
    FakeValuer,
    actor,
    add_model,
    add_property,
    link,
)


@pytest.fixture
def book(session_factory):
    from backend.seed import seed_identity

    with session_factory() as s:
        seed_identity(s, None)
        model = add_model(s)
        props = [add_property(s, value=None, rm="rm1" if i % 2 else "rm2") for i in range(7)]
        add_property(s, value=None, status="released")
        link(s, props[0], "LOAN-1", outstanding="1432000.00")  # 89.5 m2 x 20,000 = 1.79m: 80 %
        s.commit()
        return {"model_id": model.id, "props": [p.id for p in props]}


def valuations(factory) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(Valuation))


def test_the_same_run_key_values_each_property_once(session_factory, book):
    valuer = FakeValuer(book["model_id"])
    seen = []
    first = service.revalue_book(
        session_factory,
        SYSTEM,
        run_key="2026-12",
        valuer=valuer,
        chunk=3,
        now=NOW,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert first["status"] == "done" and (first["done"], first["total"]) == (7, 7)
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert sorted(valuer.calls) == book["props"]  # the released one is not valued
    assert first["summary"]["ltv"]["levels"]["alarm"] == 1
    again = service.revalue_book(
        session_factory, SYSTEM, run_key="2026-12", valuer=valuer, chunk=3, now=NOW
    )
    assert again == first and len(valuer.calls) == 7
    assert valuations(session_factory) == 7
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(RevaluationRun)) == 1


def test_a_run_that_dies_midway_resumes(session_factory, book):
    dying = FakeValuer(book["model_id"], crash_after=4)
    with pytest.raises(RuntimeError):
        service.revalue_book(
            session_factory, SYSTEM, run_key="crash", valuer=dying, chunk=2, now=NOW
        )
    with session_factory() as s:
        run = s.scalar(select(RevaluationRun).where(RevaluationRun.run_key == "crash"))
        assert run.status == "running" and run.done == 4  # two chunks committed
    assert valuations(session_factory) == 4
    healthy = FakeValuer(book["model_id"])
    done = service.revalue_book(
        session_factory, SYSTEM, run_key="crash", valuer=healthy, chunk=2, now=NOW
    )
    assert done["status"] == "done" and done["done"] == 7
    assert len(healthy.calls) == 3 and not set(healthy.calls) & set(dying.calls)
    assert valuations(session_factory) == 7


def test_who_may_start_a_run_and_bad_keys(session_factory, book):
    valuer = FakeValuer(book["model_id"])
    with session_factory() as s:
        rm1, approver = actor(s, "rm1"), actor(s, "approver1")
    with pytest.raises(PermissionDenied):
        service.start_revaluation(session_factory, rm1, "x", valuer=valuer)
    for bad in ("", " ", "k" * 61, "a\nb"):
        with pytest.raises(ValidationFailed):
            service.revalue_book(session_factory, approver, run_key=bad, valuer=valuer)
    with pytest.raises(BusinessRuleViolation) as exc:
        service.revalue_book(session_factory, approver, run_key="none", valuer=FakeValuer(None))
    assert exc.value.code == "no_champion_model"
    assert service.start_revaluation(session_factory, approver, valuer=valuer)["done"] == 7
