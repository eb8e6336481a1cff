"""A manifest checked before it is deployed, and written to and read from its JSON row.

Every check gives the field and what is wrong, so ``finedge rpa deploy`` and the API refuse a
bad robot with one clear line. Payloads are checked against the manifest's ``input_schema``
when they are queued (``check_payload``)."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from croniter import croniter

from backend.platform.errors import ValidationFailed
from backend.rpa.robot import DEPARTMENTS, FIELD_TYPES, Manifest, Robot, Schedule

NAME = re.compile(r"^[a-z][a-z0-9_]{2,39}$")
VERSION = re.compile(r"^\d{1,4}\.\d{1,4}\.\d{1,4}$")
MAX_TIMEOUT_S = 24 * 3600
MAX_RETRIES = 10
MAX_CONCURRENCY = 64


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"manifest {field}: {message}", details={"field": field})


def check_manifest(m: Manifest) -> Manifest:
    if not NAME.match(m.name or ""):
        raise _bad("name", "3-40 characters of a-z, 0-9 and _, starting with a letter")
    if not VERSION.match(m.version or ""):
        raise _bad("version", "MAJOR.MINOR.PATCH")
    if m.department not in DEPARTMENTS:
        raise _bad("department", f"one of {', '.join(DEPARTMENTS)}")
    if not (m.title or "").strip() or len(m.title) > 120:
        raise _bad("title", "1-120 characters")
    for key, kind in m.input_schema.items():
        if not NAME.match(key) and not re.match(r"^[a-z][a-z0-9_]{0,39}$", key):
            raise _bad("input_schema", f"field name {key!r}")
        if kind not in FIELD_TYPES:
            raise _bad("input_schema", f"{key}: type must be one of {', '.join(FIELD_TYPES)}")
    s = m.schedule
    if s.cron is not None and s.every_s is not None:
        raise _bad("schedule", "cron or every_s, not both")
    if s.cron is not None and (len(s.cron.split()) != 5 or not croniter.is_valid(s.cron)):
        raise _bad("schedule", f"not a five-field cron line: {s.cron!r}")
    if s.every_s is not None and not (10 <= s.every_s <= 31 * 86400):
        raise _bad("schedule", "every_s between 10 s and 31 days")
    if not (1 <= m.concurrency <= MAX_CONCURRENCY):
        raise _bad("concurrency", f"1 to {MAX_CONCURRENCY}")
    if not (1 <= m.timeout_s <= MAX_TIMEOUT_S):
        raise _bad("timeout_s", f"1 to {MAX_TIMEOUT_S}")
    if not (0 <= m.max_retries <= MAX_RETRIES):
        raise _bad("max_retries", f"0 to {MAX_RETRIES}")
    if not isinstance(m.manual_minutes, Decimal) or not (
        Decimal("0") < m.manual_minutes <= Decimal("1440")
    ):
        raise _bad("manual_minutes", "a Decimal above 0 and at most 1440")
    for target in m.feeds:
        if not NAME.match(target) or target == m.name:
            raise _bad("feeds", f"not another robot's name: {target!r}")
    return m


def check_robot(robot: Any, entry_point: str) -> Robot:
    if not isinstance(robot, Robot):
        raise ValidationFailed(f"{entry_point} is not a Robot (backend/rpa/robot.py)")
    check_manifest(robot.manifest)
    return robot


def to_json(m: Manifest) -> dict[str, Any]:
    out = asdict(m)
    out["manual_minutes"] = str(m.manual_minutes)
    out["feeds"] = list(m.feeds)
    return out


def from_json(data: dict[str, Any]) -> Manifest:
    data = dict(data)
    data["schedule"] = Schedule(**data.get("schedule") or {})
    data["manual_minutes"] = Decimal(str(data.get("manual_minutes", "1")))
    data["feeds"] = tuple(data.get("feeds") or ())
    return Manifest(**data)


def check_payload(m: Manifest, payload: Any) -> dict[str, Any]:
    """The payload as queued, or ValidationFailed naming the first wrong field. Fields the
    schema does not name are kept (a robot may read optional extras)."""
    if not isinstance(payload, dict):
        raise ValidationFailed("payload must be a JSON object")
    for key, kind in m.input_schema.items():
        if key not in payload or payload[key] is None:
            raise ValidationFailed(f"payload {key}: required", details={"field": key})
        if not _is(kind, payload[key]):
            raise ValidationFailed(f"payload {key}: must be {kind}", details={"field": key})
    return payload


def _is(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str) and len(value) <= 10_000
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "decimal":
        if not isinstance(value, str) or len(value) > 40:
            return False
        try:
            d = Decimal(value)
        except InvalidOperation:
            return False
        return d.is_finite()
    if kind == "date":
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return True
    return False
