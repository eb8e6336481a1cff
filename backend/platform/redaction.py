"""Tokens never reach a log.

A JWT in a log line is a session anyone who reads the log can take over. Clients send their
token in the ``Authorization`` header or, for Socket.IO, in the connect packet's ``auth``
payload, neither of which an access log prints; but a client may still put one in a URL
(``GET /socket.io/?token=…``) and an error log may print a request's environ. So every log
record of the process is scrubbed when it is made (``install_log_redaction``: a log record
factory, whichever logger or handler the record goes to: Werkzeug's, gevent's access and
error logs, gunicorn's, the app's): JWT-shaped strings, ``Bearer`` credentials and the values
of token-like query parameters become ``[redacted]``, in the message and in a traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
_QUERY = re.compile(
    r"(?i)([?&;](?:token|access_token|id_token|refresh_token|jwt|auth|secret|password)=)"
    r"[^&;\s\"'#]*"
)
_HINTS = ("eyJ", "earer", "token=", "TOKEN=", "jwt=", "auth=", "secret=", "password=")


def redact(text: str) -> str:
    """``text`` with every token in it replaced by ``[redacted]``."""
    if not any(hint in text for hint in _HINTS):
        return text  # the common case: nothing token-like, no regex run
    text = _QUERY.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _JWT.sub(REDACTED, text)


_INSTALLED = "finedge_redacting"
_FORMATTER = logging.Formatter()


def install_log_redaction() -> None:
    """Scrub every log record this process makes from now on (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, _INSTALLED, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: left for the handler to report
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:  # a traceback's text, formatted once
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    setattr(factory, _INSTALLED, True)
    logging.setLogRecordFactory(factory)
