"""``finedge edge``: run one branch's edge agent until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from backend.platform.mqtt import PAHO_LOGGER
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings

log = logging.getLogger(__name__)

STATS_EVERY_S = 300.0  # how often a running edge logs its counts
# The main thread waits in short slices: a SIGTERM that the kernel hands to another thread only
# runs its Python handler when the main thread wakes (seen: a demo's edge stopping 4.5 min late).
STOP_POLL_S = 0.5


def _shown(url: str | None) -> str:
    """``url`` without its password, for the console."""
    if url is None:
        return "-"
    parts = urlsplit(url)
    address = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(
        netloc=f"{parts.username}@{address}" if parts.username else address
    ).geturl()


def quiet_paho_connect_noise() -> None:
    """paho logs an ERROR every 100 ms while a broker is not yet listening (its loop runs
    without a socket); the wrapper already reports connection trouble once, as a warning."""
    logging.getLogger(PAHO_LOGGER).setLevel(logging.CRITICAL)


def install_stop_signals(stop: threading.Event) -> None:
    """SIGINT and SIGTERM set ``stop`` (a background job of a shell ignores SIGINT; `make demo`
    stops its background processes with SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_args: stop.set())


def run_edge(
    settings: EdgeSettings, stop: threading.Event, *, echo: Callable[[str], None] = print
) -> None:
    quiet_paho_connect_noise()
    agent = EdgeAgent(settings).start()
    try:
        echo(f"FinEdge edge {settings.edge_id} of branch {settings.branch_id}")
        if agent.broker is not None:
            echo(f"  branch broker  mqtt://{settings.host}:{agent.broker.port} (embedded)")
        else:
            echo(f"  branch broker  {_shown(settings.branch_url)}")
            if agent.accounts is not None:
                echo(f"  its accounts   dynsec, by {_shown(settings.branch_admin_url)}")
        echo(f"  central        {_shown(settings.central_url)}")
        echo(f"  outbox         {agent.store.path} ({agent.pending} waiting)")
        echo(f"  registry       {len(agent.registry)} devices (synced from the centre)")
        source = "the hall's, synced" if agent.queue.timezone_synced else "default"
        echo(f"  local day      {agent.queue.timezone} ({source})")
        echo("  Ctrl-C to stop")
        next_stats = time.monotonic() + STATS_EVERY_S
        while not stop.wait(STOP_POLL_S):
            if time.monotonic() >= next_stats:
                next_stats += STATS_EVERY_S
                log.info("edge %s: %s", settings.edge_id, agent.stats_snapshot())
    finally:
        agent.stop()
        echo("stopped")
