"""Risk tags: short labels on an enterprise (operating status, specialised-and-new SME,
high-tech, group member, guarantor, ...), each derived from data with a reason and the
evidence behind it, so that a tag never appears without an explanation.

``derive_tags`` is pure; the full scan stores the result in ``risk_tags`` (added, updated and
removed tags appear in the scan report)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.risk.scoring.history import EnterpriseHistory

STATUS_LABELS = {
    "in_business": "In business",
    "abnormal": "Abnormal operation",
    "suspended": "Suspended",
    "liquidation": "In liquidation",
    "revoked": "Licence revoked",
    "deregistered": "Deregistered",
}
TAGS: dict[str, str] = {
    "operating_status": "Operating status",
    "srdi_sme": "Specialised and new SME",
    "high_tech": "High-tech enterprise",
    "group_member": "Group member",
    "guarantor": "Guarantor",
    "guarantee_circle": "In a guarantee circle",
    "mutual_guarantee": "Mutual guarantee",
    "core_enterprise": "Core enterprise",
    "litigious": "Frequent defendant",
    "dishonest_debtor": "Dishonest debtor",
    "negative_sentiment": "Negative public sentiment",
    "high_leverage": "High leverage",
    "newly_established": "Newly established",
    "overdue": "Overdue with the bank",
    "floorplan_dealer": "Floor-plan dealer",
}
TAG_CODES = frozenset(TAGS)
SRDI_WORDS = ("专精特新", "specialised and new", "srdi")
HIGH_TECH_WORDS = ("高新技术", "high-tech", "high tech")


@dataclass
class Tag:
    code: str
    label: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _honor(history: EnterpriseHistory, as_of: datetime, words) -> Any:
    for event in reversed(history.events_until(as_of)):
        title = str(event.data.get("title") or event.title or "").casefold()
        if event.kind == "honor" and any(w.casefold() in title for w in words):
            return event
    return None


def derive_tags(
    history: EnterpriseHistory,
    features: Mapping[str, float],
    graph: Mapping[str, float],
    as_of: datetime,
    *,
    status: str | None = None,
    linked_org_kind: str | None = None,
) -> list[Tag]:
    tags: list[Tag] = []
    status = status or history.status
    tags.append(
        Tag(
            "operating_status",
            STATUS_LABELS.get(status, status),
            f"registry status is {status}",
            {"status": status},
        )
    )
    flags = history.attributes.get("flags", {}) if history.attributes else {}
    for code, flag, words in (
        ("srdi_sme", "srdi", SRDI_WORDS),
        ("high_tech", "high_tech", HIGH_TECH_WORDS),
    ):
        event = _honor(history, as_of, words)
        if event is not None:
            tags.append(
                Tag(
                    code,
                    TAGS[code],
                    f"qualification granted {event.time.date().isoformat()}: "
                    f"{event.data.get('title') or event.title}",
                    {"event_id": event.id, "source": event.source},
                )
            )
        elif flags.get(flag):
            tags.append(Tag(code, TAGS[code], f"registry flag {flag}", {"flag": flag}))
    if graph.get("group_member"):
        tags.append(Tag("group_member", TAGS["group_member"], "has group membership edges"))
    given = int(graph.get("guarantees_given", 0))
    if given:
        amount = float(graph.get("guarantee_amount_given", 0.0))
        tags.append(
            Tag(
                "guarantor",
                TAGS["guarantor"],
                f"guarantees {given} enterprise(s), total {amount:,.2f} CNY",
                {"guarantees": given, "amount": f"{amount:.2f}"},
            )
        )
    if graph.get("in_guarantee_circle"):
        size = int(graph.get("guarantee_circle_size", 0))
        tags.append(
            Tag(
                "guarantee_circle",
                TAGS["guarantee_circle"],
                f"member of a guarantee circle of {size} enterprises",
                {"circle_size": size, "circle_id": int(graph.get("guarantee_circle_id", -1))},
            )
        )
    if graph.get("mutual_guarantees"):
        count = int(graph["mutual_guarantees"])
        tags.append(
            Tag(
                "mutual_guarantee",
                TAGS["mutual_guarantee"],
                f"guarantees and is guaranteed by {count} enterprise(s)",
                {"partners": count},
            )
        )
    suppliers = int(graph.get("trade_suppliers", 0))
    if suppliers >= 10:
        tags.append(
            Tag(
                "core_enterprise",
                TAGS["core_enterprise"],
                f"buys from {suppliers} suppliers",
                {"suppliers": suppliers},
            )
        )
    for code, feature, threshold, text in (
        ("litigious", "lawsuits_365d", 3, "{v:.0f} lawsuits as defendant in 12 months"),
        ("dishonest_debtor", "dishonest_listed", 1, "listed as dishonest debtor"),
        ("negative_sentiment", "negative_news_30d", 2, "{v:.0f} negative news items in 30 days"),
        ("overdue", "overdue_max_days_365d", 1, "overdue up to {v:.0f} days in 12 months"),
    ):
        value = float(features.get(feature, 0.0))
        if value >= threshold:
            tags.append(Tag(code, TAGS[code], text.format(v=value), {feature: value}))
    if features.get("has_financials") and features.get("debt_ratio", 0) >= 0.8:
        ratio = float(features["debt_ratio"])
        tags.append(
            Tag(
                "high_leverage",
                TAGS["high_leverage"],
                f"liabilities are {ratio:.0%} of assets",
                {"debt_ratio": round(ratio, 4)},
            )
        )
    if features.get("age_years", 99) < 2:
        tags.append(
            Tag(
                "newly_established",
                TAGS["newly_established"],
                f"established {features['age_years']:.1f} years ago",
                {"age_years": round(float(features["age_years"]), 2)},
            )
        )
    if linked_org_kind == "dealer":
        tags.append(Tag("floorplan_dealer", TAGS["floorplan_dealer"], "linked to a dealer org"))
    return tags
