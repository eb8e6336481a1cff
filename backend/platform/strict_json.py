"""Strict JSON for everything that comes in from outside (HTTP bodies today).

Python's ``json`` accepts what a bank must not: duplicate keys (the last one wins, so
``{"amount":"1.00","amount":"2.00"}`` is a bill for 2.00), ``NaN`` and ``Infinity``, ``1e999``
(read as infinity), integers of any size (which the database then refuses with a server error),
lone surrogates (``"\\ud800"``: no database or encoder takes them) and nesting as deep as the
stack allows. ``loads`` refuses each with its own error code (all 400 at the HTTP edge):

=====================  ==========================================================================
``malformed_json``     not JSON, or not UTF-8 text that decodes
``duplicate_json_key`` an object names a key twice
``json_too_deep``      arrays and objects nested more than ``MAX_DEPTH`` levels
``invalid_unicode``    a lone surrogate or a NUL character in a string or a key
``non_finite_number``  ``NaN``, ``Infinity``, ``-Infinity``, or a number that overflows to infinity
``number_out_of_range`` a number whose magnitude is 2**63 or more (an integer outside int64)
=====================  ==========================================================================
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from backend.platform.errors import ValidationFailed

MAX_DEPTH = 32
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def refuse(code: str, message: str, where: str = "json") -> ValidationFailed:
    return ValidationFailed(message, code=code, details={where: [message]})


def in_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def text_problem(text: str) -> str | None:
    """Why a decoded string cannot be stored (a lone surrogate, a NUL), or None."""
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (not Unicode text)"
    return None


def _check_text(text: str) -> None:
    problem = text_problem(text)
    if problem:
        raise refuse("invalid_unicode", f"a string {problem}")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise refuse("duplicate_json_key", f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def _parse_int(raw: str) -> int:
    if len(raw) > 20:  # also keeps int() away from 4,300-digit strings
        raise refuse("number_out_of_range", "an integer is outside the signed 64-bit range")
    value = int(raw)
    if not in_int64(value):
        raise refuse("number_out_of_range", "an integer is outside the signed 64-bit range")
    return value


def _parse_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise refuse("non_finite_number", f"number {raw[:40]} is too large (not finite)")
    if abs(value) > INT64_MAX:
        raise refuse("number_out_of_range", f"number {raw[:40]} is 2**63 or more in magnitude")
    return value


def _parse_constant(raw: str) -> Any:
    raise refuse("non_finite_number", f"{raw} is not a JSON number")


# Valid UTF-8 text holds no surrogate, and JSON refuses a raw control character in a string,
# so a lone surrogate or a NUL can only come from a \\u escape: strings are checked only then.
_RISKY_ESCAPE = re.compile(r"\\u(?:[dD][89abAB]|[dD][c-fC-F]|0000)")


def _walk(document: Any, check_text: bool) -> None:
    """Depth (and, if an escape could hide one, text) checks without recursion."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > MAX_DEPTH:
                raise refuse("json_too_deep", f"nested more than {MAX_DEPTH} levels")
            for key, value in node.items():
                if check_text:
                    _check_text(key)
                if check_text or isinstance(value, dict | list):
                    stack.append((value, depth + 1))
        elif isinstance(node, list):
            if depth > MAX_DEPTH:
                raise refuse("json_too_deep", f"nested more than {MAX_DEPTH} levels")
            stack.extend(
                (value, depth + 1) for value in node if check_text or isinstance(value, dict | list)
            )
        elif check_text and isinstance(node, str):
            _check_text(node)


def loads(data: bytes | str) -> Any:
    """Parse a JSON document strictly; raises ValidationFailed with one code per class."""
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise refuse("malformed_json", "the body is not UTF-8 text") from None
    try:
        document = json.loads(
            data,
            object_pairs_hook=_pairs,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except RecursionError:
        raise refuse("json_too_deep", f"nested more than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise refuse("malformed_json", f"not valid JSON: {exc}") from None
    containers = data.count("[") + data.count("{")  # an upper bound of the depth
    check_text = _RISKY_ESCAPE.search(data) is not None
    if containers > MAX_DEPTH or check_text:
        _walk(document, check_text)
    return document
