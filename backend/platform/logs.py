"""Logging of every ``finedge`` process: one line per record, what matters at INFO.

- Libraries' chatter goes to WARNING (paho's to CRITICAL) unless ``--verbose``: APScheduler's
  "Adding job", "Running job …" and "Job … executed successfully" (one pair per job run, every
  15 s for the shortest job), Alembic's plugin set-up, matplotlib's font cache. The scheduler
  logs a job's result itself: at INFO when the job did something, at DEBUG otherwise
  (backend/platform/jobs.py).
- No ANSI colour codes where the log is not a terminal (a file, a pipe, `make demo > log`):
  Werkzeug colours its request lines unless told not to; ``NO_COLOR`` turns them off anywhere.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Logger -> the level it is kept at (unless verbose).
QUIET_LOGGERS = {
    "apscheduler": logging.WARNING,
    "alembic.runtime.plugins": logging.WARNING,
    "matplotlib": logging.WARNING,
    "PIL": logging.WARNING,
    # paho's own log (MqttClient hands it this logger): an ERROR every loop turn without a
    # socket (a broker not yet up, a client closing); MqttClient reports connection trouble
    # itself, once (edge.runner.quiet_paho_connect_noise did this for the edge and devices).
    "backend.platform.mqtt.paho": logging.CRITICAL,
}


def colour_wanted(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    stream = sys.stderr if stream is None else stream
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed
        return False


def configure_logging(*, verbose: bool = False, stream: TextIO | None = None) -> None:
    """The process's logging: root at INFO (DEBUG when verbose), the quiet loggers above, and
    Werkzeug's colours only on a terminal."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format=FORMAT, stream=stream
    )
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else level)
    try:
        from werkzeug import serving
    except ImportError:  # pragma: no cover (a dependency of every role)
        return
    serving._log_add_style = colour_wanted(stream)  # Werkzeug's own switch
