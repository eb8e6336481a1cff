"""The one error of the wire contract: ``ProtocolError(code, message)``.

``code`` is stable snake_case, so callers can count and report errors (for instance in an
``edge.bad_payload`` event) without parsing text.
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """A topic or payload breaks the wire contract. ``code`` is stable snake_case."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
