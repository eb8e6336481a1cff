"""A throwaway benchmark for the tests of ``finedge bench``'s runner
(tests/integration/test_benchmarks.py): what it does comes from ``FINEDGE_TEST_BENCH``:

- ``hang``: starts a process of its own (in a session of its own, as a broker might be), writes
  its pid to ``FINEDGE_TEST_BENCH_PIDFILE``, then ignores SIGTERM and sleeps for ever: the
  runner must stop it at its time limit (``TIME_LIMIT_S``) and leave no process behind;
- ``fail``: raises, as a benchmark whose setup breaks;
- otherwise: one row in the contract's format, after a line of its own on stdout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TIME_LIMIT_S = {"quick": 1.0, "full": 1.0}


def run(options: dict[str, Any]) -> list[dict[str, Any]]:
    mode = os.environ.get("FINEDGE_TEST_BENCH", "")
    if mode == "hang":
        helper = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
        )
        Path(os.environ["FINEDGE_TEST_BENCH_PIDFILE"]).write_text(str(helper.pid))
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)
    if mode == "fail":
        raise RuntimeError("the bench's broker would not start")
    print("a note the benchmark prints on stdout")
    return [
        {
            "bench": "stuck",
            "metric": "things_per_s",
            "value": 2.0,
            "unit": "1/s",
            "baseline": "one thing per second",
            "baseline_value": 1.0,
            "ratio": 2.0,
            "params": {"quick": options["quick"], "time_limit_s": options["time_limit_s"]},
        }
    ]
