"""Time is timezone-aware UTC inside. A clock is injectable so tests can move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat(value: datetime | None) -> str | None:
    if value is None:
        return None
    return ensure_utc(value).isoformat().replace("+00:00", "Z")


def parse_moment(value: object, what: str = "time") -> datetime:
    """An RFC 3339 time with a zone, or a plain date (midnight UTC), as an aware UTC datetime;
    ValueError (its message names ``what``) for anything else, naive times included."""
    from datetime import date

    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be an RFC 3339 string or a date")
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {text[:40]!r} is not RFC 3339") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} needs a zone (e.g. 'Z' for UTC)")
    return moment.astimezone(UTC)
