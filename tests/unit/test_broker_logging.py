"""amqtt's shutdown noise: a broadcast to a client that has gone is one warning line, not a
traceback; every other amqtt record passes unchanged."""

from __future__ import annotations

import logging
import sys

from backend.platform.broker import _quiet_loggers


def _record(msg: str, exc: BaseException | None) -> logging.LogRecord:
    exc_info = None
    if exc is not None:
        try:
            raise exc
        except type(exc):
            exc_info = sys.exc_info()
    return logging.LogRecord("amqtt.broker", logging.ERROR, __file__, 1, msg, None, exc_info)


def test_a_broadcast_failing_at_shutdown_is_one_warning_line_without_traceback():
    _quiet_loggers()
    logger = logging.getLogger("amqtt.broker")
    record = _record("Broadcast task failed during shutdown: <Task x>", BrokenPipeError("gone"))
    assert all(f.filter(record) for f in logger.filters)
    assert record.levelname == "WARNING" and record.exc_info is None
    assert record.getMessage() == "broadcast dropped at shutdown: BrokenPipeError: gone"
    assert "Traceback" not in logging.Formatter().format(record)


def test_other_amqtt_errors_keep_their_traceback():
    _quiet_loggers()
    _quiet_loggers()  # idempotent: one filter
    logger = logging.getLogger("amqtt.broker")
    assert len([f for f in logger.filters if type(f).__name__ == "_ShutdownBroadcastFilter"]) == 1
    record = _record("Unhandled error in client loop", ValueError("bad"))
    assert all(f.filter(record) for f in logger.filters)
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert "Traceback" in logging.Formatter().format(record)
