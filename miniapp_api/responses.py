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


# --- what every operation documents, derived once from the request lifecycle ------------------
#
# miniapp_api.common applies the same rules to every operation: authentication on every path
# but the public ones, Idempotency-Key on every state-changing method, validation (400) of every
# argument, 404 for a path naming an object that is absent or not visible. So their
# error responses are documented here, once, after the blueprints are registered, rather than
# by hand on 156 operations: ``complete_spec(api, public_paths)``. An operation's own texts
# (``@errors``, ``alt_response``) win over these.

ERROR_RESPONSES = {
    400: (
        "BadRequest",
        "Bad input: malformed JSON, a field, query argument or cursor that fails validation "
        "(``details`` name the fields); nothing changed",
    ),
    401: ("Unauthenticated", STANDARD[401]),
    403: ("Forbidden", STANDARD[403]),
    404: ("NotFound", STANDARD[404]),
    409: (
        "Conflict",
        "Conflicts with the current state or a concurrent change, or the Idempotency-Key was "
        "reused with another body (``idempotency_key_reused``), is still being processed "
        "(``idempotency_in_progress``) or is not 1 to 200 characters",
    ),
    413: ("PayloadTooLarge", "The body is over 1 MiB"),
    422: (
        "BusinessRule",
        "Valid input that a business rule refuses (the code names the rule); nothing changed",
    ),
    429: ("RateLimited", "Too many requests; ``Retry-After`` says how many seconds to wait"),
}
STATE_CHANGING = ("post", "put", "patch", "delete")
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "required": False,
    "description": "Any string of 1 to 200 characters, unique per change the caller means. "
    "The same key with the same method, path and body replays the first response (with "
    "``Idempotent-Replayed: true``); with another body it is 409 ``idempotency_key_reused``. "
    "Keys are scoped per user and live 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
# flask-smorest documents a webargs failure as 422 "Unprocessable Entity"; the app answers 400.
_WEBARGS_422 = "#/components/responses/UNPROCESSABLE_ENTITY"


def _ref(status: int) -> dict:
    return {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}


def _statuses(method: str, operation: dict, shared: list[dict], public: bool) -> set[int]:
    params = [p for p in [*shared, *operation.get("parameters", [])] if "in" in p]
    query = {p["name"] for p in params if p["in"] == "query"}
    in_path = [p for p in params if p["in"] == "path"]
    body = "requestBody" in operation
    statuses = set()
    # webargs validation of a body or query, a path segment checked by the view (a VIN, a code)
    # or out of range (an id of 2^63 or more)
    if body or query or in_path:
        statuses.add(400)
    if not public:
        statuses |= {401, 403}
    # an object named in the path, the body or a filter that is absent or not visible
    if in_path or body or query - {"limit", "cursor"}:
        statuses.add(404)
    if method in STATE_CHANGING:
        statuses |= {409, 422}
    if body:
        statuses.add(413)
    return statuses


def _describe(operation: dict) -> None:
    """The docstring's first paragraph is flask-smorest's summary; where the docstring has no
    second paragraph, that paragraph becomes the description and its first sentence the
    summary, so that both are there."""
    summary = " ".join(operation.get("summary", "").split())
    if not operation.get("description") and summary:
        operation["description"] = summary
    head, dot, _ = summary.partition(". ")
    operation["summary"] = (head + dot).rstrip(". ") if dot else summary.rstrip(".")


def complete_spec(api, public_paths: set[str]) -> None:
    """Document, on every operation of ``api``'s spec, the error responses and the
    Idempotency-Key header the request lifecycle gives it; no ``default`` response (each status
    an operation answers is listed)."""
    spec = api.spec
    responses = spec.components.responses
    for status, (name, description) in ERROR_RESPONSES.items():
        if name not in responses:
            response = {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            if status == 429:
                response["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}
                }
            spec.components.response(name, response)
    spec.components.parameter("IdempotencyKey", "header", IDEMPOTENCY_KEY)
    for path, item in spec._paths.items():
        for method, operation in item.items():
            if method not in (*STATE_CHANGING, "get"):
                continue
            answers = operation.setdefault("responses", {})
            answers.pop("default", None)
            if answers.get("422") == {"$ref": _WEBARGS_422}:
                del answers["422"]
            shared = item.get("parameters", [])
            for status in sorted(_statuses(method, operation, shared, path in public_paths)):
                answers.setdefault(str(status), _ref(status))
            if method in STATE_CHANGING:
                params = operation.setdefault("parameters", [])
                params.append({"$ref": "#/components/parameters/IdempotencyKey"})
            if path in public_paths:
                operation["security"] = []  # no token needed
            operation["responses"] = dict(sorted(answers.items()))
            _describe(operation)
    responses.pop("UNPROCESSABLE_ENTITY", None)
