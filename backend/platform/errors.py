"""Domain errors. Services raise these; the HTTP edge maps them to the contract's error shape
in one handler (see miniapp_api/errors.py), CLIs print one line and exit non-zero."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose. ``kind`` picks the HTTP status."""

    kind = "business_rule"  # -> 422
    code = "business_rule_violated"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class ValidationFailed(DomainError):
    kind = "validation"  # -> 400
    code = "validation_error"


class NotAuthenticated(DomainError):
    kind = "unauthenticated"  # -> 401
    code = "unauthenticated"


class PermissionDenied(DomainError):
    kind = "forbidden"  # -> 403
    code = "forbidden"


class NotFound(DomainError):
    """Also raised for objects the caller may not see, so their existence does not leak."""

    kind = "not_found"  # -> 404
    code = "not_found"


class Conflict(DomainError):
    kind = "conflict"  # -> 409
    code = "conflict"


class BusinessRuleViolation(DomainError):
    kind = "business_rule"  # -> 422


class RateLimited(DomainError):
    kind = "rate_limited"  # -> 429
    code = "rate_limited"


HTTP_STATUS = {
    "validation": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "business_rule": 422,
    "rate_limited": 429,
}
