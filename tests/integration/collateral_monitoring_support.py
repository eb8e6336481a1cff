"""Helpers of the collateral monitoring tests: properties and credit links put straight in the
tables (the registry's API is another helper's), a model row, and a small deterministic
valuer injected in place of the AVM where a test is about the book-keeping, not the model."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from backend.collateral.models import AvmModel, CreditLink, Property, Valuation
from backend.identity.models import Org, User
from backend.identity.service import actor_for

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
_codes = itertools.count(1)


def user(session, username: str):
    return session.scalar(select(User).where(User.username == username))


def actor(session, username: str):
    return actor_for(user(session, username))


def org(session, code: str) -> Org:
    return session.scalar(select(Org).where(Org.code == code))


def add_property(
    session,
    *,
    value: str | None,
    rm: str = "rm1",
    owner: str = "CORE1",
    status: str = "active",
    community: str = "Garden A",
    city: str = "Hangzhou",
    district: str = "Xihu",
) -> Property:
    n = next(_codes)
    prop = Property(
        code=f"TPROP-{n:05d}",
        owner_org_id=org(session, owner).id,
        owner_name="owner",
        rm_user_id=user(session, rm).id if rm else None,
        city=city,
        district=district,
        community=community,
        address=f"{n} Test Road",
        area_m2=Decimal("89.50"),
        floor=5,
        total_floors=18,
        build_year=2012,
        orientation="S",
        decoration="fine",
        rooms=3,
        property_type="apartment",
        lat=None,
        lon=None,
        status=status,
        latest_valuation_id=None,
        latest_value=Decimal(value) if value is not None else None,
        latest_valued_at=NOW if value is not None else None,
        created_by_user_id=None,
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(prop)
    session.flush()
    return prop


def link(
    session,
    prop: Property,
    ref: str,
    *,
    kind: str = "loan",
    outstanding: str = "0.00",
    borrower: str = "CORE1",
) -> CreditLink:
    row = CreditLink(
        property_id=prop.id,
        credit_kind=kind,
        credit_ref=ref,
        borrower_org_id=org(session, borrower).id,
        outstanding=Decimal(outstanding),
        outstanding_at=NOW,
        ltv_bp=None,
        ltv_level=None,
        ltv_at=None,
        status="active",
        created_by_user_id=None,
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(row)
    session.flush()
    return row


def add_model(session, *, version: int = 1, status: str = "champion", metrics=None) -> AvmModel:
    model = AvmModel(
        version=version,
        method="ensemble",
        status=status,
        data_hash="0" * 64,
        trained_rows=100,
        feature_spec={},
        metrics=metrics or {},
        artifact=b"test",
        artifact_sha256="0" * 64,
        trained_by="test",
        trained_at=NOW,
        promoted_at=NOW,
    )
    session.add(model)
    session.flush()
    return model


@dataclass
class FakeValuer:
    """Values a property at 20,000 CNY per square metre; ``crash_after`` calls it raises a
    RuntimeError (a process dying mid-run)."""

    model_id: int
    crash_after: int | None = None
    calls: list[int] = field(default_factory=list)

    def champion_id(self, session) -> int | None:
        return self.model_id

    def value(self, session, actor, prop, *, run_id, now):
        if self.crash_after is not None and len(self.calls) >= self.crash_after:
            raise RuntimeError("the process died")
        self.calls.append(prop.id)
        value = (prop.area_m2 * 20000).quantize(Decimal("0.01"))
        row = Valuation(
            property_id=prop.id,
            run_id=run_id,
            model_id=self.model_id,
            purpose="revaluation",
            inputs={"area_m2": str(prop.area_m2)},
            value=value,
            value_low=value,
            value_high=value,
            confidence_sd=0.0,
            blend={},
            breakdown={},
            requested_by_user_id=actor.user_id,
            created_at=now,
        )
        session.add(row)
        session.flush()
        prop.latest_value, prop.latest_valuation_id, prop.latest_valued_at = value, row.id, now
        return row
