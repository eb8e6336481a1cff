"""Bad input is a 400 with the contract's error shape, never a 500, on every route.

Installed once for the whole app by ``install_strict_input`` (backend/roles/web.py), so a new
endpoint is covered without doing anything:

- every JSON body is parsed by ``backend.platform.strict_json`` before any view runs (duplicate
  keys, nesting, lone surrogates, NaN/Infinity, numbers beyond 64 bits: one error code each),
  and ``request.get_json()`` and the argument parser use the same strict parser;
- the URL (path and query string) must be UTF-8 without NUL characters (``invalid_unicode``);
- ``<int:…>`` in a route is ``Int64Converter``: ASCII digits only, and 2**63 or more is 400
  ``number_out_of_range`` (werkzeug's own converter reads any Unicode digit and any size);
- ``Blueprint`` (use it instead of flask_smorest's) parses arguments with ``StrictParser``: an
  integer query parameter is ASCII digits within 64 bits, and no loaded integer anywhere in the
  arguments (e.g. ``1e308`` read by an Integer field) is outside 64 bits.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

import flask_smorest
import marshmallow as ma
from flask import Flask, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from backend.platform import strict_json
from backend.platform.errors import ValidationFailed
from backend.platform.strict_json import INT64_MAX, in_int64, text_problem

INT_RE = re.compile(r"-?[0-9]{1,20}", re.ASCII)
_BODY_KEY = "_strict_json_body"


class BadInput(BadRequest):
    """A 400 raised where only an HTTPException may be raised (URL matching), carrying the
    contract's error code (miniapp_api/errors.py renders it)."""

    def __init__(self, error_code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.error_code = error_code
        self.details = details or {}


class Int64Converter(IntegerConverter):
    """``<int:…>``: unsigned ASCII digits; a value beyond signed 64 bits is 400, not a 500
    from the database."""

    regex = r"[0-9]+"

    def to_python(self, value: str) -> Any:
        if len(value) > 19 or int(value) > INT64_MAX:
            raise BadInput(
                "number_out_of_range",
                "a path number is outside the signed 64-bit range",
                {"path": [f"at most {INT64_MAX}"]},
            )
        return super().to_python(value)


def int64_param_schema(converter: Int64Converter) -> dict:
    return {"type": "integer", "format": "int64", "minimum": 0, "maximum": INT64_MAX}


class StrictJSONProvider(DefaultJSONProvider):
    """``request.get_json()`` (and anything else reading JSON through the app) is strict.
    Chinese text (names, messages) goes out as UTF-8, not \\u escapes."""

    ensure_ascii = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return strict_json.loads(s)


def _out_of_range(where: str) -> ValidationFailed:
    return ValidationFailed(
        f"{where} is outside the signed 64-bit range",
        code="number_out_of_range",
        details={where: [f"between {-(2**63)} and {INT64_MAX}"]},
    )


def _check_ints(data: Any, where: str = "") -> None:
    if isinstance(data, bool):
        return
    if isinstance(data, int):
        if not in_int64(data):
            raise _out_of_range(where or "value")
    elif isinstance(data, dict):
        for key, value in data.items():
            _check_ints(value, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list | tuple | set):
        for index, value in enumerate(data):
            _check_ints(value, f"{where}.{index}" if where else str(index))


class StrictParser(FlaskParser):
    # what the error handler answers (miniapp_api/errors.py), so the OpenAPI document says 400
    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req) -> Any:
        if not is_json_request(req):
            return webargs_core.missing
        if _BODY_KEY in g:
            return g.get(_BODY_KEY)
        return strict_json.loads(req.get_data(cache=True))

    def pre_load(self, location_data, *, schema: ma.Schema, req, location: str):
        if location in ("query", "querystring", "view_args", "path"):
            for name, field in schema.fields.items():
                if not isinstance(field, ma.fields.Integer) or field.dump_only:
                    continue
                raw = location_data.get(field.data_key or name)
                if not isinstance(raw, str):
                    continue
                if not INT_RE.fullmatch(raw):
                    raise ValidationFailed(
                        "request failed validation",
                        code="validation_error",
                        details={field.data_key or name: ["ASCII digits only, e.g. 42"]},
                    )
                if not in_int64(int(raw)):
                    raise _out_of_range(field.data_key or name)
        return location_data

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        data = super().parse(*args, **kwargs)
        _check_ints(data)
        return data


class Blueprint(flask_smorest.Blueprint):
    """flask_smorest's Blueprint with the strict argument parser; every API module uses it."""

    ARGUMENTS_PARSER = StrictParser()


def _check_url() -> None:
    """Werkzeug decodes a URL with errors='replace'; a URL that is not UTF-8 is refused instead
    (a lone surrogate cannot be UTF-8), and NUL never reaches the database."""
    path = request.environ.get("PATH_INFO", "")
    query = request.environ.get("QUERY_STRING", "")
    try:
        texts = [
            path.encode("latin-1").decode("utf-8"),
            unquote_to_bytes(query.replace("+", " ")).decode("utf-8"),
        ]
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise ValidationFailed(
            "the URL is not UTF-8 text",
            code="invalid_unicode",
            details={"url": ["percent-encoded UTF-8 only"]},
        ) from None
    for text in texts:
        problem = text_problem(text)
        if problem:
            raise ValidationFailed(
                f"the URL {problem}", code="invalid_unicode", details={"url": [problem]}
            )


BODY_LIMIT_ATTR = "max_body_bytes"


def _view_body_limit() -> int | None:
    """A view's own body limit (``max_body_bytes`` on its MethodView class or function), for
    the few endpoints whose documented batches need more than MAX_CONTENT_LENGTH."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is None:
        return None
    return getattr(getattr(view, "view_class", view), BODY_LIMIT_ATTR, None)


def _strict_before_request() -> None:
    _check_url()
    limit = _view_body_limit()
    if limit is not None:
        request.max_content_length = limit
    if is_json_request(request) and request.content_length != 0:
        body = request.get_data(cache=True)  # MAX_CONTENT_LENGTH applies: 413 when larger
        if body:
            g.setdefault(_BODY_KEY, strict_json.loads(body))


def install_strict_input(app: Flask) -> None:
    """Before any rule is added and before the request lifecycle's hooks (so a bad body is
    refused before an Idempotency-Key is reserved)."""
    app.json = StrictJSONProvider(app)
    app.url_map.converters["int"] = Int64Converter
    app.before_request(_strict_before_request)


def register_converters(api: flask_smorest.Api) -> None:
    api.register_converter(Int64Converter, int64_param_schema)
