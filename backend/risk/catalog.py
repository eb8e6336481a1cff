"""The vocabulary of risk early warning: signal levels, event kinds and their categories,
operating statuses, ratings and graph edge kinds.

Feeds, rules, features and the API all name things from here, so that a new event kind is
added in one place (and the feed validator, the rule-file validator and the docs follow)."""

from __future__ import annotations

from dataclasses import dataclass, field

# --- signal levels --------------------------------------------------------------------------

LEVELS = ("weak", "medium", "strong", "hard")
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS, start=1)}
ORIGINS = ("rule", "model", "contagion")


def level_rank(level: str | None) -> int:
    return LEVEL_RANK.get(level or "", 0)


def max_level(levels) -> str | None:
    best = None
    for level in levels:
        if level_rank(level) > level_rank(best):
            best = level
    return best


def raise_level(level: str, steps: int = 1, cap: str = "strong") -> str:
    """One or more steps up, never above ``cap`` (and never down when already above it)."""
    rank = min(level_rank(level) + steps, max(level_rank(cap), level_rank(level)))
    return LEVELS[rank - 1]


# --- event severities -----------------------------------------------------------------------

SEVERITIES = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
# Reporters that think in signal levels may use them as severities.
SEVERITY_ALIASES = {"weak": "low", "strong": "high", "hard": "critical"}


def severity_rank(name: object) -> int | None:
    if not isinstance(name, str):
        return None
    return SEVERITY_RANK.get(SEVERITY_ALIASES.get(name, name))


# --- operating status (registry) ------------------------------------------------------------

STATUSES = ("in_business", "abnormal", "suspended", "liquidation", "revoked", "deregistered")
BAD_STATUSES = frozenset({"liquidation", "revoked", "deregistered"})

# --- ratings: long-term issuer scale, best first --------------------------------------------

RATINGS = (
    "AAA",
    "AA+",
    "AA",
    "AA-",
    "A+",
    "A",
    "A-",
    "BBB+",
    "BBB",
    "BBB-",
    "BB+",
    "BB",
    "BB-",
    "B+",
    "B",
    "B-",
    "CCC",
    "CC",
    "C",
    "D",
)


def rating_score(rating: str | None) -> float | None:
    """1.0 for AAA down to 0.0 for D; None when unknown."""
    if rating not in RATINGS:
        return None
    return 1.0 - RATINGS.index(rating) / (len(RATINGS) - 1)


# --- event kinds ----------------------------------------------------------------------------

CATEGORIES = (
    "registry",
    "judicial",
    "penalty",
    "tax",
    "equity",
    "sentiment",
    "rating",
    "financials",
    "internal",
)


@dataclass(frozen=True)
class Field:
    """One field of an event's ``data``: its type (money, number, integer, text, flag, date,
    rating, status, share, sentiment) and whether a record without it is refused."""

    type: str
    required: bool = False
    default: object = None  # filled in when the record leaves the field out


@dataclass(frozen=True)
class EventKind:
    name: str
    category: str
    label: str
    severity: str
    fields: dict[str, Field] = field(default_factory=dict)


def _kind(name, category, label, severity, **fields) -> EventKind:
    return EventKind(name, category, label, severity, fields)


