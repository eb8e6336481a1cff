"""RM KPI points (docs/marketing.md "KPIs"): incremental conversions credited beside the
activity the bank counts, per campaign and RM, stored in ``mkt_kpi_credits`` by the daily job
``marketing.kpis`` (idempotent: one row per RM, campaign and metric, recomputed in place) and
rolled up per RM, outlet, branch and head office.

Metrics, for RM r and campaign c (launched or ended):

- ``incremental_conversions`` = sum over r's *treated* clients i of ``converted_i - control
  rate of i's tier stratum`` (the control rate over the whole campaign's holdout in that
  stratum; the campaign's overall control rate where a stratum has no control client): treated
  minus control, so an RM is credited for conversions the campaign caused, not for clients
  who would have converted anyway (negative when their treated clients convert less);
- ``calls``: r's call tasks of c done; ``sms``: SMS sent (``mkt_contacts``) to r's clients;
- ``opportunity_completion``: opportunities converted / opportunities (r's tasks with
  ``opportunity``; converted: outcome ``converted``);
- ``reach_rate``: tasks reached (outcome reached, interested, declined or converted) / tasks
  done.

Points per metric come from the versioned ``kpi_points.yaml`` beside this module (checked at
import). Rates keep their numerator and denominator in ``details`` so that a rollup's rate is
the pooled one (sum of numerators / sum of denominators), never a mean of rates.

Levels: ``rm`` (the user), ``outlet`` (the credit's outlet: the RM's own branch code, else
their clients' most common outlet), ``branch`` (the parent org of the outlet's org in
backend.identity; ``unassigned`` for an outlet FinEdge does not know), ``head_office`` (all).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.identity.models import Branch, Org, User
from backend.marketing import access
from backend.marketing.models import Campaign, Client, Contact, KpiCredit, Task
from backend.marketing.uplift.results import campaign_results
from backend.platform import audit
from backend.platform.context import Actor
from backend.platform.errors import PermissionDenied, ValidationFailed
from backend.platform.pagination import Page, check_limit, decode_cursor, encode_cursor

POINTS_FILE = Path(__file__).with_name("kpi_points.yaml")
COUNT_METRICS = ("incremental_conversions", "calls", "sms")
RATE_METRICS = ("opportunity_completion", "reach_rate")
METRICS = COUNT_METRICS + RATE_METRICS
LEVELS = ("rm", "outlet", "branch", "head_office")
REACHED = ("reached", "interested", "declined", "converted")
UNASSIGNED = "unassigned"


class PointsError(ValueError):
    """The KPI points file is not usable."""


@dataclass(frozen=True)
class Points:
    version: int
    per_unit: dict[str, float]
    per_rate_unit: dict[str, float]
    min_base: dict[str, int]


def _number(doc: dict, where: str, key: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1000:
        raise PointsError(f"{where}.{key}: a number between 0 and 1000, got {value!r}")
    return float(value)


def parse_points(doc: Any, source: str = "kpi_points.yaml") -> Points:
    if not isinstance(doc, dict) or set(doc) != {"version", "metrics"}:
        raise PointsError(f"{source}: a mapping with exactly 'version' and 'metrics'")
    version = doc["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PointsError(f"{source}: version is a positive whole number, got {version!r}")
    metrics = doc["metrics"]
    if not isinstance(metrics, dict) or set(metrics) != set(METRICS):
        raise PointsError(f"{source}: metrics are exactly {', '.join(METRICS)}")
    per_unit, per_rate, min_base = {}, {}, {}
    for name in COUNT_METRICS:
        spec = metrics[name]
        if not isinstance(spec, dict) or set(spec) != {"per_unit"}:
            raise PointsError(f"{source}: {name} has exactly per_unit")
        per_unit[name] = _number(spec, name, "per_unit")
    for name in RATE_METRICS:
        spec = metrics[name]
        if not isinstance(spec, dict) or set(spec) != {"per_rate_unit", "min_base"}:
            raise PointsError(f"{source}: {name} has exactly per_rate_unit and min_base")
        per_rate[name] = _number(spec, name, "per_rate_unit")
        base = spec["min_base"]
        if isinstance(base, bool) or not isinstance(base, int) or not 1 <= base <= 10_000:
            raise PointsError(f"{source}: {name}.min_base is a whole number 1..10000")
        min_base[name] = base
    return Points(version, per_unit, per_rate, min_base)


POINTS = parse_points(yaml.safe_load(POINTS_FILE.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- computing


def _incremental(results: pd.DataFrame) -> dict[int, dict]:
    """Per RM: incremental conversions of their treated clients (module docstring)."""
    control = results[~results["treated"]]
    if control.empty:
        return {}
    overall = float(control["converted"].mean())
    by_stratum = control.groupby("stratum")["converted"].mean()
    treated = results[results["treated"] & (results["rm_user_id"] > 0)]
    if treated.empty:
        return {}
    expected = treated["stratum"].map(by_stratum).fillna(overall)
    credit = treated["converted"] - expected
    out = {}
    for rm, idx in treated.groupby("rm_user_id").groups.items():
        out[int(rm)] = {
            "value": float(credit.loc[idx].sum()),
            "treated": len(idx),
            "converted": int(treated.loc[idx, "converted"].sum()),
            "expected_without_contact": float(expected.loc[idx].sum()),
        }
    return out


def _outlets(session: Session, rm_ids: set[int], results: pd.DataFrame) -> dict[int, str]:
    own = dict(session.execute(select(User.id, User.branch_id).where(User.id.in_(rm_ids))).all())
    out = {}
    for rm in rm_ids:
        if own.get(rm):
            out[rm] = own[rm]
            continue
        mine = results.loc[results["rm_user_id"] == rm, "outlet"]
        out[rm] = Counter(mine).most_common(1)[0][0] if len(mine) else UNASSIGNED
    return out


def campaign_credits(session: Session, campaign: Campaign) -> list[dict]:
    """The credit rows (rm_user_id, outlet, metric, value, points, details) of one campaign."""
    results = campaign_results(session, [campaign.id])
    incremental = _incremental(results) if not results.empty else {}
    tasks = session.execute(
        select(Task.rm_user_id, Task.kind, Task.status, Task.outcome, Task.opportunity).where(
            Task.campaign_id == campaign.id, Task.rm_user_id.is_not(None)
        )
    ).all()
    sms = dict(
        session.execute(
            select(Client.rm_user_id, func.count())
            .select_from(Contact)
            .join(Client, Client.id == Contact.client_id)
            .where(
                Contact.campaign_id == campaign.id,
                Contact.channel == "sms",
                Contact.status == "sent",
                Client.rm_user_id.is_not(None),
            )
            .group_by(Client.rm_user_id)
        ).all()
    )
    rms = set(incremental) | {int(r) for r, *_ in tasks} | {int(r) for r in sms}
    if not results.empty:
        rms |= {int(r) for r in results["rm_user_id"].unique() if r > 0}
    outlets = _outlets(
        session,
        rms,
        results if not results.empty else pd.DataFrame(columns=["rm_user_id", "outlet"]),
    )
    rows = []
    for rm in sorted(rms):
        mine = [t for t in tasks if t.rm_user_id == rm]
        done = [t for t in mine if t.status == "done"]
        opps = [t for t in mine if t.opportunity]
        inc = incremental.get(rm, {"value": 0.0, "treated": 0})
        counts = {
            "incremental_conversions": (inc["value"], inc),
            "calls": (float(sum(1 for t in done if t.kind == "call")), {}),
            "sms": (float(sms.get(rm, 0)), {}),
        }
        rates = {
            "opportunity_completion": (
                sum(1 for t in opps if t.outcome == "converted"),
                len(opps),
            ),
            "reach_rate": (sum(1 for t in done if t.outcome in REACHED), len(done)),
        }
        for metric, (value, details) in counts.items():
            rows.append(
                {
                    "rm_user_id": rm,
                    "outlet": outlets[rm],
                    "metric": metric,
                    "value": value,
                    "points": value * POINTS.per_unit[metric],
                    "details": {**details, "points_version": POINTS.version},
                }
            )
        for metric, (num, den) in rates.items():
            rate = num / den if den else 0.0
            credited = den >= POINTS.min_base[metric]
            rows.append(
                {
                    "rm_user_id": rm,
                    "outlet": outlets[rm],
                    "metric": metric,
                    "value": rate,
                    "points": rate * POINTS.per_rate_unit[metric] if credited else 0.0,
                    "details": {
                        "numerator": num,
                        "denominator": den,
                        "credited": credited,
                        "points_version": POINTS.version,
                    },
                }
            )
    return rows


def compute(session: Session, actor: Actor, now: datetime, campaign_ids=None) -> dict:
    """Recompute the credits of the launched and ended campaigns (or those given): rows
    updated in place, never duplicated; one audit record per run."""
    stmt = select(Campaign).where(Campaign.status.in_(("launched", "ended")))
    if campaign_ids is not None:
        stmt = stmt.where(Campaign.id.in_(list(campaign_ids)))
    campaigns = list(session.scalars(stmt.order_by(Campaign.id)))
    written = changed = 0
    for campaign in campaigns:
        existing = {
            (k.rm_user_id, k.metric): k
            for k in session.scalars(select(KpiCredit).where(KpiCredit.campaign_id == campaign.id))
        }
        for row in campaign_credits(session, campaign):
            credit = existing.get((row["rm_user_id"], row["metric"]))
            if credit is None:
                session.add(KpiCredit(campaign_id=campaign.id, computed_at=now, **row))
                changed += 1
            else:
                if (credit.value, credit.points, credit.outlet, credit.details) != (
                    row["value"],
                    row["points"],
                    row["outlet"],
                    row["details"],
                ):
                    changed += 1
                credit.value, credit.points = row["value"], row["points"]
                credit.outlet, credit.details = row["outlet"], row["details"]
                credit.computed_at = now
            written += 1
    session.flush()
    result = {
        "campaigns": len(campaigns),
        "credits": written,
        "changed": changed,
        "points_version": POINTS.version,
    }
    audit.record(session, actor, "marketing.kpis_computed", "mkt_kpi_credits", "all", after=result)
    return result


# --------------------------------------------------------------------------- rollups


def _branch_of(session: Session, outlets: set[str]) -> dict[str, str]:
    rows = session.execute(
        select(Branch.code, Org.parent_id)
        .join(Org, Org.id == Branch.org_id)
        .where(Branch.code.in_(outlets))
    ).all()
    parents = {p for _c, p in rows if p is not None}
    codes = dict(session.execute(select(Org.id, Org.code).where(Org.id.in_(parents))).all())
    out = {o: UNASSIGNED for o in outlets}
    for code, parent in rows:
        out[code] = codes.get(parent, UNASSIGNED) if parent is not None else UNASSIGNED
    return out


def rollup(
    session: Session, actor: Actor, level: str, campaign_id: int | None = None
) -> list[dict]:
    """The KPI rows of a level, sorted by key: ``{level, key, name, points, metrics: {metric:
    {value, points[, numerator, denominator]}}, campaigns}``. An RM may read only their own
    ``rm`` row; the team every level."""
    access.ensure_reader(actor)
    if level not in LEVELS:
        raise ValidationFailed("unknown level", details={"level": [f"one of {LEVELS}"]})
    team = access.is_team(actor)
    if not team and level != "rm":
        raise PermissionDenied(
            "a relationship manager sees their own KPIs only", code="kpi_level_forbidden"
        )
    stmt = select(KpiCredit)
    if campaign_id is not None:
        stmt = stmt.where(KpiCredit.campaign_id == campaign_id)
    if not team:
        stmt = stmt.where(KpiCredit.rm_user_id == (actor.user_id or 0))
    credits = list(session.scalars(stmt))
    names: dict[str, str] = {}
    if level == "rm":
        ids = {c.rm_user_id for c in credits}
        users = dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
        keys = {c.id: str(c.rm_user_id) for c in credits}
        names = {str(i): users.get(i, str(i)) for i in ids}
    elif level == "outlet":
        keys = {c.id: c.outlet for c in credits}
    elif level == "branch":
        branch = _branch_of(session, {c.outlet for c in credits})
        keys = {c.id: branch[c.outlet] for c in credits}
    else:
        keys = {c.id: "head_office" for c in credits}
    groups: dict[str, list[KpiCredit]] = {}
    for c in credits:
        groups.setdefault(keys[c.id], []).append(c)
    out = []
    for key in sorted(groups):
        rows = groups[key]
        metrics = {}
        for metric in METRICS:
            mine = [c for c in rows if c.metric == metric]
            points = sum(c.points for c in mine)
            if metric in RATE_METRICS:
                num = sum(int(c.details.get("numerator", 0)) for c in mine)
                den = sum(int(c.details.get("denominator", 0)) for c in mine)
                metrics[metric] = {
                    "value": num / den if den else None,
                    "points": points,
                    "numerator": num,
                    "denominator": den,
                }
            else:
                metrics[metric] = {"value": sum(c.value for c in mine), "points": points}
        out.append(
            {
                "level": level,
                "key": key,
                "name": names.get(key, key),
                "points": sum(c.points for c in rows),
                "metrics": metrics,
                "campaigns": len({c.campaign_id for c in rows}),
            }
        )
    return out


def rollup_page(
    session: Session,
    actor: Actor,
    level: str,
    *,
    campaign_id: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """``rollup`` as a page in key order (``?limit=&cursor=``). The rollup is computed whole
    (a few hundred rows at most), so the cursor is the position after the last row shown: an
    integer, never a key a caller could forge into another listing's."""
    limit = check_limit(limit)
    rows = rollup(session, actor, level, campaign_id)
    start = 0
    if cursor:
        start = decode_cursor(cursor)
        if isinstance(start, bool) or not isinstance(start, int) or not 0 < start <= 2**31:
            raise ValidationFailed(
                "cursor is not valid",
                code="invalid_cursor",
                details={"cursor": ["not a cursor of this listing"]},
            )
    page = rows[start : start + limit]
    more = start + limit < len(rows)
    return Page(items=page, next_cursor=encode_cursor(start + limit) if more else None)
