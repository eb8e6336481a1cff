"""Cursor pagination on a unique, ordered key: ``?limit=&cursor=`` -> items and next_cursor.

The cursor is an opaque base64 token of the last key seen, so pages stay stable while rows
are inserted (no OFFSET drift).

A cursor comes back from the client, so it is input like any other: ``paginate`` checks that it
decodes to ``{"k": key}`` with a key of the key column's type (an integer within signed 64 bits
for integer keys, a string of at most the column's length for text keys) and refuses anything
else with 400 ``invalid_cursor``. Cursors are not signed: a cursor only says where a listing
resumes, and the listing's filters (what the caller may see) apply to every page, so a forged
cursor can do no more than skip rows the caller could page to anyway."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from backend.platform import strict_json
from backend.platform.errors import ValidationFailed
from backend.platform.strict_json import in_int64, text_problem

MAX_LIMIT = 200
MAX_CURSOR_CHARS = 400


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": value}).encode()).decode().rstrip("=")


def _bad_cursor(why: str = "not a cursor") -> ValidationFailed:
    return ValidationFailed("cursor is not valid", code="invalid_cursor", details={"cursor": [why]})


def decode_cursor(cursor: str) -> Any:
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
        raise _bad_cursor("not a cursor (too long)")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        document = strict_json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, ValidationFailed):  # binascii.Error and UnicodeError are ValueErrors
        raise _bad_cursor() from None
    if not isinstance(document, dict) or set(document) != {"k"}:
        raise _bad_cursor()
    return document["k"]


def check_key(value: Any, key_column) -> Any:
    """The decoded key if it has the key column's type, else 400 ``invalid_cursor``."""
    try:
        python_type = key_column.type.python_type
    except NotImplementedError:  # a column type without one: compare nothing but scalars
        python_type = None
    if python_type is int or (python_type is None and isinstance(value, int)):
        if isinstance(value, bool) or not isinstance(value, int) or not in_int64(value):
            raise _bad_cursor("not a cursor of this listing")
        return value
    if python_type is str or (python_type is None and isinstance(value, str)):
        length = getattr(key_column.type, "length", None) or MAX_CURSOR_CHARS
        if not isinstance(value, str) or len(value) > length or text_problem(value):
            raise _bad_cursor("not a cursor of this listing")
        return value
    raise _bad_cursor("not a cursor of this listing")


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
        last = check_key(decode_cursor(cursor), key_column)
        stmt = stmt.where(key_column < last if descending else key_column > last)
    stmt = stmt.order_by(key_column.desc() if descending else key_column.asc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(getattr(rows[-1], key_column.key))
    return Page(items=rows, next_cursor=next_cursor)
