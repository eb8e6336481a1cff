"""Rule tags: the versioned rules of ``tags.yaml`` evaluated vectorised over the clients'
feature frame (``load.client_frame``) and their recent events, written to ``mkt_client_tags``
(``source='rule'``, ``version`` = the file's). Model tags (``source='model'``) are the
segments' and are never touched here.

The file is checked at import: an unknown key, field or op, or a value of the wrong shape,
stops the process with the file and line (``TagRuleError``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.marketing import synth
from backend.marketing.load import client_frame
from backend.marketing.models import ClientTag, MarketingEvent

RULES_FILE = Path(__file__).with_name("tags.yaml")
# recent events as fields: (kind, days)
EVENT_FIELDS = {
    "large_in_30d": ("large_in", 30),
    "large_out_30d": ("large_out", 30),
    "early_repayment_90d": ("early_repayment", 90),
    "reactivation_30d": ("reactivation", 30),
    "maturity_30d": ("maturity", 30),
    "vip_arrival_30d": ("vip_arrival", 30),
}
FIELDS = (*synth.FEATURES, "tier", "outlet", *EVENT_FIELDS)
TEXT_FIELDS = ("tier", "outlet")
OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "between")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


class TagRuleError(ValueError):
    """The tag rule file is not usable (the message names the file and line)."""


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class TagRule:
    name: str
    description: str
    all: tuple[Condition, ...]
    any: tuple[Condition, ...]


@dataclass(frozen=True)
class TagRules:
    version: str
    rules: tuple[TagRule, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules)


def _value(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _scalar_ok(value: Any) -> bool:
    if isinstance(value, bool | str):
        return True
    return isinstance(value, int | float) and math.isfinite(value)


def _condition(node: yaml.Node, where) -> Condition:
    if not isinstance(node, yaml.SequenceNode) or len(node.value) != 3:
        raise TagRuleError(f"{where(node)}: a condition is [field, op, value]")
    field_node, op_node, value_node = node.value
    field, op, value = _value(field_node), _value(op_node), _value(value_node)
    if field not in FIELDS:
        raise TagRuleError(f"{where(field_node)}: unknown field {field!r}")
    if op not in OPS:
        raise TagRuleError(f"{where(op_node)}: unknown op {op!r} (one of {' '.join(OPS)})")
    if op == "between":
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(_scalar_ok(v) and not isinstance(v, bool | str) for v in value)
        ):
            raise TagRuleError(f"{where(value_node)}: between takes [low, high] numbers")
    elif op == "in":
        if not isinstance(value, list) or not value or not all(_scalar_ok(v) for v in value):
            raise TagRuleError(f"{where(value_node)}: in takes a non-empty list")
    elif not _scalar_ok(value):
        raise TagRuleError(f"{where(value_node)}: a number, text or true/false")
    if field in TEXT_FIELDS and op not in ("==", "!=", "in"):
        raise TagRuleError(f"{where(op_node)}: {field} is text: ==, != or in")
    return Condition(field, op, tuple(value) if isinstance(value, list) else value)


def parse_rules(text: str, source: str = "tags.yaml") -> TagRules:
    def where(node: yaml.Node) -> str:
        return f"{source}:{node.start_mark.line + 1}"

    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise TagRuleError(f"{source}: not YAML ({exc})") from None
    finally:
        loader.dispose()
    if not isinstance(root, yaml.MappingNode):
        raise TagRuleError(f"{source}: a mapping with version and tags")
    top = {}
    for key_node, value_node in root.value:
        key = _value(key_node)
        if key not in ("version", "tags"):
            raise TagRuleError(f"{where(key_node)}: unknown key {key!r}")
        top[key] = value_node
    if set(top) != {"version", "tags"}:
        raise TagRuleError(f"{source}: version and tags are both needed")
    version = _value(top["version"])
    if not isinstance(version, str | int) or isinstance(version, bool) or not str(version):
        raise TagRuleError(f"{where(top['version'])}: version is a text or number")
    version = str(version)
    if len(version) > 40:
        raise TagRuleError(f"{where(top['version'])}: version of at most 40 characters")
    if not isinstance(top["tags"], yaml.SequenceNode) or not top["tags"].value:
        raise TagRuleError(f"{where(top['tags'])}: tags is a list of rules")
    rules, seen = [], set()
    for rule_node in top["tags"].value:
        if not isinstance(rule_node, yaml.MappingNode):
            raise TagRuleError(f"{where(rule_node)}: a rule is a mapping (name, all, any)")
        parts = {}
        for key_node, value_node in rule_node.value:
            key = _value(key_node)
            if key not in ("name", "description", "all", "any"):
                raise TagRuleError(f"{where(key_node)}: unknown key {key!r}")
            parts[key] = value_node
        name = _value(parts["name"]) if "name" in parts else None
        if not isinstance(name, str) or not name or set(name) - NAME_CHARS or len(name) > 40:
            raise TagRuleError(f"{where(rule_node)}: name: lower-case letters, digits, _")
        if name in seen:
            raise TagRuleError(f"{where(parts['name'])}: tag {name!r} defined twice")
        seen.add(name)
        conds = {}
        for key in ("all", "any"):
            node = parts.get(key)
            if node is None:
                conds[key] = ()
                continue
            if not isinstance(node, yaml.SequenceNode) or not node.value:
                raise TagRuleError(f"{where(node)}: {key} is a list of conditions")
            conds[key] = tuple(_condition(c, where) for c in node.value)
        if not conds["all"] and not conds["any"]:
            raise TagRuleError(f"{where(rule_node)}: tag {name!r} has no condition")
        description = _value(parts["description"]) if "description" in parts else ""
        rules.append(TagRule(name, str(description), conds["all"], conds["any"]))
    return TagRules(version, tuple(rules))


def load_rules(path: Path = RULES_FILE) -> TagRules:
    return parse_rules(path.read_text(encoding="utf-8"), path.name)


RULES = load_rules()


# --------------------------------------------------------------------------- evaluation


def _mask(frame: pd.DataFrame, cond: Condition) -> np.ndarray:
    col = frame[cond.field]
    v = cond.value
    if cond.op == "in":
        return col.isin(list(v)).to_numpy(bool)
    if cond.op == "between":
        return ((col >= v[0]) & (col <= v[1])).to_numpy(bool)
    ops = {
        "==": col.__eq__,
        "!=": col.__ne__,
        "<": col.__lt__,
        "<=": col.__le__,
        ">": col.__gt__,
        ">=": col.__ge__,
    }
    return ops[cond.op](v).to_numpy(bool)


def evaluate(frame: pd.DataFrame, rules: TagRules = RULES) -> dict[str, np.ndarray]:
    """Each tag's mask over the frame's rows (the frame has every field of ``FIELDS``)."""
    out = {}
    for rule in rules.rules:
        mask = np.ones(len(frame), bool)
        for cond in rule.all:
            mask &= _mask(frame, cond)
        if rule.any:
            some = np.zeros(len(frame), bool)
            for cond in rule.any:
                some |= _mask(frame, cond)
            mask &= some
        out[rule.name] = mask
    return out


def event_counts(
    session: Session, now: datetime, client_ids: Sequence[int] | None = None
) -> pd.DataFrame:
    """Recent events per client as the ``EVENT_FIELDS`` columns (counts)."""
    longest = max(days for _, days in EVENT_FIELDS.values())
    stmt = select(MarketingEvent.client_id, MarketingEvent.kind, MarketingEvent.occurred_at).where(
        MarketingEvent.occurred_at >= now - timedelta(days=longest),
        MarketingEvent.occurred_at <= now,
    )
    if client_ids is not None:
        stmt = stmt.where(MarketingEvent.client_id.in_(list(client_ids)))
    rows = pd.DataFrame(session.execute(stmt).all(), columns=["client_id", "kind", "at"])
    out = pd.DataFrame(index=pd.Index([], dtype=np.int64))
    for name, (kind, days) in EVENT_FIELDS.items():
        if rows.empty:
            out[name] = pd.Series(dtype=np.int64)
            continue
        at = pd.to_datetime(rows["at"], utc=True)
        sel = rows[(rows["kind"] == kind) & (at >= pd.Timestamp(now - timedelta(days=days)))]
        out = out.reindex(out.index.union(sel["client_id"].unique()))
        out[name] = sel.groupby("client_id").size()
    return out.fillna(0).astype(np.int64)


def tag_frame(session: Session, now: datetime, client_ids=None) -> pd.DataFrame:
    """The clients' frame with every rule field (features and recent event counts)."""
    frame = client_frame(session, client_ids=client_ids, as_of=now.date())
    counts = event_counts(session, now, client_ids).reindex(frame.index, fill_value=0)
    for name in EVENT_FIELDS:
        frame[name] = counts[name].to_numpy() if name in counts else 0
    return frame


