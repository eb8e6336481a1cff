"""Numbering by the branch's local day: ticket numbers restart at local midnight.

The day is the branch's LOCAL day, as at the centre (reconcile.py names an edge ticket by
branch, the local day of its ``issued_at`` and its number), and each ticket's ``day`` column is
that local day. The timezone is the hall's, sent by the centre with the counter map
(``"timezone"``, an IANA name) and kept in the edge store (``hall_timezone``); until one
arrives, the edge's configured default (``finedge edge --timezone``, Asia/Shanghai). Rows of an
older edge database keep the UTC day they were written with.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from edge.store import EdgeStore

log = logging.getLogger(__name__)

TIMEZONE_KEY = "hall_timezone"
DEFAULT_TIMEZONE = "Asia/Shanghai"


def load_zone(name: object) -> ZoneInfo:
    """The IANA timezone ``name``; ValueError for anything else (a bad name, or one this
    system's zone database does not have)."""
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        raise ValueError("timezone must be an IANA name such as Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown timezone {name!r}") from None


class LocalDay:
    """The zone whose local day numbers the tickets: the hall's once synced (kept in the edge
    store), else ``default`` (ValueError when unknown)."""

    def __init__(self, store: EdgeStore, default: str = DEFAULT_TIMEZONE) -> None:
        self.store = store
        self._default_zone = load_zone(default)
        self._zone = self._load_zone()

    def _load_zone(self) -> ZoneInfo | None:
        """The hall's timezone as last synced from the centre (None: never, or unusable)."""
        name = self.store.kv_get(TIMEZONE_KEY)
        if name is None:
            return None
        try:
            return load_zone(name)
        except ValueError:
            log.warning("local queue: stored timezone %r unknown here; using the default", name)
            return None

    @property
    def timezone(self) -> str:
        """The IANA name of the zone whose local day numbers the tickets now."""
        return str(self._zone or self._default_zone)

    @property
    def timezone_synced(self) -> bool:
        """Whether that zone is the centre's (else the configured default)."""
        return self._zone is not None

    def set_timezone(self, name: str) -> bool:
        """Keep the hall's timezone from the centre (persisted: the edge may restart offline);
        whether it changed. ValueError for a name this edge cannot use (the current one stays).
        A change takes effect with the next ticket: numbers go on under the new local day."""
        zone = load_zone(name)
        if self._zone is not None and str(self._zone) == str(zone):
            return False
        self.store.kv_set(TIMEZONE_KEY, str(zone))
        self._zone = zone
        return True

    def of(self, when: datetime) -> str:
        """The branch's local day of ``when`` (naive: UTC), as ``YYYY-MM-DD``."""
        aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return aware.astimezone(self._zone or self._default_zone).date().isoformat()
