"""One place that turns every error into the contract's shape:

    {"error": {"code": "snake_case", "message": "...", "details": {...}}}

Domain errors map by kind; Flask/werkzeug HTTP errors (404, 405, 413, ...) and webargs
validation errors are rewritten; anything unexpected is logged with the request id and answered
with a bare 500 (never a stack trace)."""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import Flask, g, jsonify
from flask_smorest import Api as SmorestApi
from werkzeug.exceptions import HTTPException

from backend.platform.errors import HTTP_STATUS, DomainError

log = logging.getLogger("finedge.http")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "business_rule_violated",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ErrorBody(ma.Schema):
    code = ma.fields.String(metadata={"description": "snake_case error code"})
    message = ma.fields.String()
    details = ma.fields.Dict(metadata={"description": "per-field messages or extra facts"})


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBody)


def error_response(status: int, code: str, message: str, details: dict | None = None, headers=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten_webargs(messages: dict) -> dict:
    """webargs nests messages by location ({"json": {"field": [...]}}); callers want fields."""
    details: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            details.update(fields)
        else:
            details[location] = fields
    return details


class Api(SmorestApi):
    ERROR_SCHEMA = ErrorSchema
    # No catch-all ``default`` response: each operation lists the statuses it answers
    # (miniapp_api.responses.complete_spec), so status-code conformance means something.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        status = error.code or 500
        if isinstance(getattr(error, "error_code", None), str):  # strict_input.BadInput
            return error_response(status, error.error_code, error.description, error.details)
        if "messages" in data:  # webargs: request body or query failed its schema
            details = _flatten_webargs(data["messages"])
            json_broken = details.get("json") == ["Invalid JSON body."]
            return error_response(
                400,
                "malformed_json" if json_broken else "validation_error",
                "request body is not valid JSON" if json_broken else "request failed validation",
                details,
            )
        if status >= 500:
            return error_response(
                status, HTTP_CODES.get(status, "internal_error"), "internal error"
            )
        message = data.get("message") or error.description or error.name
        return error_response(
            status, HTTP_CODES.get(status, f"http_{status}"), message, data.get("errors")
        )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        status = HTTP_STATUS.get(error.kind, 422)
        return error_response(status, error.code, error.message, error.details)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):  # handled by Api; kept for non-API routes
            return error_response(
                error.code or 500, HTTP_CODES.get(error.code, "error"), error.description
            )
        log.error("unhandled error in request %s", getattr(g, "request_id", "-"), exc_info=error)
        return error_response(
            500,
            "internal_error",
            "internal error; quote the request id to support",
            {"request_id": getattr(g, "request_id", None)},
        )
