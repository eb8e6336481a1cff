"""The hall's counter map and the calling rules it gives the local queue.

The services a window serves come from the hall's counter map (counter id → skills and the
caller device at the window), synced from the centre as a retained ``edge.counters`` message
and kept in the edge store. A window calls the waiting ticket with the highest score among the
services it serves (edge/queue_rules.py). A counter the map does not know serves every service;
with no map at all (never synced) calls are first come, first served over every service, as
before the map existed (logged once).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge.localqueue.day import LocalDay
from edge.queue_rules import SERVICES
from edge.store import EdgeStore

log = logging.getLogger(__name__)

COUNTER_MAP_KEY = "hall_counters"
ALL_SERVICES = tuple(SERVICES)


@dataclass(frozen=True)
class CounterSkills:
    counter_id: str
    skills: tuple[str, ...]
    caller_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "counter_id": self.counter_id,
            "skills": list(self.skills),
            "caller_id": self.caller_id,
        }


@dataclass(frozen=True)
class CounterMap:
    """The hall's windows as the centre configured them: counter id → the services it serves
    and the caller device at it, and the hall's timezone (the data of the retained
    ``edge.counters`` message; ``timezone`` is None from a centre that does not send it)."""

    version: int
    counters: tuple[CounterSkills, ...]
    timezone: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CounterMap:
        """Parse ``{"version", "counters":[{"counter_id","skills","caller_id"?}],
        "timezone"?}``; ValueError on a bad shape. Unknown service codes in skills are skipped
        (a newer centre); a timezone name is checked when the queue takes it."""
        version, counters = data.get("version"), data.get("counters")
        timezone = data.get("timezone")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError("version must be an integer")
        if not isinstance(counters, list):
            raise ValueError("counters must be a list")
        if timezone is not None and (not isinstance(timezone, str) or not 0 < len(timezone) <= 64):
            raise ValueError("timezone must be an IANA name or null")
        parsed: dict[str, CounterSkills] = {}
        for entry in counters:
            if not isinstance(entry, Mapping):
                raise ValueError("each counter must be an object")
            counter_id, skills = entry.get("counter_id"), entry.get("skills")
            caller_id = entry.get("caller_id")
            if not isinstance(counter_id, str | int) or isinstance(counter_id, bool):
                raise ValueError("counter_id must be a string")
            if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
                raise ValueError("skills must be a list of service codes")
            if caller_id is not None and not isinstance(caller_id, str):
                raise ValueError("caller_id must be a string or null")
            known = tuple(dict.fromkeys(s for s in skills if s in SERVICES))
            parsed[str(counter_id)] = CounterSkills(str(counter_id), known, caller_id or None)
        return cls(version, tuple(parsed.values()), timezone)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "counters": [c.to_dict() for c in self.counters],
        }
        if self.timezone is not None:
            data["timezone"] = self.timezone
        return data

    def get(self, counter_id: str) -> CounterSkills | None:
        return next((c for c in self.counters if c.counter_id == counter_id), None)

    def of_caller(self, caller_id: str) -> CounterSkills | None:
        return next((c for c in self.counters if c.caller_id == caller_id), None)


class CounterRules:
    """The counter map as last synced (kept in the edge store), and what it decides: which
    window a caller's press is for, which services that window serves, and which windows share
    the work in the estimates. A map may carry the hall's timezone, handed to ``day``."""

    def __init__(self, store: EdgeStore, day: LocalDay) -> None:
        self.store = store
        self.day = day
        self._log_lock = threading.Lock()
        self._logged: set[str] = set()
        self._map = self._load_map()

    def _load_map(self) -> CounterMap | None:
        raw = self.store.kv_get(COUNTER_MAP_KEY)
        if raw is None:
            return None
        try:
            return CounterMap.from_dict(json.loads(raw))
        except (ValueError, TypeError):
            log.warning("local queue: stored counter map unreadable; waiting for a new one")
            return None

    @property
    def counter_map(self) -> CounterMap | None:
        return self._map

    def set_counter_map(self, counter_map: CounterMap) -> bool:
        """Keep the centre's counter map (persisted: the edge may restart offline) and the
        hall's timezone it carries (set_timezone; a map without one keeps the last known); an
        unknown timezone is logged and the map still applies. Whether it changed anything."""
        if counter_map.timezone is not None:
            try:
                self.day.set_timezone(counter_map.timezone)
            except ValueError as exc:
                self._once(
                    f"timezone:{counter_map.timezone}",
                    "local queue: the centre's timezone not usable here (%s); numbering by %s",
                    exc,
                    self.day.timezone,
                )
        if self._map is not None and self._map == counter_map:
            return False
        self.store.kv_set(COUNTER_MAP_KEY, json.dumps(counter_map.to_dict(), sort_keys=True))
        self._map = counter_map
        with self._log_lock:
            self._logged.clear()
        return True

    def _once(self, key: str, message: str, *args: object) -> None:
        with self._log_lock:
            if key in self._logged:
                return
            self._logged.add(key)
        log.warning(message, *args)

    def counter_for(self, caller_id: str, counter_id: object = None) -> str:
        """The window a caller's "call next" is for: the ``counter_id`` it sends when the map
        knows it, else the counter the map links to that caller device, else what it sent (or
        the device id)."""
        sent = str(counter_id) if isinstance(counter_id, str | int) and counter_id != "" else None
        cmap = self._map
        if cmap is not None and (sent is None or cmap.get(sent) is None):
            linked = cmap.of_caller(caller_id)
            if linked is not None:
                return linked.counter_id
        return sent or caller_id

    def skills_for(self, counter_id: str) -> tuple[str, ...] | None:
        """The services ``counter_id`` serves; None without a map (first come, first served)."""
        cmap = self._map
        if cmap is None:
            self._once(
                "no-map",
                "local queue: no counter map synced from the centre yet; calling first come,"
                " first served over every service",
            )
            return None
        counter = cmap.get(counter_id)
        if counter is None:
            self._once(
                f"unknown:{counter_id}",
                "local queue: counter %r is not in the centre's counter map (v%d); it serves"
                " every service",
                counter_id,
                cmap.version,
            )
            return ALL_SERVICES
        return counter.skills

    def windows(self) -> list[tuple[str, Sequence[str]]] | None:
        """(status, skills) of the windows the edge serves, for the estimates: the map's
        counters with a caller device (all of them when none has one); None without a map."""
        cmap = self._map
        if cmap is None:
            return None
        linked = [c for c in cmap.counters if c.caller_id] or list(cmap.counters)
        return [("open", c.skills) for c in linked]
