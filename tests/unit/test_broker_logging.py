"""amqtt's connection noise: a broadcast to a client that has gone (at shutdown or not) is one
warning line, not a traceback; every other amqtt record passes unchanged."""

from __future__ import annotations

import logging
import sys

from backend.platform.mqtt.broker import _quiet_loggers


def _record(msg: str, exc: BaseException | None) -> logging.LogRecord:
    exc_info = None
    if exc is not None:
        try:
            raise exc
        except type(exc):
            exc_info = sys.exc_info()
    return logging.LogRecord("amqtt.broker", logging.ERROR, __file__, 1, msg, None, exc_info)


def test_a_broadcast_failing_on_a_gone_client_is_one_warning_line_without_traceback():
    from amqtt.errors import ProtocolHandlerError

    _quiet_loggers()
    logger = logging.getLogger("amqtt.broker")
    for msg, exc, expected in [
        (
            "Broadcast task failed during shutdown: <Task x>",
            BrokenPipeError("gone"),
            "Broadcast task failed during shutdown: BrokenPipeError: gone",
        ),
        (
            "Task failed during broadcast shutdown: <Task finished exception=...>",
            ProtocolHandlerError("Packet handling was cancelled"),
            "Task failed during broadcast shutdown: ProtocolHandlerError: "
            "Packet handling was cancelled",
        ),
    ]:
        record = _record(msg, exc)
        assert all(f.filter(record) for f in logger.filters)
        assert record.levelname == "WARNING" and record.exc_info is None
        assert record.getMessage() == expected
        assert "Traceback" not in logging.Formatter().format(record)


def test_other_amqtt_errors_keep_their_traceback():
    _quiet_loggers()
    _quiet_loggers()  # idempotent: one filter
    logger = logging.getLogger("amqtt.broker")
    assert len([f for f in logger.filters if type(f).__name__ == "_ConnectionErrorFilter"]) == 1
    record = _record("Unhandled error in client loop", ValueError("bad"))
    assert all(f.filter(record) for f in logger.filters)
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert "Traceback" in logging.Formatter().format(record)


def test_a_client_connection_error_left_in_a_task_is_one_warning_line(caplog):
    import asyncio

    from amqtt.errors import ProtocolHandlerError

    from backend.platform.mqtt.broker import _loop_exception_handler

    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.WARNING):
            _loop_exception_handler(
                loop,
                {
                    "message": "Task exception was never retrieved",
                    "exception": ProtocolHandlerError("Packet handling was cancelled"),
                },
            )
            _loop_exception_handler(
                loop, {"message": "Task exception was never retrieved", "exception": KeyError("x")}
            )
    finally:
        loop.close()
    ours = [r for r in caplog.records if r.name == "backend.platform.mqtt.broker"]
    assert [r.getMessage() for r in ours] == [
        "embedded broker: a client connection ended: ProtocolHandlerError: "
        "Packet handling was cancelled"
    ]
    assert ours[0].exc_info is None
    other = [r for r in caplog.records if r.name == "asyncio"]
    assert len(other) == 1 and other[0].exc_info is not None  # anything else: asyncio's default