def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ClientTag.__table__)


def apply_tags(session: Session, now: datetime, rules: TagRules = RULES) -> dict[str, Any]:
    """Recompute every client's rule tags: new ones inserted, those no longer true removed,
    kept ones stamped with this version. A model tag of the same name is left alone."""
    frame = tag_frame(session, now)
    masks = (
        evaluate(frame, rules) if len(frame) else {r.name: np.zeros(0, bool) for r in rules.rules}
    )
    ids = frame.index.to_numpy(dtype=np.int64)
    want = {(int(c), name) for name, m in masks.items() for c in ids[m]}
    have = {
        (c, t): i
        for i, c, t in session.execute(
            select(ClientTag.id, ClientTag.client_id, ClientTag.tag).where(
                ClientTag.source == "rule"
            )
        )
    }
    gone = [i for key, i in have.items() if key not in want]
    for start in range(0, len(gone), 2000):
        session.execute(delete(ClientTag).where(ClientTag.id.in_(gone[start : start + 2000])))
    session.execute(
        update(ClientTag)
        .where(ClientTag.source == "rule", ClientTag.version != rules.version)
        .values(version=rules.version)
    )
    new = [
        {
            "client_id": c,
            "tag": t,
            "source": "rule",
            "version": rules.version,
            "score": None,
            "assigned_at": now,
        }
        for c, t in sorted(want - set(have))
    ]
    stmt = _insert(session).on_conflict_do_nothing(index_elements=["client_id", "tag"])
    for start in range(0, len(new), 5000):
        session.execute(stmt, new[start : start + 5000])
    session.flush()
    counts = dict(
        session.execute(
            select(ClientTag.tag, func.count())
            .where(ClientTag.source == "rule")
            .group_by(ClientTag.tag)
        ).all()
    )
    return {
        "version": rules.version,
        "clients": len(frame),
        "added": len(new),
        "removed": len(gone),
        "tags": {name: int(counts.get(name, 0)) for name in rules.names},
    }
