"""The feed record format and its validator (pure: no database).

Every adapter (file, HTTP, the ingestion endpoint, the bank's own events) hands records to
``parse_record``; a record that does not conform is turned into a ``Rejection`` with a
snake_case reason and a message, and the rest of the feed still loads.  The format is
documented in docs/risk.md ("Feed format"); in short, one JSON object per record:

    {"record_id": "CT-2025-0001",            # the provider's stable id: (source, record_id) is
     "type": "event",                        #   the idempotency key; event | profile | edge
     "credit_code": "91310000MA1FL0XX1X",    # or "name" alone, resolved through known aliases
     "name": "上海华鑫科技有限公司",
     "kind": "lawsuit_defendant",            # an event kind from backend/risk/catalog.py
     "time": "2025-03-01T08:00:00Z",         # source time, RFC 3339 with zone, or a date
     "severity": "high",                     # optional: the kind's default otherwise
     "title": "…",
     "data": {"amount": "1200000.00"}}       # kind-specific; money as decimal strings

Profile records carry ``data`` with master attributes (registered_capital, established_on,
status, legal_representative, address, industry, region, flags).  Edge records carry
``kind`` (equity, investment, executive, group, guarantee, trade), ``from`` and ``to``
(each ``{"credit_code"|"name"}`` for an enterprise or ``{"person_key", "name"}`` for a
person) and ``share``, ``amount``, ``volume`` or ``role`` as the kind needs; ``ended`` (RFC
3339 or a date) says the relation ended then (a released guarantee, a sold stake).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from backend.platform.clock import parse_moment
from backend.platform.errors import ValidationFailed
from backend.platform.money import parse_money
from backend.risk import catalog
from backend.risk.creditcode import is_valid_credit_code, normalize_credit_code

RECORD_TYPES = ("event", "profile", "edge")
MAX_DATA_BYTES = 8192
MAX_TEXT = 500
FUTURE_TOLERANCE = timedelta(days=1)
PROFILE_FIELDS: dict[str, catalog.Field] = {
    "name": catalog.Field("text"),
    "registered_capital": catalog.Field("money"),
    "established_on": catalog.Field("date"),
    "status": catalog.Field("status"),
    "legal_representative": catalog.Field("text"),
    "address": catalog.Field("text"),
    "industry": catalog.Field("text"),
    "region": catalog.Field("text"),
    "flags": catalog.Field("flags"),
}
_TOP_LEVEL = {
    "record_id",
    "type",
    "credit_code",
    "name",
    "kind",
    "time",
    "published",
    "severity",
    "title",
    "data",
    "from",
    "to",
    "share",
    "amount",
    "volume",
    "role",
    "ended",
}


@dataclass(frozen=True)
class EnterpriseRef:
    credit_code: str | None
    name: str | None


@dataclass(frozen=True)
class PersonRef:
    person_key: str
    name: str | None


NodeRef = EnterpriseRef | PersonRef


@dataclass
class Rejection:
    index: int  # position in the batch; -1 for a line that was not even JSON
    record_id: str | None
    reason: str
    message: str
    line: int | None = None  # line in the feed file, where there is one

    def as_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "record_id": self.record_id,
            "reason": self.reason,
            "message": self.message,
        }
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass
class FeedRecord:
    index: int
    record_id: str
    type: str
    time: datetime
    content_hash: str
    published: datetime | None = None  # the vendor's publication time, when it says
    enterprise: EnterpriseRef | None = None
    kind: str | None = None
    category: str | None = None
    severity: int = 0
    title: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    source_from: NodeRef | None = None
    source_to: NodeRef | None = None
    share: float | None = None
    amount: Decimal | None = None
    volume: Decimal | None = None
    ended: datetime | None = None  # edges: when the relation ended (a released guarantee)
    raw: dict[str, Any] | None = None  # the record as received (held for review if need be)


class _Reject(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def parse_time(value: object) -> datetime:
    """RFC 3339 with a zone, or a plain date (midnight UTC); naive times are refused."""
    try:
        return parse_moment(value)
    except ValueError as exc:
        raise _Reject("invalid_time", str(exc)) from None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def normalize_value(name: str, spec: catalog.Field, value: Any) -> Any:
    """One data field by its type; raises _Reject('invalid_data', ...)."""

    def bad(why: str):
        raise _Reject("invalid_data", f"data.{name}: {why}")

    kind = spec.type
    if kind == "money":
        try:
            return str(parse_money(value, field=name))
        except ValidationFailed as exc:
            bad(exc.message)
    if kind in ("number", "share", "sentiment"):
        number = _number(value)
        if number is None:
            bad("must be a number")
        if kind == "share" and not 0 < number <= 1:
            bad("must be a share in (0, 1]")
        if kind == "sentiment" and not -1 <= number <= 1:
            bad("must be a sentiment score in [-1, 1]")
        return number
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            bad("must be a non-negative integer")
        return value
    if kind == "text":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            bad(f"must be text of at most {MAX_TEXT} characters")
        return value.strip()
    if kind == "flag":
        if not isinstance(value, bool):
            bad("must be true or false")
        return value
    if kind == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            bad("must be a date YYYY-MM-DD")
    if kind == "rating":
        if value not in catalog.RATINGS:
            bad(f"must be a rating on the scale {catalog.RATINGS[0]}..{catalog.RATINGS[-1]}")
        return value
    if kind == "status":
        if value not in catalog.STATUSES:
            bad(f"must be one of {', '.join(catalog.STATUSES)}")
        return value
    if kind == "flags":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, bool) for k, v in value.items()
        ):
            bad("must be an object of true/false flags")
        return dict(value)
    raise AssertionError(f"unknown field type {kind}")


def _normalize_data(data: Any, fields: dict[str, catalog.Field]) -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _Reject("invalid_data", "data must be an object")
    try:
        size = len(json.dumps(data, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        raise _Reject("invalid_data", "data must be JSON") from None
    if size > MAX_DATA_BYTES:
        raise _Reject("data_too_large", f"data is larger than {MAX_DATA_BYTES} bytes")
    out = dict(data)
    for name, spec in fields.items():
        if data.get(name) is None:
            if spec.required:
                raise _Reject("invalid_data", f"data.{name} is required")
            out.pop(name, None)
            if spec.default is not None:
                out[name] = spec.default
            continue
        out[name] = normalize_value(name, spec, data[name])
    return out


def _enterprise_ref(obj: dict, where: str) -> EnterpriseRef:
    raw_code = obj.get("credit_code")
    name = obj.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 200):
        raise _Reject("invalid_name", f"{where}name must be text of 1 to 200 characters")
    if raw_code is None:
        if not name:
            raise _Reject("missing_enterprise", f"{where}credit_code or name is required")
        return EnterpriseRef(None, name.strip())
    code = normalize_credit_code(raw_code)
    if not is_valid_credit_code(code):
        raise _Reject(
            "invalid_credit_code", f"{where}credit_code {str(raw_code)[:30]!r} fails its check"
        )
    return EnterpriseRef(code, name.strip() if name else None)


def _node_ref(obj: Any, where: str) -> NodeRef:
    if not isinstance(obj, dict):
        raise _Reject("invalid_edge", f"{where} must be an object")
    if "person_key" in obj:
        key, name = obj.get("person_key"), obj.get("name")
        if not isinstance(key, str) or not key.strip() or len(key) > 64:
            raise _Reject("invalid_edge", f"{where}.person_key must be text of 1 to 64 chars")
        if name is not None and not isinstance(name, str):
            raise _Reject("invalid_edge", f"{where}.name must be text")
        return PersonRef(key.strip(), name)
    return _enterprise_ref(obj, f"{where}.")


def _hash(raw: dict) -> str:
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_record(raw: Any, index: int, *, now: datetime) -> FeedRecord | Rejection:
    """Validate and normalise one record; never raises for bad input."""
    record_id = raw.get("record_id") if isinstance(raw, dict) else None
    record_id = record_id if isinstance(record_id, str) else None
    try:
        return _parse(raw, index, now)
    except _Reject as rej:
        return Rejection(index, record_id, rej.reason, rej.message)


def _parse(raw: Any, index: int, now: datetime) -> FeedRecord:
    if not isinstance(raw, dict):
        raise _Reject("not_an_object", "a record must be a JSON object")
    record_id = raw.get("record_id")
    if not isinstance(record_id, str) or not record_id.strip() or len(record_id) > 120:
        raise _Reject("missing_record_id", "record_id must be text of 1 to 120 characters")
    unknown = sorted(set(raw) - _TOP_LEVEL)
    if unknown:
        raise _Reject("unknown_field", f"unknown field(s): {', '.join(unknown[:5])}")
    rtype = raw.get("type", "event")
    if rtype not in RECORD_TYPES:
        raise _Reject("unknown_type", f"type must be one of {', '.join(RECORD_TYPES)}")
    if raw.get("time") is None:
        raise _Reject("missing_time", "time (the source time) is required")
    moment = parse_time(raw["time"])
    if moment > now + FUTURE_TOLERANCE:
        raise _Reject("future_time", "time is in the future")
    record = FeedRecord(
        index=index,
        record_id=record_id.strip(),
        type=rtype,
        time=moment,
        content_hash=_hash(raw),
        raw=raw,
    )
    if raw.get("published") is not None:
        record.published = parse_time(raw["published"])
        if record.published < moment:
            raise _Reject("invalid_time", "published is before time: a source publishes after")
        if record.published > now + FUTURE_TOLERANCE:
            raise _Reject("future_time", "published is in the future")
    if rtype == "edge":
        return _parse_edge(raw, record)
    record.enterprise = _enterprise_ref(raw, "")
    title = raw.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > 300):
        raise _Reject("invalid_data", "title must be text of at most 300 characters")
    record.title = title
    if rtype == "profile":
        record.kind, record.category = "profile", "registry"
        record.data = _normalize_data(raw.get("data"), PROFILE_FIELDS)
        return record
    kind = catalog.KINDS.get(raw.get("kind"))
    if kind is None:
        raise _Reject("unknown_kind", f"kind {str(raw.get('kind'))[:40]!r} is not an event kind")
    severity = catalog.severity_rank(raw.get("severity", kind.severity))
    if severity is None:
        raise _Reject(
            "invalid_severity",
            f"severity must be one of {', '.join(catalog.SEVERITIES)} (or a signal level)",
        )
    record.kind, record.category = kind.name, kind.category
    record.severity = severity
    record.data = _normalize_data(raw.get("data"), kind.fields)
    return record


def _parse_edge(raw: dict, record: FeedRecord) -> FeedRecord:
    kind = raw.get("kind")
    if kind not in catalog.EDGE_KINDS:
        raise _Reject("invalid_edge", f"edge kind must be one of {', '.join(catalog.EDGE_KINDS)}")
    record.kind = kind
    record.source_from = _node_ref(raw.get("from"), "from")
    record.source_to = _node_ref(raw.get("to"), "to")
    if not isinstance(record.source_to, EnterpriseRef):
        raise _Reject("invalid_edge", "to must be an enterprise")
    if kind not in ("equity", "executive") and not isinstance(record.source_from, EnterpriseRef):
        raise _Reject("invalid_edge", f"from must be an enterprise for a {kind} edge")
    if record.source_from == record.source_to:
        raise _Reject("invalid_edge", "an edge needs two different ends")
    share = raw.get("share")
    if share is not None:
        number = _number(share)
        if number is None or not 0 < number <= 1:
            raise _Reject("invalid_edge", "share must be a number in (0, 1]")
        record.share = number
    elif kind == "equity":
        raise _Reject("invalid_edge", "an equity edge needs its share")
    for name in ("amount", "volume"):
        if raw.get(name) is not None:
            try:
                setattr(record, name, parse_money(raw[name], field=name, positive=True))
            except ValidationFailed as exc:
                raise _Reject("invalid_edge", exc.message) from None
    if raw.get("ended") is not None:
        try:
            record.ended = parse_time(raw["ended"])
        except _Reject as rej:
            raise _Reject("invalid_edge", f"ended: {rej.message}") from None
    if kind == "guarantee" and record.amount is None and record.ended is None:
        # a release ({"ended": ...}) need not repeat the amount; amount 0 is never a release
        raise _Reject("invalid_edge", "a guarantee edge needs its amount (or ended to release it)")
    role = raw.get("role")
    if role is not None and (not isinstance(role, str) or len(role) > 60):
        raise _Reject("invalid_edge", "role must be text of at most 60 characters")
    record.data = {"role": role} if role else {}
    return record
