"""Fault injection for the simulators: the ways real devices misbehave on a branch network.

Rates are probabilities per published message; ``disconnect_every_s`` drops the connection
abruptly (no DISCONNECT, so the broker publishes the device's last will) on average that
often. ``Faults.parse("dup=0.1,garbage=0.02,skew=600,ack_delay=2,disconnect=30")`` reads
the CLI form.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

_ALIASES = {
    "dup": "duplicate_rate",
    "duplicate": "duplicate_rate",
    "garbage": "garbage_rate",
    "oversize": "oversize_rate",
    "gap": "gap_rate",
    "skew": "clock_skew_s",
    "ack_delay": "ack_delay_s",
    "disconnect": "disconnect_every_s",
}


@dataclass
class Faults:
    duplicate_rate: float = 0.0  # the same envelope published twice
    garbage_rate: float = 0.0  # random bytes instead of an envelope
    oversize_rate: float = 0.0  # an envelope larger than the 64 KiB limit
    gap_rate: float = 0.0  # a sequence number skipped (a message lost on the device)
    clock_skew_s: float = 0.0  # added to every timestamp the device writes
    ack_delay_s: float = 0.0  # slow acknowledgements of commands
    disconnect_every_s: float | None = None  # mean time between abrupt connection drops

    @classmethod
    def parse(cls, text: str | None) -> Faults:
        faults = cls()
        if not text:
            return faults
        names = {f.name for f in dataclasses.fields(cls)}
        for part in text.split(","):
            if not part.strip():
                continue
            key, _, value = part.partition("=")
            name = _ALIASES.get(key.strip(), key.strip())
            if name not in names or not value:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(sorted(_ALIASES))}")
            setattr(faults, name, float(value))
        return faults

    @property
    def any(self) -> bool:
        return self != Faults()
