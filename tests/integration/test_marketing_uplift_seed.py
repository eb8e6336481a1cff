"""The demo seed trains the uplift model on the seeded campaign's results and computes the
KPI credits, once; the tests' plain seed does neither (kept fast)."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.marketing.models import KpiCredit, UpliftModel
from backend.marketing.seed_results import seed_uplift
from backend.marketing.uplift import learners
from backend.platform.seeding import SeedOptions
from tests.integration.marketing_uplift_support import planted_campaign


def test_demo_seed_trains_once_and_plain_seed_does_nothing(session):
    assert seed_uplift(session, SeedOptions(cars=10)) == {
        "uplift_models": 0,
        "uplift_skipped": "not_enough_results",
        "kpi_credits": 0,
    }
    planted_campaign(session, n=1_000, seed=61, code="RENEW-SEED")
    session.commit()
    assert seed_uplift(session, SeedOptions()) == {"uplift_models": 0}
    assert session.scalar(select(func.count()).select_from(UpliftModel)) == 0
    first = seed_uplift(session, SeedOptions(cars=10))
    session.commit()
    assert first["uplift_models"] == 1 and first["uplift_method"] in learners.METHODS
    again = seed_uplift(session, SeedOptions(cars=10))
    session.commit()
    assert again["uplift_models"] == 0
    assert session.scalar(select(func.count()).select_from(UpliftModel)) == 1
    # the planted clients have no RM: no credits to write
    assert session.scalar(select(func.count()).select_from(KpiCredit)) == 0
