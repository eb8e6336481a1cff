"""Running one benchmark (``finedge bench NAME``) in a child process, within a time limit.

A benchmark is a module with ``run(options) -> list[row]`` (docs/CONTRACT.md §4). The CLI
runs it here rather than in its own process so that no benchmark can hang the command:

- the benchmark runs in a child process (``python -m backend.platform.benchmarks``) in a
  session of its own; its rows come back as JSON lines on the child's standard output, and
  anything else it writes (to either stream) is passed on as the command's standard error;
- the limit is ``--time-limit`` if given, else the module's ``TIME_LIMIT_S`` (a mapping with
  ``"quick"`` and ``"full"``, seconds) for the form run, else ``DEFAULT_LIMITS``. The benchmark
  receives it as its ``time_limit_s`` option (those that honour it end themselves with a
  TimeoutError, cleaning up); at the limit plus a grace (a tenth of it, at most
  ``GRACE_MAX_S``) the runner stops it: SIGTERM to the child, which unwinds (its ``finally``
  blocks stop the brokers and processes it started), then after as long again (2 s at least,
  ``STOP_WAIT_MAX_S`` at most) SIGKILL to every process of its tree still there, so no process
  is left behind (a SIGTERM that lands in a ``__del__`` is swallowed by Python: the benchmark
  then gets the SIGKILL, and a temporary directory of its may stay);
- a benchmark that fails or overruns ends with one error line (``Outcome.error``) and a
  non-zero exit code: ``EXIT_FAILED``, or ``EXIT_TIME_LIMIT`` (as timeout(1)).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_LIMITS = {"quick": 240.0, "full": 1800.0}
GRACE_MAX_S = 10.0
STOP_WAIT_MAX_S = 10.0
EXIT_FAILED = 1
EXIT_TIME_LIMIT = 124
_ERROR_KEY = "__benchmark_error__"  # a line of the child's stdout that is not a row


def time_limit(module: str, quick: bool, given: float | None = None) -> float:
    """The limit for ``module`` in its quick or full form: ``given``, else the module's
    ``TIME_LIMIT_S``, else the default."""
    if given is not None:
        limit = float(given)
    else:
        form = "quick" if quick else "full"
        declared: Mapping[str, float] = getattr(importlib.import_module(module), "TIME_LIMIT_S", {})
        limit = float(declared.get(form, DEFAULT_LIMITS[form]))
    if not limit > 0:
        raise ValueError(f"time limit must be positive, got {limit!r}")
    return limit


@dataclass
class Outcome:
    """What a run gave: its rows, and for a failed or stopped run the error line and code."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = 0
    error: str | None = None
    seconds: float = 0.0


def run_benchmark(
    name: str,
    module: str,
    options: Mapping[str, Any],
    limit_s: float,
    *,
    on_row: Callable[[dict[str, Any]], None] = lambda row: None,
    on_log: Callable[[str], None] = lambda line: None,
    verbose: bool = False,
) -> Outcome:
    """Run ``module.run(options)`` in a child process, stopped at ``limit_s`` plus the grace."""
    options = {**options, "time_limit_s": limit_s}
    args = [sys.executable, "-m", __name__, module, json.dumps(options)]
    if verbose:
        args.append("--verbose")
    outcome = Outcome()
    started = time.monotonic()
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: stopped as one, not by our Ctrl-C
    )

    def read_rows() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                row = json.loads(line)
            except ValueError:
                on_log(line.rstrip("\n"))
                continue
            if isinstance(row, dict) and _ERROR_KEY in row:
                outcome.error = f"benchmark {name!r} failed: {row[_ERROR_KEY]}"
            else:
                outcome.rows.append(row)
                on_row(row)

    def relay_log() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            on_log(line.rstrip("\n"))

    readers = [
        threading.Thread(target=target, name=f"bench-{name}-{what}", daemon=True)
        for target, what in ((read_rows, "rows"), (relay_log, "log"))
    ]
    for reader in readers:
        reader.start()
    grace = min(GRACE_MAX_S, limit_s / 10)
    stop_wait = min(STOP_WAIT_MAX_S, max(2.0, grace))
    try:
        code = proc.wait(limit_s + grace)
    except subprocess.TimeoutExpired:
        stop_tree(proc, stop_wait)
        code = None
    except BaseException:  # Ctrl-C: the child is in its own session, stop it ourselves
        stop_tree(proc, stop_wait)
        raise
    finally:
        # whatever it left in its process group (a broker it forgot to stop) goes with it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for reader in readers:
            reader.join(stop_wait)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    outcome.seconds = time.monotonic() - started
    if code is None:
        outcome.exit_code = EXIT_TIME_LIMIT
        outcome.error = (
            f"benchmark {name!r} exceeded its time limit of {limit_s:g} s and was stopped "
            f"after {outcome.seconds:.1f} s ({len(outcome.rows)} rows)"
        )
    elif code != 0:
        outcome.exit_code = EXIT_FAILED
        outcome.error = outcome.error or f"benchmark {name!r} failed (exit code {code})"
    elif outcome.error:
        outcome.exit_code = EXIT_FAILED
    return outcome


# --------------------------------------------------------------------------- process tree


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (to tell a process from a later one with its pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _descendants(root: int) -> dict[int, str]:
    """Every process below ``root`` (pid -> start time), from /proc; empty where there is none."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, str] = {}
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        started = _start_time(pid)
        if started is not None and pid not in found:
            found[pid] = started
            todo.extend(children.get(pid, ()))
    return found


def stop_tree(proc: subprocess.Popen, wait_s: float) -> None:
    """SIGTERM to ``proc`` (which unwinds and stops what it started), then after ``wait_s`` at
    most SIGKILL to it, its process group and every process that was below it and is still
    there."""
    tree = _descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        tree.update(_descendants(proc.pid))
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid, started in tree.items():
        if _start_time(pid) == started:  # still the same process
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- the child


class _Stopped(BaseException):
    """SIGTERM from the runner: unwind (``finally`` blocks run), then exit."""


def _on_sigterm(_signum, _frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the cleanups may take a while
    raise _Stopped


def _child(module: str, options: dict[str, Any], verbose: bool) -> int:
    rows = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever else writes to stdout (a print, a child process) goes to stderr
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        found = importlib.import_module(module).run(options)
        for row in found:
            rows.write(json.dumps(row) + "\n")
        return 0
    except _Stopped:
        print(f"{module}: stopped by the time limit", file=sys.stderr)
        return EXIT_TIME_LIMIT
    except Exception as exc:
        if verbose:
            traceback.print_exc()
        rows.write(json.dumps({_ERROR_KEY: f"{type(exc).__name__}: {exc}"}) + "\n")
        return EXIT_FAILED
    finally:
        rows.close()


if __name__ == "__main__":
    import logging

    logging.basicConfig(
        level=logging.DEBUG if "--verbose" in sys.argv else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sys.exit(_child(sys.argv[1], json.loads(sys.argv[2]), "--verbose" in sys.argv[3:]))
