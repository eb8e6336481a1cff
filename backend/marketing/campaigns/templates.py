"""SMS templates: ``{name}``-style placeholders, checked when a campaign is written and filled
for each client when the message is sent. Only the placeholders below, no format specs, no
conversions, no attribute or index access (``{name.__class__}`` is refused)."""

from __future__ import annotations

from string import Formatter

PLACEHOLDERS = ("name", "product", "ends_on", "outlet")
MAX_CHARS = 300


def problems(template: str) -> list[str]:
    """What is wrong with a template (empty: usable)."""
    out: list[str] = []
    if len(template) > MAX_CHARS:
        out.append(f"at most {MAX_CHARS} characters")
    try:
        parts = list(Formatter().parse(template))
    except ValueError as exc:
        return [*out, f"unbalanced braces: {exc}"]
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            out.append(f"unknown placeholder {{{field}}}; use {', '.join(PLACEHOLDERS)}")
        elif spec or conversion:
            out.append(f"no format spec or conversion in {{{field}}}")
    return out


def render(template: str, values: dict[str, str]) -> str:
    """The template filled (a checked template only)."""
    return template.format_map({k: str(values.get(k, "")) for k in PLACEHOLDERS})
