"""Cursor pagination on a unique, ordered key: ``?limit=&cursor=`` -> items and next_cursor.

The cursor is an opaque base64 token of the last key seen, so pages stay stable while rows
are inserted (no OFFSET drift)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from backend.platform.errors import ValidationFailed

MAX_LIMIT = 200


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": value}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))["k"]
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed(
            "cursor is not valid", code="invalid_cursor", details={"cursor": ["not a cursor"]}
        ) from None


def check_limit(limit: int | None, default: int = 50) -> int:
    if limit is None:
        return default
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}",
            code="invalid_limit",
            details={"limit": [f"between 1 and {MAX_LIMIT}"]},
        )
    return limit


def paginate(
    session: Session,
    stmt: Select,
    key_column,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    descending: bool = False,
) -> Page:
    limit = check_limit(limit)
    if cursor:
        last = decode_cursor(cursor)
        stmt = stmt.where(key_column < last if descending else key_column > last)
    stmt = stmt.order_by(key_column.desc() if descending else key_column.asc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(getattr(rows[-1], key_column.key))
    return Page(items=rows, next_cursor=next_cursor)
