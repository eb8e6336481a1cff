"""What a process logs (backend/platform/logs.py, backend/platform/jobs.py): no ANSI colours off
a terminal, libraries' per-run chatter at WARNING, a job's result at INFO only when it did
something."""

from __future__ import annotations

import io
import logging

import pytest
from werkzeug import serving

from backend.platform.jobs import did_something
from backend.platform.logs import QUIET_LOGGERS, colour_wanted, configure_logging


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging():
    style = serving._log_add_style
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield
    serving._log_add_style = style
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_colours_only_on_a_terminal_and_never_with_no_color(monkeypatch, restore_logging):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert not colour_wanted(io.StringIO()) and colour_wanted(_Tty())
    configure_logging(stream=io.StringIO())
    assert serving._log_add_style is False  # Werkzeug's request lines stay plain
    assert serving._ansi_style("POST /x", "bold") == "POST /x"
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted(_Tty())


def test_scheduler_chatter_is_at_warning_unless_verbose(restore_logging):
    configure_logging(stream=io.StringIO())
    executor = logging.getLogger("apscheduler.executors.default")
    assert not executor.isEnabledFor(logging.INFO)  # "Running job", "executed successfully"
    assert executor.isEnabledFor(logging.WARNING)  # a missed or failed run still shows
    assert not logging.getLogger("alembic.runtime.plugins").isEnabledFor(logging.INFO)


@pytest.mark.parametrize(
    ("result", "did"),
    [
        ({"expired": 0}, False),
        (None, False),
        (
            {"table": "job_runs", "deleted": 0, "batches": 1, "complete": True, "seconds": 1.1},
            False,
        ),
        ({"scheduled": {"created": 0}, "collected": {"paid": 0}}, False),
        ({"scheduled": {"created": 4}, "collected": {"paid": 0}}, True),
        ({"opened": 0, "audit_ids": [1, 2]}, True),
        ({"enterprise_id": 165, "source": "news", "signals": 1}, True),
    ],
)
def test_a_job_result_is_worth_a_line_only_when_it_did_something(result, did):
    assert did_something(result) is did
