"""The enterprise's own assets in its pool: entered (checked against the configuration in
force, reasons given when ineligible), pledged, unpledged.

Every change locks the pool row, runs in a SAVEPOINT and recomputes the pool: a refusal
(unpledging below zero capacity, pledging an ineligible asset) rolls the savepoint back, so a
refused operation changes nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.assetpool import access, rules
from backend.assetpool.models import Asset
from backend.assetpool.service.config import in_force
from backend.assetpool.service.pools import move, settle
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from backend.platform.money import parse_money

NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")
BANK_RE = re.compile(r"^[A-Za-z0-9_]{1,40}$")
MAX_YEARS = 10


def _invalid(field: str, why: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {why}", details={field: [why]})


def check_maturity(value: object, today: date, field: str = "maturity_date") -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise _invalid(field, "a date (YYYY-MM-DD)")
    if value <= today:
        raise BusinessRuleViolation(
            f"{field} must be after today", code="already_matured", details={field: str(value)}
        )
    if value > today + timedelta(days=366 * MAX_YEARS):
        raise _invalid(field, f"within {MAX_YEARS} years")
    return value


def enter_asset(
    session: Session,
    actor: Actor,
    pool_id: int,
    *,
    kind: str,
    number: str,
    issuer_bank: str,
    amount: Decimal | str,
    maturity_date: date,
    pledge: bool = False,
    now: datetime | None = None,
) -> Asset:
    """The enterprise puts an e-bill or e-deposit certificate into its pool (``pledge``: and
    pledges it at once; refused with the reasons when it is not eligible)."""
    now = now or utcnow()
    if kind not in rules.ASSET_KINDS:
        raise _invalid("kind", f"one of {', '.join(rules.ASSET_KINDS)}")
    if not isinstance(number, str) or not NUMBER_RE.match(number):
        raise _invalid("number", "1-40 letters, digits or '-'")
    if not isinstance(issuer_bank, str) or not BANK_RE.match(issuer_bank):
        raise _invalid("issuer_bank", "a bank code: 1-40 letters, digits or '_'")
    value = parse_money(amount, field="amount", positive=True)
    maturity = check_maturity(maturity_date, now.date())
    with session.begin_nested():
        pool = access.pool_to_change(session, actor, pool_id)
        if session.scalar(select(Asset.id).where(Asset.kind == kind, Asset.number == number)):
            raise Conflict(f"{kind} {number} is already in a pool", code="asset_number_taken")
        e = rules.eligibility(
            in_force(session, now).values, kind, issuer_bank.upper(), maturity, now.date()
        )
        if pledge:
            _require_eligible(e)
        asset = Asset(
            pool_id=pool.id,
            org_id=pool.org_id,
            kind=kind,
            number=number,
            issuer_bank=issuer_bank.upper(),
            amount=value,
            maturity_date=maturity,
            status="pledged" if pledge else "held",
            eligible=e.eligible,
            reasons=list(e.reasons),
            tier=e.tier,
            haircut_bp=e.haircut_bp,
            value=rules.ZERO,
            created_at=now,
            pledged_at=now if pledge else None,
        )
        session.add(asset)
        session.flush()
        lines = [move(session, pool, "asset_in", value, f"{kind}:{number}", now)]
        if pledge:
            lines.append(move(session, pool, "asset_pledged", value, f"{kind}:{number}", now))
        settle(session, actor, pool, lines, now)
        audit.record(
            session,
            actor,
            "assetpool.asset_entered",
            "ap_asset",
            asset.id,
            after={
                "kind": kind,
                "number": number,
                "amount": value,
                "status": asset.status,
                "eligible": e.eligible,
                "reasons": list(e.reasons),
            },
        )
    return asset


def _asset(session: Session, pool_id: int, asset_id: int) -> Asset:
    asset = session.get(Asset, asset_id, populate_existing=True)
    if asset is None or asset.pool_id != pool_id:
        raise NotFound("asset not found", code="asset_not_found")
    return asset


def pledge_asset(
    session: Session, actor: Actor, pool_id: int, asset_id: int, *, now: datetime | None = None
) -> Asset:
    """A held asset pledged (422 ``asset_not_eligible`` with the reasons when it is not)."""
    return _set_pledge(session, actor, pool_id, asset_id, pledge=True, now=now or utcnow())


def unpledge_asset(
    session: Session, actor: Actor, pool_id: int, asset_id: int, *, now: datetime | None = None
) -> Asset:
    """Refused (422 ``insufficient_capacity``) when the capacity would fall below zero."""
    return _set_pledge(session, actor, pool_id, asset_id, pledge=False, now=now or utcnow())


def _set_pledge(session, actor, pool_id, asset_id, *, pledge: bool, now: datetime) -> Asset:
    was, becomes = ("held", "pledged") if pledge else ("pledged", "held")
    with session.begin_nested():
        pool = access.pool_to_change(session, actor, pool_id)
        asset = _asset(session, pool.id, asset_id)
        if asset.status != was:
            raise Conflict(f"the asset is {asset.status}", code=f"asset_not_{was}")
        if pledge:
            config = in_force(session, now).values
            _require_eligible(
                rules.eligibility(
                    config, asset.kind, asset.issuer_bank, asset.maturity_date, now.date()
                )
            )
        asset.status, asset.pledged_at = becomes, now if pledge else None
        kind = "asset_pledged" if pledge else "asset_unpledged"
        line = move(session, pool, kind, asset.amount, _ref(asset), now)
        f = settle(session, actor, pool, [line], now)
        if not pledge:
            refuse_if_short(f.capacity)
        after = {"status": becomes, "value": asset.value, "capacity": f.capacity}
        audit.record(
            session, actor, f"assetpool.{kind}", "ap_asset", asset.id, {"status": was}, after
        )
    return asset


def _require_eligible(e: rules.Eligibility) -> None:
    if not e.eligible:
        raise BusinessRuleViolation(
            "the asset is not eligible for pledge",
            code="asset_not_eligible",
            details={"reasons": list(e.reasons)},
        )


def refuse_if_short(capacity: Decimal) -> None:
    if capacity < 0:
        raise BusinessRuleViolation(
            "the pool's capacity would fall below zero",
            code="insufficient_capacity",
            details={"capacity_after": str(capacity)},
        )


def _ref(asset: Asset) -> str:
    return f"{asset.kind}:{asset.number}"
