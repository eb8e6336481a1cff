"""Search every table of a database (and captured log text) for values that must not be kept:
each row of each table, every column rendered as text (JSON columns as their JSON), so a new
table or column cannot hide a leak from the test."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session


def table_texts(session: Session) -> dict[str, list[str]]:
    """{table: [one text per row]} of every table in the session's database."""
    meta = MetaData()
    meta.reflect(bind=session.connection())
    out: dict[str, list[str]] = {}
    for table in meta.sorted_tables:
        rows = session.execute(select(table)).all()
        out[table.name] = [
            json.dumps([_text(v) for v in row], ensure_ascii=False, default=str) for row in rows
        ]
    return out


def _text(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def found_in(texts: dict[str, list[str]], needles: Iterable[str]) -> list[tuple[str, str]]:
    """(table, needle) for each needle found in a row of that table."""
    needles = [n for n in needles if n]
    return sorted(
        {(table, n) for table, rows in texts.items() for row in rows for n in needles if n in row}
    )
