"""What an edge agent is told (``EdgeSettings``, from ``finedge edge``'s options) and what it
counts (``EdgeStats``: the counters every part of the edge adds to, sent as ``edge.stats``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from edge.localqueue import DEFAULT_TIMEZONE, load_zone
from edge.protocol import DEFAULT_HOST_ID, DEFAULT_MAX_BYTES, DEFAULT_MAX_SKEW_S, default_edge_id


@dataclass
class EdgeSettings:
    branch_id: str
    central_url: str
    data_dir: Path
    edge_id: str = ""
    branch_url: str | None = None  # None: host the embedded branch broker
    # The dynamic security admin login of the branch Mosquitto at ``branch_url``: the edge
    # keeps its accounts equal to the registry (edge/branch_accounts.py). None: its accounts
    # are someone else's (a password file).
    branch_admin_url: str | None = None
    # What the centre seals device passwords with for this edge (edge/sealing.py): the edge's
    # central login password; None: the password in ``central_url``.
    seal_secret: str | None = None
    host: str = "127.0.0.1"
    mqtt_port: int = 18831
    host_id: str = DEFAULT_HOST_ID
    max_bytes: int = DEFAULT_MAX_BYTES
    max_skew_s: float = DEFAULT_MAX_SKEW_S
    rate_per_s: float = 50.0
    rate_burst: float = 200.0
    historical_after_s: float = 10.0
    window: int = 200
    receipt_window: int = 500
    receipt_timeout_s: float = 10.0
    outbox_max_rows: int = 2_000_000
    stats_every_s: float = 30.0
    rebirth_every_s: float = 10.0
    synchronous: str = "NORMAL"
    retry_max_delay: float = 5.0
    # The local queue's timezone until the centre's counter map brings the hall's (IANA name).
    timezone: str = DEFAULT_TIMEZONE
    # How long a call-next forwarded to the centre waits for its answer (caller.show_call with
    # the press's request_id) before the edge, if the uplink is down by then, calls locally.
    call_answer_timeout_s: float = 3.0

    def __post_init__(self) -> None:
        self.edge_id = self.edge_id or default_edge_id(self.branch_id)
        self.data_dir = Path(self.data_dir)
        load_zone(self.timezone)  # ValueError now rather than at the first ticket


@dataclass
class EdgeStats:
    counts: Counter[str] = field(default_factory=Counter)

    def __getitem__(self, key: str) -> int:
        return self.counts[key]

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n
