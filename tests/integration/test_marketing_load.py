"""The synthetic client base goes into the marketing tables and comes back as the feature
frame models read, on both databases."""

from __future__ import annotations

from datetime import date

import numpy as np
from sqlalchemy import func, select

from backend.marketing import synth
from backend.marketing.load import client_frame, load_clients
from backend.marketing.models import Client, ContactConsent, Holding

AS_OF = date(2026, 6, 1)


def test_load_is_idempotent_and_the_frame_matches_the_generator(session):
    frame = synth.clients(300, seed=11)
    ids = load_clients(session, frame, as_of=AS_OF)
    session.commit()
    again = load_clients(session, frame, as_of=AS_OF)
    session.commit()
    assert ids == again and len(set(ids)) == 300
    assert session.scalar(select(func.count()).select_from(Client)) == 300
    assert session.scalar(select(func.count()).select_from(ContactConsent)) == 900
    n_hold = session.scalar(select(func.count()).select_from(Holding))
    assert (
        n_hold
        == 300
        + frame.has_wealth.sum()
        + frame.has_time_deposit.sum()
        + (frame.loan_balance > 0).sum()
    )

    got = client_frame(session, as_of=AS_OF).loc[ids]
    for column in ("age", "tier_idx", "risk_level", "wealth_maturity_days", "time_maturity_days"):
        assert np.array_equal(got[column].to_numpy(), frame[column].to_numpy()), column
    for column in ("digital_active", "has_wealth", "has_time_deposit", "dormant", "maturing_30d"):
        assert np.array_equal(got[column].to_numpy(bool), frame[column].to_numpy(bool)), column
    assert np.allclose(got["aum"], frame["aum"], atol=0.01)
    assert np.allclose(got["loan_balance"], frame["loan_balance"], atol=0.01)
    assert np.allclose(got["tenure_years"], frame["tenure_years"], atol=0.01)