_M, _MR = Field("money"), Field("money", True)
KINDS: dict[str, EventKind] = {
    k.name: k
    for k in (
        # business registry
        _kind("executive_change", "registry", "Executive change", "low", role=Field("text")),
        _kind(
            "capital_change",
            "registry",
            "Registered capital change",
            "low",
            old=_M,
            new=_MR,
        ),
        _kind("address_change", "registry", "Address change", "low", address=Field("text")),
        _kind(
            "status_change",
            "registry",
            "Operating status change",
            "medium",
            status=Field("status", True),
        ),
        _kind("abnormal_operation", "registry", "Listed as abnormal operation", "high"),
        _kind("abnormal_operation_removed", "registry", "Removed from abnormal list", "info"),
        _kind("honor", "registry", "Qualification granted", "info", title=Field("text", True)),
        # judicial
        _kind("lawsuit_defendant", "judicial", "Lawsuit as defendant", "medium", amount=_M),
        _kind("dishonest_debtor", "judicial", "Dishonest debtor listing", "critical", amount=_M),
        _kind("consumption_restriction", "judicial", "Consumption restriction", "high"),
        _kind("enforcement", "judicial", "Enforcement", "high", amount=_M),
        # administrative, tax
        _kind("administrative_penalty", "penalty", "Administrative penalty", "medium", amount=_M),
        _kind("tax_violation", "tax", "Tax violation", "medium", amount=_M, major=Field("flag")),
        _kind("tax_arrears", "tax", "Tax arrears", "medium", amount=_M),
        # equity
        _kind("equity_pledge", "equity", "Equity pledge", "low", share=Field("share"), amount=_M),
        _kind("equity_freeze", "equity", "Equity freeze", "high", share=Field("share"), amount=_M),
        # public sentiment, ratings, financial statements
        _kind("news", "sentiment", "News item", "info", sentiment=Field("sentiment", True)),
        _kind(
            "rating_change",
            "rating",
            "External rating",
            "low",
            rating=Field("rating", True),
            previous=Field("rating"),
            agency=Field("text"),
        ),
        _kind(
            "financial_report",
            "financials",
            "Financial statements",
            "info",
            period=Field("text", True),
            total_assets=_MR,
            total_liabilities=_MR,
            current_assets=_M,
            current_liabilities=_M,
            revenue=_M,
            net_profit=_M,
            operating_cash_flow=_M,
        ),
        # the bank's own
        _kind(
            "overdue_loan",
            "internal",
            "Overdue loan",
            "high",
            days_overdue=Field("integer", default=0),
            amount=_M,
        ),
        _kind("margin_shortfall", "internal", "Margin shortfall", "medium", amount=_M),
        _kind(
            "vehicle_out_of_trust",
            "internal",
            "Vehicle out of trust",
            "critical",
            vin=Field("text"),
        ),
        _kind("vehicle_alert", "internal", "Floor-plan vehicle alert", "medium", vin=Field("text")),
        _kind("loan_default", "internal", "Loan default", "critical", amount=_M),
        # industrial digital finance: a pool whose capacity fell below its bills, a confirmed
        # payable the core enterprise did not pay at maturity, a clearing difference left open
        _kind("pool_shortfall", "internal", "Asset pool shortfall", "medium", amount=_M),
        _kind(
            "payable_overdue",
            "internal",
            "Factored payable overdue",
            "high",
            days_overdue=Field("integer", default=0),
            amount=_M,
        ),
        _kind(
            "clearing_difference",
            "internal",
            "Unreconciled clearing difference",
            "medium",
            amount=_M,
        ),
        # collateral: a credit's loan-to-value over its product's alarm threshold (critical
        # over the block threshold, which the reported-critical rule makes hard)
        _kind(
            "ltv_breach",
            "internal",
            "Collateral loan-to-value over threshold",
            "high",
            ltv_bp=Field("integer", default=0),
            amount=_M,
        ),
    )
}

INTERNAL_KINDS = tuple(k for k, v in KINDS.items() if v.category == "internal")

# Profile attributes a source may report; differences between sources are shown in the view.
PROFILE_ATTRIBUTES = (
    "name",
    "registered_capital",
    "established_on",
    "status",
    "legal_representative",
    "address",
    "industry",
    "region",
)
# Sources whose profile is the master data of an enterprise (others only add facts).
MASTER_SOURCES = frozenset({"registry"})

# --- knowledge graph -------------------------------------------------------------------------

NODE_TYPES = ("enterprise", "person")
EDGE_KINDS = ("equity", "investment", "executive", "group", "guarantee", "trade")
EDGE_KIND_CODE = {kind: code for code, kind in enumerate(EDGE_KINDS)}
# Edge kinds whose share is an equity share (used for the ultimate controller).
OWNERSHIP_KINDS = ("equity", "investment")
