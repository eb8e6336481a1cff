"""Documenting an operation's error responses in the OpenAPI spec, each in the contract's
error shape (``miniapp_api.errors.ErrorSchema``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from miniapp_api.errors import ErrorSchema
from miniapp_api.strict_input import Blueprint

STANDARD = {
    400: "Bad input (details name the fields); nothing changed",
    401: "No valid token (expired, forged, or revoked: the user was disabled or changed)",
    403: "The caller's role may not do this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state, or an Idempotency-Key reused with another body",
}


def errors(
    blp: Blueprint, *statuses: int, texts: Mapping[int, str] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@errors(blp, 400, 401, 409, texts={409: "user_exists ..."})``: each status with the
    standard description, or the operation's own from ``texts``."""
    described = {**STANDARD, **(texts or {})}

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        for status in sorted(set(statuses)):
            view = blp.alt_response(status, schema=ErrorSchema, description=described[status])(view)
        return view

    return decorate
