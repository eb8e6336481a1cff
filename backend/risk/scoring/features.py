"""Point-in-time features of one enterprise: counts and amounts of events in windows, the
latest financial ratios and rating, profile facts, and graph measures.

``compute_features(history, as_of, graph)`` only looks at the events the bank knew at
``as_of`` (``EnterpriseHistory.events_until``: happened by then and published by then), so
the same function builds training rows for past dates (no look-ahead, no late publication
seen early) and scores an enterprise today.  Quiet distress has features of its own (tax
arrears, lawsuit velocity: lawsuits in the last 90 days against the rate of the 275 days
before, publication lag of the enterprise's recent events, distinct distress categories) and
so has the guarantee network (``NETWORK_FEATURES``: filled in once everybody's own level is
known, see ``assessment.network_features``).  Rules name these features in their conditions;
the model takes them as columns in ``FEATURE_NAMES`` order.  Missing financials or ratings get
neutral values plus a ``has_…`` flag, so that linear and tree models alike see "unknown"
explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from backend.risk import catalog
from backend.risk.scoring.history import EnterpriseHistory, EventView

EVENT_FEATURES = (
    "lawsuits_90d",
    "lawsuits_365d",
    "lawsuit_velocity",
    "lawsuit_amount_365d",
    "enforcements_365d",
    "dishonest_listed",
    "consumption_restricted",
    "abnormal_listed",
    "abnormal_listed_days",
    "penalties_365d",
    "penalty_amount_365d",
    "tax_violations_365d",
    "tax_arrears_365d",
    "tax_arrears_180d",
    "equity_pledges_365d",
    "equity_freezes_365d",
    "executive_changes_365d",
    "capital_reduced_365d",
    "address_changes_365d",
    "news_30d",
    "negative_news_30d",
    "sentiment_mean_30d",
    "sentiment_min_30d",
    "sentiment_mean_90d",
    "has_rating",
    "rating_score",
    "rating_downgrades_365d",
    "overdue_max_days_365d",
    "overdue_events_365d",
    "margin_shortfalls_90d",
    "vehicle_alerts_90d",
    "out_of_trust_365d",
    "publication_lag_mean_180d",
    "late_published_180d",
    "distress_categories_180d",
)
FINANCIAL_FEATURES = (
    "has_financials",
    "debt_ratio",
    "current_ratio",
    "roa",
    "revenue_growth",
    "cash_flow_to_liabilities",
    "financials_age_days",
)
PROFILE_FEATURES = ("age_years", "log_registered_capital", "status_bad", "status_abnormal")
GRAPH_FEATURES = (
    "guarantees_given",
    "guarantees_received",
    "guarantee_exposure",
    "in_guarantee_circle",
    "guarantee_circle_size",
    "mutual_guarantees",
    "shareholders",
    "related_2hop",
)
# Filled in after everybody's own level is known (contagion and the guarantee partners'
# signals): ``assessment.network_features``.
NETWORK_FEATURES = (
    "contagion_score",
    "partner_distress",
    "distressed_partners",
    "signalled_exposure",
)
FEATURE_NAMES = (
    EVENT_FEATURES + FINANCIAL_FEATURES + PROFILE_FEATURES + GRAPH_FEATURES + NETWORK_FEATURES
)
# The column of the related-party risk, filled in after contagion has run for everybody.
CONTAGION_INDEX = FEATURE_NAMES.index("contagion_score")
NETWORK_INDEX = [FEATURE_NAMES.index(name) for name in NETWORK_FEATURES]
NEUTRAL_FINANCIALS = {
    "debt_ratio": 0.6,
    "current_ratio": 1.2,
    "roa": 0.03,
    "revenue_growth": 0.0,
    "cash_flow_to_liabilities": 0.1,
    "financials_age_days": 730.0,
}
NEGATIVE_NEWS = -0.5
D30, D90, D180, D365, D3Y = (timedelta(days=d) for d in (30, 90, 180, 365, 3 * 365))
LATE_DAYS = 30  # an event published a month or more after it happened counts as late
# Event kinds that are signs of distress, by the category they count for in
# ``distress_categories_180d`` (negative news counts when two or more items are negative).
DISTRESS_CATEGORY = {
    "lawsuit_defendant": "judicial",
    "enforcement": "judicial",
    "consumption_restriction": "judicial",
    "tax_arrears": "tax",
    "tax_violation": "tax",
    "equity_freeze": "equity",
    "equity_pledge": "equity",
    "overdue_loan": "internal",
    "margin_shortfall": "internal",
    "abnormal_operation": "registry",
    "administrative_penalty": "penalty",
}


def _money(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _log_amount(amount: float) -> float:
    return math.log10(1.0 + max(amount, 0.0))


def _financials(reports: list[EventView], as_of: datetime) -> dict[str, float]:
    """Ratios of the latest statements (``reports`` newest first)."""
    if not reports:
        return {"has_financials": 0.0, **NEUTRAL_FINANCIALS}
    data = reports[0].data
    assets = _money(data.get("total_assets"))
    liabilities = _money(data.get("total_liabilities"))
    current_assets = _money(data.get("current_assets"))
    current_liabilities = _money(data.get("current_liabilities"))
    revenue = _money(data.get("revenue"))
    growth = 0.0
    if len(reports) > 1:
        previous = _money(reports[1].data.get("revenue"))
        if previous > 0:
            growth = max(min((revenue - previous) / previous, 5.0), -1.0)
    return {
        "has_financials": 1.0,
        "debt_ratio": liabilities / assets if assets > 0 else 1.0,
        "current_ratio": min(current_assets / current_liabilities, 10.0)
        if current_liabilities > 0
        else NEUTRAL_FINANCIALS["current_ratio"],
        "roa": _money(data.get("net_profit")) / assets if assets > 0 else 0.0,
        "revenue_growth": growth,
        "cash_flow_to_liabilities": max(
            min(_money(data.get("operating_cash_flow")) / liabilities, 5.0), -5.0
        )
        if liabilities > 0
        else NEUTRAL_FINANCIALS["cash_flow_to_liabilities"],
        "financials_age_days": float((as_of - reports[0].time).days),
    }


def _unseen(history: EnterpriseHistory, events: list[EventView]) -> list[EventView]:
    """The events of the history not in the point-in-time view ``events`` (later, or known
    later), in time order."""
    if len(events) == len(history.events):
        return []
    seen = {id(e) for e in events}
    return [e for e in history.events if id(e) not in seen]


def status_as_of(history: EnterpriseHistory, events: list[EventView]) -> str:
    """The latest registry status at or before the cut; the master value only when no status
    change happened later (else it would leak the future into a backtest)."""
    for event in reversed(events):
        if event.kind == "status_change":
            return event.data.get("status", "in_business")
    later = any(e.kind == "status_change" for e in _unseen(history, events))
    return "in_business" if later else history.status


def capital_as_of(history: EnterpriseHistory, events: list[EventView]) -> float | None:
    for event in reversed(events):
        if event.kind == "capital_change":
            return _money(event.data.get("new"))
    for event in _unseen(history, events):
        if event.kind == "capital_change" and event.data.get("old") is not None:
            return _money(event.data.get("old"))
    return history.registered_capital


def compute_features(
    history: EnterpriseHistory,
    as_of: datetime,
    graph: Mapping[str, float] | None = None,
    contagion_score: float = 0.0,
    network: Mapping[str, float] | None = None,
) -> dict[str, float]:
    events = history.events_until(as_of)
    f = dict.fromkeys(EVENT_FEATURES, 0.0)
    t30, t90, t180, t365, t3y = (as_of - d for d in (D30, D90, D180, D365, D3Y))
    lags: list[float] = []
    categories: set[str] = set()
    abnormal_since: datetime | None = None
    sentiments_30: list[float] = []
    sentiments_90: list[float] = []
    reports: list[EventView] = []
    rating: str | None = None
    abnormal_state: bool | None = None
    for e in reversed(events):  # newest first
        t, kind, data = e.time, e.kind, e.data
        if t >= t180:
            if kind not in ("financial_report", "news"):
                known = e.known_at or t  # no publication time: known when it happened
                lag = max((known - t).total_seconds() / 86400.0, 0.0)
                lags.append(lag)
                if lag >= LATE_DAYS:
                    f["late_published_180d"] += 1
            if kind in DISTRESS_CATEGORY:
                categories.add(DISTRESS_CATEGORY[kind])
        if kind == "financial_report":
            if len(reports) < 2:
                reports.append(e)
            continue
        if kind == "rating_change":
            if rating is None:
                rating = data.get("rating")
            before = catalog.rating_score(data.get("previous"))
            after = catalog.rating_score(data.get("rating"))
            if t >= t365 and before is not None and after is not None and after < before:
                f["rating_downgrades_365d"] += 1
            continue
        if kind in ("abnormal_operation", "abnormal_operation_removed"):
            if abnormal_state is None:
                abnormal_state = kind == "abnormal_operation"
                if abnormal_state:
                    abnormal_since = t
            continue
        if kind == "dishonest_debtor" and t >= t3y:
            f["dishonest_listed"] = 1.0
            continue
        if t < t365:
            continue
        if kind == "lawsuit_defendant":
            f["lawsuits_365d"] += 1
            if t < t90:
                f["lawsuit_velocity"] -= 90.0 / 275.0  # the prior 275 days' rate per 90 days
            f["lawsuit_amount_365d"] += _money(data.get("amount"))
            if t >= t90:
                f["lawsuits_90d"] += 1
        elif kind == "enforcement":
            f["enforcements_365d"] += 1
        elif kind == "consumption_restriction":
            f["consumption_restricted"] = 1.0
        elif kind == "administrative_penalty":
            f["penalties_365d"] += 1
            f["penalty_amount_365d"] += _money(data.get("amount"))
        elif kind == "tax_violation":
            f["tax_violations_365d"] += 1
        elif kind == "tax_arrears":
            f["tax_arrears_365d"] += 1
            if t >= t180:
                f["tax_arrears_180d"] += 1
        elif kind == "equity_pledge":
            f["equity_pledges_365d"] += 1
        elif kind == "equity_freeze":
            f["equity_freezes_365d"] += 1
        elif kind == "executive_change":
            f["executive_changes_365d"] += 1
        elif kind == "capital_change":
            if data.get("old") is not None and _money(data.get("new")) < _money(data["old"]):
                f["capital_reduced_365d"] = 1.0
        elif kind == "address_change":
            f["address_changes_365d"] += 1
        elif kind == "news":
            if t >= t90:
                score = float(data.get("sentiment", 0.0))
                sentiments_90.append(score)
                if t >= t30:
                    sentiments_30.append(score)
        elif kind == "overdue_loan":
            f["overdue_events_365d"] += 1
            f["overdue_max_days_365d"] = max(
                f["overdue_max_days_365d"], float(data.get("days_overdue", 0))
            )
        elif kind == "margin_shortfall":
            if t >= t90:
                f["margin_shortfalls_90d"] += 1
        elif kind == "vehicle_alert":
            if t >= t90:
                f["vehicle_alerts_90d"] += 1
        elif kind == "vehicle_out_of_trust":
            f["out_of_trust_365d"] += 1
    f["lawsuit_amount_365d"] = _log_amount(f["lawsuit_amount_365d"])
    f["penalty_amount_365d"] = _log_amount(f["penalty_amount_365d"])
    f["lawsuit_velocity"] += f["lawsuits_90d"]  # lawsuits in 90 days minus the prior rate
    f["abnormal_listed"] = 1.0 if abnormal_state else 0.0
    if abnormal_state and abnormal_since is not None:
        f["abnormal_listed_days"] = float((as_of - abnormal_since).days)
    f["publication_lag_mean_180d"] = sum(lags) / len(lags) if lags else 0.0
    f["news_30d"] = float(len(sentiments_30))
    f["negative_news_30d"] = float(sum(1 for s in sentiments_30 if s <= NEGATIVE_NEWS))
    f["sentiment_mean_30d"] = sum(sentiments_30) / len(sentiments_30) if sentiments_30 else 0.0
    f["sentiment_min_30d"] = min(sentiments_30) if sentiments_30 else 0.0
    f["sentiment_mean_90d"] = sum(sentiments_90) / len(sentiments_90) if sentiments_90 else 0.0
    if sum(1 for s in sentiments_90 if s <= NEGATIVE_NEWS) >= 2:
        categories.add("sentiment")
    f["distress_categories_180d"] = float(len(categories))
    score = catalog.rating_score(rating)
    f["has_rating"] = 1.0 if score is not None else 0.0
    f["rating_score"] = score if score is not None else 0.5
    f.update(_financials(reports, as_of))
    status = status_as_of(history, events)
    capital = capital_as_of(history, events)
    established = history.established_on
    f["age_years"] = max((as_of.date() - established).days / 365.25, 0.0) if established else 5.0
    f["log_registered_capital"] = _log_amount(capital or 0.0)
    f["status_bad"] = 1.0 if status in catalog.BAD_STATUSES else 0.0
    f["status_abnormal"] = 1.0 if status in ("abnormal", "suspended") else 0.0
    graph = graph or {}
    for name in GRAPH_FEATURES:
        f[name] = float(graph.get(name, 0.0))
    if capital and graph.get("guarantee_amount_given"):
        f["guarantee_exposure"] = min(float(graph["guarantee_amount_given"]) / capital, 20.0)
    else:
        f["guarantee_exposure"] = 0.0
    network = network or {}
    for name in NETWORK_FEATURES:
        f[name] = float(network.get(name, 0.0))
    f["contagion_score"] = float(contagion_score)
    return f


def vector(features: Mapping[str, float]) -> list[float]:
    return [features[name] for name in FEATURE_NAMES]
