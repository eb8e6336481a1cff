"""The quarterly ratio study on both databases: a rerun updates its one row, the drift alarm
is raised on a quarter with a planted market move and not on a calm one, and the sale price
never reaches the model. The drift rules are checked first with a plain valuer (area x a
price per m2) and a plain study, then end to end with the AVM's champion on the generated
market and its ``ratio_study``."""

from __future__ import annotations

import random
import statistics
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.collateral.models import RatioStudy
from backend.collateral.monitoring import ratio, service
from backend.platform.audit import AuditRecord
from backend.platform.errors import BusinessRuleViolation, PermissionDenied, ValidationFailed
from tests.integration.collateral_monitoring_support import NOW, actor, add_model

PER_M2 = 20000


def simple_study(predicted, actual) -> dict:
    """A plain IAAO study (the figures the drift rules read), independent of the AVM's."""
    ratios = sorted(p / a for p, a in zip(predicted, actual, strict=True))
    med = statistics.median(ratios)
    cod = 100 * statistics.fmean(abs(r - med) for r in ratios) / med
    ppe10 = 100 * sum(abs(p - a) / a <= 0.10 for p, a in zip(predicted, actual, strict=True))
    ppe10 /= len(actual)
    return {
        "n": len(ratios),
        "median_ratio": med,
        "cod": cod,
        "ppe10": ppe10,
        "iaao": {"median_ratio": 0.90 <= med <= 1.10, "cod": 5 <= cod <= 15},
    }


class Seen:
    rows: list[dict] = []


def fake_assessor(session_model) -> ratio.Assessor:
    def value_many(_trained, rows):
        Seen.rows = rows
        return [r["area"] * PER_M2 for r in rows]

    return ratio.Assessor(
        champion=lambda s: (session_model, None), value_many=value_many, study=simple_study
    )


def sales(quarter_start: date, n: int, move: float, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        area = Decimal(rng.randint(50, 160))
        noise = rng.gauss(0, 0.06)
        price = (area * PER_M2 * Decimal(str(round((1 + move) * (1 + noise), 4)))).quantize(
            Decimal("0.01")
        )
        out.append(
            {
                "source_ref": f"T-{quarter_start:%Y%m}-{seed}-{i}",
                "city": "Hangzhou",
                "district": "Xihu",
                "community": f"Garden {i % 7}",
                "area_m2": area,
                "floor": 3,
                "total_floors": 18,
                "build_year": 2010,
                "orientation": "S",
                "decoration": "fine",
                "rooms": 3,
                "property_type": "apartment",
                "price": price,
                "sale_date": quarter_start + timedelta(days=i % 60),
            }
        )
    return out


@pytest.fixture
def market(session):
    from backend.seed import seed_identity

    seed_identity(session, None)
    model = add_model(
        session, metrics={"held_out": {"median_ratio": 1.0, "cod": 5.0, "ppe10": 85.0}}
    )
    staff = actor(session, "rm1")
    service.import_sales(session, staff, sales(date(2026, 7, 1), 120, 0.0, 1), now=NOW)
    service.import_sales(session, staff, sales(date(2026, 10, 1), 120, 0.15, 2), now=NOW)
    session.commit()
    return model


def test_drift_alarm_on_a_planted_move_not_on_a_calm_quarter(session, market):
    approver = actor(session, "approver1")
    assessor = fake_assessor(market)
    calm = service.study_quarter(session, approver, "2026Q3", assessor=assessor)
    moved = service.study_quarter(session, approver, "2026Q4", assessor=assessor)
    session.commit()
    assert calm.sales == moved.sales == 120
    assert not [a for a in calm.alarms if a["code"].startswith("drift_")], calm.alarms
    codes = {a["code"] for a in moved.alarms}
    assert "drift_median_ratio" in codes and "drift_ppe10" in codes
    assert moved.metrics["median_ratio"] < 0.9
    # the model saw facts, never the price or the sale date
    assert Seen.rows and not {"price", "sale_date", "source_ref"} & set(Seen.rows[0])


def test_a_rerun_updates_its_one_row(session, market):
    approver = actor(session, "approver1")
    assessor = fake_assessor(market)
    first = service.study_quarter(session, approver, "2026Q4", assessor=assessor)
    session.commit()
    again = service.study_quarter(session, approver, "2026Q4", assessor=assessor)
    session.commit()
    assert again.id == first.id
    assert session.scalar(select(func.count()).select_from(RatioStudy)) == 1
    audits = session.scalar(
        select(func.count()).where(AuditRecord.action == "collateral.ratio_study")
    )
    assert audits == 2


def test_study_input_and_rights(session, market):
    assessor = fake_assessor(market)
    with pytest.raises(PermissionDenied):
        service.study_quarter(session, actor(session, "rm1"), "2026Q4", assessor=assessor)
    for bad in ("2026Q5", "2026-Q4", "", "1999Q1"):
        with pytest.raises(ValidationFailed):
            ratio.check_quarter(bad)
    with pytest.raises(BusinessRuleViolation) as exc:
        service.study_quarter(session, actor(session, "admin"), "2025Q1", assessor=assessor)
    assert exc.value.code == "no_sales_in_quarter"
    assert ratio.previous_quarter(date(2027, 1, 2)) == "2026Q4"
    assert ratio.previous_quarter(date(2026, 7, 2)) == "2026Q2"
    assert ratio.check_quarter("2024Q1") == (date(2024, 1, 1), date(2024, 3, 31))


def test_the_champion_on_the_generated_market_sees_the_planted_move(session):
    """The AVM trained on the demo's generated sales of 2024-2025 (its champion) values 300
    sales of each of the next four quarters: the quarter right after training is calm, the
    last one (every price 12 % down) raises the drift and IAAO median-ratio alarms."""
    from backend.collateral import modelstore
    from backend.collateral.monitoring.seed import last_quarters, market_sales
    from backend.collateral.seed import N_DEMO, demo_model
    from backend.platform.context import SYSTEM
    from backend.seed import seed_identity

    seed_identity(session, None)
    model = modelstore.register(session, SYSTEM, demo_model(N_DEMO), status="champion")
    quarters = last_quarters(date(2026, 12, 4))
    assert quarters == ["2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    rows = market_sales(quarters, 300, move_last=-0.12)
    assert len(rows) == 1200
    service.import_sales(session, SYSTEM, rows, now=NOW)
    calm = service.run_ratio_study(session, SYSTEM, "2025Q4", now=NOW)
    moved = service.run_ratio_study(session, SYSTEM, "2026Q3", now=NOW)
    session.commit()
    held_out = model.metrics["ensemble"]
    print(
        f"held out: median ratio {held_out['median_ratio']}, COD {held_out['cod']}, "
        f"PPE10 {held_out['ppe10']}; 2025Q4: {calm.metrics['median_ratio']}, "
        f"{calm.metrics['cod']}, {calm.metrics['ppe10']}; 2026Q3 (-12 %): "
        f"{moved.metrics['median_ratio']}, {moved.metrics['cod']}, {moved.metrics['ppe10']}"
    )
    assert not [a for a in calm.alarms if a["code"].startswith("drift_")], calm.alarms
    codes = {a["code"] for a in moved.alarms}
    assert {"drift_median_ratio", "iaao_median_ratio"} <= codes, codes
    assert moved.metrics["median_ratio"] > 1.10
