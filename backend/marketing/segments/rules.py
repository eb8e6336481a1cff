"""A rule segment's definition: validated strictly, then compiled twice, to SQL over
``mkt_clients`` (with EXISTS on tags and events) for the database, and to a boolean mask over
a client frame for a million clients in memory. Both read the same tree the same way; a test
holds them to the same members on the same data, on SQLite and PostgreSQL.

The tree (JSON)::

    {"all": [node, ...]}   every node holds        {"any": [node, ...]}   at least one holds
    {"not": node}          the node does not hold
    {"field": F, "op": OP, "value": V}              a column of the client
    {"tag": "maturing_soon"}                        the client carries the tag (rule or model)
    {"event": "large_in", "within_days": 30}        such an event in the last N days

Fields (``FIELDS``): ``tier`` (mass|affluent|wealth|private), ``aum`` (a decimal string of
CNY), ``age`` (whole years: the year of ``as_of`` minus the birth year), ``outlet`` (a branch
code), ``risk_level`` (1..5), ``gender`` (F|M), ``digital_active`` and ``dormant`` (booleans).
Ops: ``in`` (a list), ``==``, ``>=``, ``<=``, ``between`` (``[low, high]``, both included), as
each field allows. At most 8 levels deep and 100 leaves; a bad node is refused with the path
that names it (``all[2].value``), never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select, true

from backend.marketing.models import EVENT_KINDS, Client, ClientTag, MarketingEvent
from backend.marketing.synth import TIERS
from backend.platform.errors import ValidationFailed
from backend.platform.money import MAX_AMOUNT, MONEY_RE

MAX_DEPTH = 8
MAX_LEAVES = 100
MAX_LIST = 50
MAX_WITHIN_DAYS = 3650
TAG_RE = re.compile(r"[a-z0-9_:.\-]{1,40}", re.ASCII)
OUTLET_RE = re.compile(r"[A-Za-z0-9_\-]{1,20}", re.ASCII)
COMPARE = ("==", ">=", "<=", "between", "in")


@dataclass(frozen=True)
class FieldSpec:
    kind: str  # enum | int | money | bool | code
    ops: tuple[str, ...]
    choices: tuple[str, ...] = ()
    low: int = 0
    high: int = 0


FIELDS: dict[str, FieldSpec] = {
    "tier": FieldSpec("enum", ("in", "=="), choices=TIERS),
    "gender": FieldSpec("enum", ("in", "=="), choices=("F", "M")),
    "outlet": FieldSpec("code", ("in", "==")),
    "aum": FieldSpec("money", (">=", "<=", "between", "==")),
    "age": FieldSpec("int", COMPARE, low=0, high=150),
    "risk_level": FieldSpec("int", COMPARE, low=1, high=5),
    "digital_active": FieldSpec("bool", ("==",)),
    "dormant": FieldSpec("bool", ("==",)),
}
OPS = ("in", "==", ">=", "<=", "between")


class _Errors:
    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {}
        self.leaves = 0

    def add(self, path: str, message: str) -> None:
        if len(self.items) < 50:  # enough to fix a definition; never an unbounded answer
            self.items.setdefault(path or "definition", []).append(message)


def _scalar(spec: FieldSpec, value: Any, path: str, errors: _Errors) -> Any:
    """One value of a field, checked and normalised (AUM to Decimal); None when refused."""
    if spec.kind == "bool":
        if not isinstance(value, bool):
            errors.add(path, "true or false")
            return None
        return value
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            errors.add(path, "a whole number")
            return None
        if not spec.low <= value <= spec.high:
            errors.add(path, f"between {spec.low} and {spec.high}")
            return None
        return value
    if spec.kind == "money":
        if not isinstance(value, str) or not MONEY_RE.fullmatch(value) or value.startswith("-"):
            errors.add(path, "a decimal string of CNY such as '600000.00' (at most two places)")
            return None
        amount = Decimal(value)
        if amount > MAX_AMOUNT:
            errors.add(path, f"at most {MAX_AMOUNT}")
            return None
        return amount.quantize(Decimal("0.01"))
    if not isinstance(value, str):
        errors.add(path, "a string")
        return None
    if spec.kind == "enum" and value not in spec.choices:
        errors.add(path, f"one of {', '.join(spec.choices)}")
        return None
    if spec.kind == "code" and not OUTLET_RE.fullmatch(value):
        errors.add(path, "a branch code (letters, digits, '-', '_'; at most 20)")
        return None
    return value


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _leaf_field(node: dict, path: str, errors: _Errors) -> dict | None:
    extra = set(node) - {"field", "op", "value"}
    if extra:
        errors.add(path, f"unknown keys: {', '.join(sorted(map(str, extra)))}")
        return None
    name, op = node.get("field"), node.get("op")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        errors.add(_at(path, "field"), f"one of {', '.join(FIELDS)}")
        return None
    if not isinstance(op, str) or op not in spec.ops:
        errors.add(_at(path, "op"), f"for {name}: one of {', '.join(spec.ops)}")
        return None
    if "value" not in node:
        errors.add(_at(path, "value"), "required")
        return None
    value = node["value"]
    vpath = _at(path, "value")
    if op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
            errors.add(vpath, f"a list of 1 to {MAX_LIST} values")
            return None
        items = [_scalar(spec, v, f"{vpath}[{i}]", errors) for i, v in enumerate(value)]
        if any(v is None for v in items):
            return None
        return {"field": name, "op": op, "value": items}
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            errors.add(vpath, "[low, high]")
            return None
        low = _scalar(spec, value[0], f"{vpath}[0]", errors)
        high = _scalar(spec, value[1], f"{vpath}[1]", errors)
        if low is None or high is None:
            return None
        if low > high:
            errors.add(vpath, "low must not exceed high")
            return None
        return {"field": name, "op": op, "value": [low, high]}
    scalar = _scalar(spec, value, vpath, errors)
    if scalar is None:
        return None
    return {"field": name, "op": op, "value": scalar}


def _node(node: Any, path: str, depth: int, errors: _Errors) -> dict | None:
    if depth > MAX_DEPTH:
        errors.add(path, f"nested deeper than {MAX_DEPTH} levels")
        return None
    if not isinstance(node, dict) or not node:
        errors.add(path, "an object: all, any, not, field, tag or event")
        return None
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        if len(node) != 1:
            errors.add(path, f"'{key}' stands alone in its object")
            return None
        children = node[key]
        if not isinstance(children, list) or not children:
            errors.add(f"{path}.{key}" if path else key, "a non-empty list")
            return None
        out = []
        for i, child in enumerate(children):
            if errors.leaves > MAX_LEAVES:
                return None
            prefix = f"{path}.{key}" if path else key
            out.append(_node(child, f"{prefix}[{i}]", depth + 1, errors))
        return None if any(c is None for c in out) else {key: out}
    if "not" in node:
        if len(node) != 1:
            errors.add(path, "'not' stands alone in its object")
            return None
        inner = _node(node["not"], f"{path}.not" if path else "not", depth + 1, errors)
        return None if inner is None else {"not": inner}
    errors.leaves += 1
    if errors.leaves > MAX_LEAVES:
        errors.add("definition", f"more than {MAX_LEAVES} leaves")
        return None
    if "field" in node:
        return _leaf_field(node, path, errors)
    if "tag" in node:
        if set(node) != {"tag"}:
            errors.add(path or "definition", 'a tag leaf is {"tag": name} alone')
            return None
        tag = node["tag"]
        if not isinstance(tag, str) or not TAG_RE.fullmatch(tag):
            errors.add(f"{path}.tag" if path else "tag", "a tag name: a-z, 0-9, _ : . - (≤ 40)")
            return None
        return {"tag": tag}
    if "event" in node:
        if set(node) != {"event", "within_days"}:
            errors.add(path or "definition", 'an event leaf is {"event": kind, "within_days": N}')
            return None
        kind, days = node["event"], node["within_days"]
        ok = True
        if not isinstance(kind, str) or kind not in EVENT_KINDS:
            errors.add(f"{path}.event" if path else "event", f"one of {', '.join(EVENT_KINDS)}")
            ok = False
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_WITHIN_DAYS:
            errors.add(
                f"{path}.within_days" if path else "within_days",
                f"a whole number of days, 1 to {MAX_WITHIN_DAYS}",
            )
            ok = False
        return {"event": kind, "within_days": days} if ok else None
    errors.add(path or "definition", "an object: all, any, not, field, tag or event")
    return None


def parse_rule(definition: Any) -> dict:
    """The definition checked and normalised (AUM values as Decimal), or ValidationFailed
    ``invalid_definition`` with details per path."""
    errors = _Errors()
    try:
        tree = _node(definition, "", 1, errors)
    except RecursionError:  # a document nested past Python's stack: refused, never a crash
        tree = None
        errors.add("definition", f"nested deeper than {MAX_DEPTH} levels")
    if tree is None or errors.items:
        if not errors.items:
            errors.add("definition", "invalid")
        raise ValidationFailed(
            "the segment definition is not valid",
            code="invalid_definition",
            details={
                f"definition.{k}" if k != "definition" else k: v for k, v in errors.items.items()
            },
        )
    return tree


def to_json(tree: Any) -> Any:
    """A parsed tree back to JSON (AUM as decimal strings): what is stored."""
    if isinstance(tree, dict):
        return {k: to_json(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [to_json(v) for v in tree]
    if isinstance(tree, Decimal):
        return f"{tree:.2f}"
    return tree


# --------------------------------------------------------------------------- SQL


def _since(as_of: date, days: int) -> datetime:
    """The start of the window of ``within_days`` ending with ``as_of`` (whole UTC days)."""
    return datetime.combine(as_of - timedelta(days=days - 1), time(0), UTC)


def _sql_field(leaf: dict, as_of: date) -> ColumnElement[bool]:
    name, op, value = leaf["field"], leaf["op"], leaf["value"]
    if name == "age":
        # age = year(as_of) - birth_year: compare the birth year the other way round
        col = Client.birth_year
        flip = {"==": "==", ">=": "<=", "<=": ">=", "between": "between", "in": "in"}[op]
        conv = as_of.year
        if op == "in":
            return col.in_([conv - v for v in value])
        if op == "between":
            return col.between(conv - value[1], conv - value[0])
        value, op = conv - value, flip
    else:
        col = getattr(Client, name)
    if op == "in":
        return col.in_(value)
    if op == "between":
        return col.between(value[0], value[1])
    if op == ">=":
        return col >= value
    if op == "<=":
        return col <= value
    if name in ("digital_active", "dormant"):
        return col.is_(true()) if value else col.is_(false())
    return col == value


def to_sql(tree: dict, as_of: date) -> ColumnElement[bool]:
    """A WHERE clause over ``Client`` (``mkt_clients``) for a parsed tree."""
    if "all" in tree:
        return and_(true(), *(to_sql(c, as_of) for c in tree["all"]))
    if "any" in tree:
        return or_(false(), *(to_sql(c, as_of) for c in tree["any"]))
    if "not" in tree:
        return not_(to_sql(tree["not"], as_of))
    if "tag" in tree:
        return exists(
            select(ClientTag.id).where(
                ClientTag.client_id == Client.id, ClientTag.tag == tree["tag"]
            )
        )
    if "event" in tree:
        return exists(
            select(MarketingEvent.id).where(
                MarketingEvent.client_id == Client.id,
                MarketingEvent.kind == tree["event"],
                MarketingEvent.occurred_at >= _since(as_of, tree["within_days"]),
            )
        )
    return _sql_field(tree, as_of)


# --------------------------------------------------------------------------- pandas


@dataclass
class Population:
    """Clients in memory for the mask: ``frame`` indexed by client id (or row position) with
    the columns of ``FIELDS``; ``tags``: (client, tag) rows; ``events``: (client, kind,
    occurred_at) rows, ``occurred_at`` tz-aware UTC or naive UTC datetimes."""

    frame: pd.DataFrame
    tags: pd.DataFrame | None = None
    events: pd.DataFrame | None = None


def _mask_field(leaf: dict, frame: pd.DataFrame) -> np.ndarray:
    name, op, value = leaf["field"], leaf["op"], leaf["value"]
    col = frame[name]
    if name == "aum":  # AUM ≤ 9999999999999.99 with two places: exact order as doubles
        value = [float(v) for v in value] if isinstance(value, list) else float(value)
    arr = col.to_numpy()
    if op == "in":
        if len(value) <= 8:  # a few choices: comparisons beat a sort (np.isin) on strings
            out = arr == value[0]
            for v in value[1:]:
                out = out | (arr == v)
            return out
        return np.isin(arr, np.asarray(value, dtype=arr.dtype if arr.dtype != object else object))
    if op == "between":
        return (arr >= value[0]) & (arr <= value[1])
    if op == ">=":
        return arr >= value
    if op == "<=":
        return arr <= value
    if name in ("digital_active", "dormant"):
        return arr.astype(bool) == value
    return arr == value


def to_mask(tree: dict, population: Population, as_of: date) -> np.ndarray:
    """A boolean array over ``population.frame``'s rows for a parsed tree."""
    frame = population.frame
    cache: dict[Any, np.ndarray] = {}

    def member_of(ids: np.ndarray) -> np.ndarray:
        # positions through the (unique) index: a hash lookup per id, not a sort of the frame
        out = np.zeros(len(frame), bool)
        if len(ids):
            pos = frame.index.get_indexer(pd.unique(ids))
            out[pos[pos >= 0]] = True
        return out

    def walk(node: dict) -> np.ndarray:
        if "all" in node:
            out = walk(node["all"][0])
            for child in node["all"][1:]:
                out = out & walk(child)
            return out
        if "any" in node:
            out = walk(node["any"][0])
            for child in node["any"][1:]:
                out = out | walk(child)
            return out
        if "not" in node:
            return ~walk(node["not"])
        if "tag" in node:
            key = ("tag", node["tag"])
            if key not in cache:
                tags = population.tags
                if tags is None or tags.empty:
                    cache[key] = np.zeros(len(frame), bool)
                else:
                    sel = tags["tag"].to_numpy() == node["tag"]
                    cache[key] = member_of(tags["client"].to_numpy()[sel])
            return cache[key]
        if "event" in node:
            key = ("event", node["event"], node["within_days"])
            if key not in cache:
                ev = population.events
                if ev is None or ev.empty:
                    cache[key] = np.zeros(len(frame), bool)
                else:
                    since = pd.Timestamp(_since(as_of, node["within_days"]))
                    of_kind = ev["kind"].to_numpy() == node["event"]
                    at = pd.to_datetime(ev["occurred_at"][of_kind], utc=True)
                    recent = (at >= since).to_numpy()
                    cache[key] = member_of(ev["client"].to_numpy()[of_kind][recent])
            return cache[key]
        return np.asarray(_mask_field(node, frame), dtype=bool)

    return walk(tree)


def leaves(tree: dict) -> list[dict]:
    """The leaves of a parsed tree, in order."""
    out: list[dict] = []

    def walk(node: dict) -> None:
        for key in ("all", "any"):
            if key in node:
                for child in node[key]:
                    walk(child)
                return
        if "not" in node:
            walk(node["not"])
            return
        out.append(node)

    walk(tree)
    return out
