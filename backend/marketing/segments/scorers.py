"""Model lists: a segment whose members are the clients a model scores highest.

A model definition is ``{"model": NAME, "top": k}`` or ``{"model": NAME, "min_score": s}``,
optionally ``"where": <rule>`` (score only the rule's members) and the model's own parameters.
``SCORERS`` names the models: ``propensity`` here (``{"target": "renewal"}``: calibrated
no-contact propensity, backend/marketing/segments/propensity.py); the uplift model adds
``uplift`` (``{"model_id": N}``). A scorer is ``Scorer(params, score)``: ``params`` maps each
parameter to a check (the value → an error message, or None when good), ``score(session,
definition, candidates, as_of)`` returns a ``Scored``. A model segment frozen by another part
(the uplift list, created with its members) is its members: nothing is scored again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from backend.marketing.segments import propensity
from backend.marketing.segments.rules import parse_rule
from backend.platform.errors import ValidationFailed

MAX_TOP = 10_000_000
ID_MAX = 2**63 - 1


@dataclass
class Scored:
    scores: dict[int, float]  # client id -> score, over the candidates
    version: str = ""
    tag: str | None = None  # model tag written for the members at freeze (None: none)
    info: dict = field(default_factory=dict)  # the model's figures, shown with the list


@dataclass(frozen=True)
class Scorer:
    params: dict[str, Callable[[Any], str | None]]
    score: Callable[[Session, dict, Sequence[int] | None, date], Scored]
    required: tuple[str, ...] = ()


def _target(value: Any) -> str | None:
    if isinstance(value, str) and value in propensity.TARGETS:
        return None
    return f"one of {', '.join(propensity.TARGETS)}"


def _score_propensity(
    session: Session, definition: dict, candidates: Sequence[int] | None, as_of: date
) -> Scored:
    target = definition["target"]
    scores, fitted = propensity.score(session, target, candidates, as_of)
    return Scored(
        scores=scores,
        version=fitted.version,
        tag=f"propensity_{target}",
        info={
            "model": "propensity",
            "target": target,
            "version": fitted.version,
            "source": fitted.source,
            "metrics": fitted.metrics,
        },
    )


def model_id(value: Any) -> str | None:
    """A check for a model's id parameter (the uplift scorer's ``model_id``)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ID_MAX:
        return f"an id from 1 to {ID_MAX}"
    return None


SCORERS: dict[str, Scorer] = {
    "propensity": Scorer(params={"target": _target}, score=_score_propensity, required=("target",)),
}


def parse_model(definition: dict) -> dict:
    """A model definition checked (``invalid_definition`` with details per key) and
    normalised (``where`` parsed)."""
    errors: dict[str, list[str]] = {}
    name = definition.get("model")
    scorer = SCORERS.get(name) if isinstance(name, str) else None
    if scorer is None:
        raise ValidationFailed(
            "the segment definition is not valid",
            code="invalid_definition",
            details={"definition.model": [f"one of {', '.join(SCORERS)}"]},
        )
    allowed = {"model", "top", "min_score", "where", *scorer.params}
    for key in sorted(set(definition) - allowed, key=str):
        errors.setdefault(f"definition.{key}", []).append("unknown key")
    for key in scorer.required:
        if key not in definition:
            errors.setdefault(f"definition.{key}", []).append("required")
    for key, check in scorer.params.items():
        if key in definition and (problem := check(definition[key])):
            errors.setdefault(f"definition.{key}", []).append(problem)
    has_top, has_min = "top" in definition, "min_score" in definition
    if has_top == has_min:
        errors.setdefault("definition.top", []).append("exactly one of top or min_score")
    if has_top:
        top = definition["top"]
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP:
            errors.setdefault("definition.top", []).append(f"a whole number, 1 to {MAX_TOP}")
    if has_min:
        cut = definition["min_score"]
        if (
            isinstance(cut, bool)
            or not isinstance(cut, int | float)
            or not math.isfinite(cut)
            or not -1.0 <= cut <= 1.0
        ):
            errors.setdefault("definition.min_score", []).append("a number from -1 to 1")
    where = None
    if "where" in definition:
        try:
            where = parse_rule(definition["where"])
        except ValidationFailed as exc:
            for key, messages in exc.details.items():
                path = "definition.where" + key.removeprefix("definition")
                errors.setdefault(path, []).extend(messages)
    if errors:
        raise ValidationFailed(
            "the segment definition is not valid", code="invalid_definition", details=errors
        )
    out = {k: v for k, v in definition.items() if k != "where"}
    if where is not None:
        out["where"] = where
    return out


def pick(scores: dict[int, float], definition: dict) -> dict[int, float]:
    """The members of a model list: the ``top`` k by score (ties by client id), or every
    client at or above ``min_score``."""
    if "top" in definition:
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[: definition["top"]]
        return dict(ranked)
    cut = float(definition["min_score"])
    return {cid: s for cid, s in scores.items() if s >= cut}
