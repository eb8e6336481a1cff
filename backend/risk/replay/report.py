"""The backtest report: pure functions from a replay's signal changes (``signals.jsonl``) and
the ground truth (``defaults.csv``) to the figures a risk committee reads, for the signals as
replayed and for the baseline "rule-origin signals only" from the same file.

Definitions (docs/risk.md, "Replay and backtesting"):

- firms: the truth file's rows; signals are matched by credit code (else by name);
- go-live: the end of a backfill (when its signals were raised), else the replay's ``from``;
  figures below count from go-live, backfill signals only in ``go_live``;
- a *flag* at level L: a signal raised at L or escalated to L, at its simulated time;
- defaulters: firms whose default date is in [go-live, ``to``]; *warned at L*: a flag at L or
  above in the 365 days before the default date; lead time: default date - the date of the
  first such flag, in whole days (median, p25, p75), and the share of defaulters warned
  >= 30 and >= 90 days ahead; the headline level is strong (strong or hard);
- false alarms: firms that never default (no date, or a date more than 12 months after
  ``to``) with a strong or hard flag after go-live, over all such firms;
- precision at 6 and 12 months: flags after go-live whose firm defaults within 182 / 365 days
  after the flag (flags of firms already defaulted are left out), per level (the flag's
  level) and per origin (strong or hard flags); also per firm: firms flagged strong or hard
  that default within 12 months of their first such flag;
- alerts: strong or hard flags after go-live per week per 1,000 firms;
- AUC: at monthly snapshots (every 30 days from go-live to ``to``), every firm not yet
  defaulted, scored by the highest level active at the snapshot (none=0 .. hard=4),
  against default within the next 365 days (Mann-Whitney, ties count one half).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

LEVELS = ("weak", "medium", "strong", "hard")
RANK = {None: 0, "weak": 1, "medium": 2, "strong": 3, "hard": 4}
ORIGINS = ("rule", "contagion", "model")
LOOKBACK = timedelta(days=365)
HORIZONS = {"6m": timedelta(days=182), "12m": timedelta(days=365)}
SNAPSHOT_STEP = timedelta(days=30)
CLOSES = ("expired", "dismissed", "lifted")


class ReportInputError(ValueError):
    """A signals or truth file that cannot be read; the message says where."""


@dataclass(frozen=True)
class Firm:
    key: str
    name: str
    default_at: datetime | None
    kind: str


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --------------------------------------------------------------------------- reading


def read_signals(path: str | Path) -> tuple[dict, list[dict], dict | None]:
    meta, lines, end = None, [], None
    with open(path, encoding="utf-8") as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ReportInputError(f"{path}:{number}: not JSON ({exc.msg})") from None
            kind = row.get("type") if isinstance(row, dict) else None
            if kind == "meta":
                meta = row
            elif kind == "signal":
                lines.append(row)
            elif kind == "end":
                end = row
            else:
                raise ReportInputError(f"{path}:{number}: unknown line type {kind!r}")
    if meta is None:
        raise ReportInputError(f"{path}: no meta line (is it a signals.jsonl of a replay?)")
    return meta, lines, end


def read_truth(path: str | Path) -> list[Firm]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"credit_code", "name", "default_date"} - set(reader.fieldnames or ())
        if missing:
            raise ReportInputError(f"{path}: missing column(s) {sorted(missing)}")
        firms = []
        for number, row in enumerate(reader, start=2):
            raw = (row.get("default_date") or "").strip()
            try:
                when = _midnight(date.fromisoformat(raw)) if raw else None
            except ValueError:
                raise ReportInputError(f"{path}:{number}: bad default_date {raw!r}") from None
            key = (row.get("credit_code") or "").strip() or (row.get("name") or "").strip()
            if not key:
                raise ReportInputError(f"{path}:{number}: neither credit_code nor name")
            firms.append(
                Firm(key, (row.get("name") or "").strip(), when, row.get("default_kind") or "")
            )
    return firms


# --------------------------------------------------------------------------- the signals


@dataclass
class Flag:
    firm: str
    time: datetime
    level: str
    origin: str
    backfill: bool


@dataclass
class Episode:
    firm: str
    origin: str
    backfill: bool
    steps: list[tuple[datetime, str]]  # (time, level from then on)
    closed: datetime | None = None

    def level_at(self, when: datetime) -> str | None:
        if self.closed is not None and self.closed <= when:
            return None
        level = None
        for time, step_level in self.steps:
            if time > when:
                break
            level = step_level
        return level


def _firm_key(line: dict, by_name: dict[str, str]) -> str | None:
    code = line.get("credit_code")
    if code:
        return code
    return by_name.get(line.get("name") or "")


def episodes(lines: list[dict], firms: list[Firm]) -> list[Episode]:
    by_name = {f.name: f.key for f in firms if f.name}
    out: dict[int, Episode] = {}
    for line in lines:
        key = _firm_key(line, by_name)
        if key is None:
            continue
        when = parse_time(line["time"])
        ep = out.get(line["signal_id"])
        if line["change"] == "raised":
            out[line["signal_id"]] = Episode(
                key, line["origin"], bool(line.get("backfill")), [(when, line["level"])]
            )
        elif ep is None:
            continue
        elif line["change"] == "escalated":
            ep.steps.append((when, line["level"]))
        elif line["change"] in CLOSES:
            ep.closed = when
    return list(out.values())


def flags(eps: list[Episode]) -> list[Flag]:
    """Every raise and escalation; only the raise of a backfill signal is a backfill flag (its
    later escalations are news)."""
    return [
        Flag(ep.firm, when, level, ep.origin, ep.backfill and i == 0)
        for ep in eps
        for i, (when, level) in enumerate(ep.steps)
    ]


# --------------------------------------------------------------------------- statistics


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 2)


def auc(scores: list[float], labels: list[int]) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties); None without both
    classes."""
    pos = sum(labels)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return round((rank_sum - pos * (pos + 1) / 2) / (pos * neg), 4)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --------------------------------------------------------------------------- the figures


def figures(
    lines: list[dict], firms: list[Firm], *, start: datetime, go_live: datetime, end: datetime
) -> dict[str, Any]:
    """Every figure of the report for one set of signal changes (see the module doc)."""
    eps = episodes(lines, firms)
    all_flags = flags(eps)
    live = [f for f in all_flags if not f.backfill and f.time >= go_live]
    by_firm: dict[str, list[Flag]] = defaultdict(list)
    for f in all_flags:
        by_firm[f.firm].append(f)
    defaulters = [f for f in firms if f.default_at is not None and go_live <= f.default_at <= end]
    quiet_cut = end + HORIZONS["12m"]
    never = [f for f in firms if f.default_at is None or f.default_at > quiet_cut]
    default_of = {f.key: f.default_at for f in firms}

    warned: dict[str, Any] = {}
    for level in reversed(LEVELS):
        leads = []
        for firm in defaulters:
            times = [
                fl.time
                for fl in by_firm.get(firm.key, ())
                if RANK[fl.level] >= RANK[level]
                and firm.default_at - LOOKBACK <= fl.time < firm.default_at
            ]
            if times:  # whole days: the default's date minus the flag's date
                leads.append(float((firm.default_at.date() - min(times).date()).days))
        n = len(defaulters)
        warned[level] = {
            "warned": len(leads),
            "share": _share(len(leads), n),
            "lead_days_median": quantile(leads, 0.5),
            "lead_days_p25": quantile(leads, 0.25),
            "lead_days_p75": quantile(leads, 0.75),
            "share_30_days_ahead": _share(sum(1 for d in leads if d >= 30), n),
            "share_90_days_ahead": _share(sum(1 for d in leads if d >= 90), n),
        }

    never_keys = {f.key for f in never}
    flagged_never = {
        fl.firm for fl in live if RANK[fl.level] >= RANK["strong"] and fl.firm in never_keys
    }

    def precision(selected: list[Flag]) -> dict[str, Any]:
        judged = [
            fl
            for fl in selected
            if not (default_of.get(fl.firm) and default_of[fl.firm] <= fl.time)
        ]
        out: dict[str, Any] = {"flags": len(judged), "firms": len({fl.firm for fl in judged})}
        for name, horizon in HORIZONS.items():
            hits = sum(
                1
                for fl in judged
                if default_of.get(fl.firm) and fl.time < default_of[fl.firm] <= fl.time + horizon
            )
            out[f"precision_{name}"] = _share(hits, len(judged))
        out["beyond_data_12m"] = sum(1 for fl in judged if fl.time + HORIZONS["12m"] > end)
        return out

    strong_live = [fl for fl in live if RANK[fl.level] >= RANK["strong"]]
    first_strong: dict[str, datetime] = {}
    for fl in sorted(strong_live, key=lambda f: f.time):
        first_strong.setdefault(fl.firm, fl.time)
    firm_judged = {
        k: t for k, t in first_strong.items() if not (default_of.get(k) and default_of[k] <= t)
    }
    firm_hits = sum(
        1
        for k, t in firm_judged.items()
        if default_of.get(k) and t < default_of[k] <= t + HORIZONS["12m"]
    )
    weeks = max((end - go_live).total_seconds() / (7 * 86400), 1 / 7)
    backfill_flags = [fl for fl in all_flags if fl.backfill]
    first_day = [
        Flag(ep.firm, ep.steps[0][0], ep.steps[0][1], ep.origin, False)
        for ep in eps
        if not ep.backfill and go_live <= ep.steps[0][0] < go_live + timedelta(days=1)
    ]
    return {
        "firms": len(firms),
        "defaulters": len(defaulters),
        "never_defaulting": len(never),
        "warned": warned,
        "false_alarms": {
            "firms": len(flagged_never),
            "rate": _share(len(flagged_never), len(never)),
        },
        "precision_by_level": {
            level: precision([fl for fl in live if fl.level == level]) for level in reversed(LEVELS)
        },
        "precision_by_origin": {
            origin: precision([fl for fl in strong_live if fl.origin == origin])
            for origin in ORIGINS
        },
        "precision_strong_or_hard": precision(strong_live),
        "firms_flagged_strong_or_hard": {
            "firms": len(firm_judged),
            "defaulted_within_12m": firm_hits,
            "precision_12m": _share(firm_hits, len(firm_judged)),
        },
        "alerts_per_week_per_1000": round(len(strong_live) / weeks * 1000 / len(firms), 3)
        if firms
        else None,
        "strong_or_hard_alerts": len(strong_live),
        "go_live": {
            "backfill_signals": len(backfill_flags),
            "backfill_by_level": _count_levels(backfill_flags),
            "first_day_signals": len(first_day),
            "first_day_by_level": _count_levels(first_day),
        },
        "auc": snapshot_auc(eps, firms, go_live=go_live, end=end),
    }


def _count_levels(selected: list[Flag]) -> dict[str, int]:
    counts = {level: 0 for level in reversed(LEVELS)}
    for fl in selected:
        counts[fl.level] += 1
    return counts


def snapshot_auc(
    eps: list[Episode], firms: list[Firm], *, go_live: datetime, end: datetime
) -> dict[str, Any]:
    by_firm: dict[str, list[Episode]] = defaultdict(list)
    for ep in eps:
        by_firm[ep.firm].append(ep)
    scores, labels = [], []
    snapshots = 0
    when = go_live
    while when <= end:
        snapshots += 1
        for firm in firms:
            if firm.default_at is not None and firm.default_at <= when:
                continue
            level = max((RANK[ep.level_at(when)] for ep in by_firm.get(firm.key, ())), default=0)
            scores.append(float(level))
            labels.append(
                int(firm.default_at is not None and firm.default_at <= when + HORIZONS["12m"])
            )
        when += SNAPSHOT_STEP
    return {
        "value": auc(scores, labels),
        "snapshots": snapshots,
        "rows": len(labels),
        "positives": sum(labels),
    }


def backtest_report(meta: dict, lines: list[dict], firms: list[Firm]) -> dict[str, Any]:
    """The report: ``signals`` (everything replayed) and ``baseline`` (rule-origin signals
    only, from the same file), with the period and what was replayed."""
    start = _midnight(date.fromisoformat(meta["from"]))
    end = _midnight(date.fromisoformat(meta["to"])) + timedelta(days=1)
    # the backfill's raises (its later escalations and expiries carry the flag too)
    backfill_times = [
        parse_time(line["time"])
        for line in lines
        if line.get("backfill") and line.get("change") == "raised"
    ]
    go_live = max(backfill_times) if backfill_times else start
    rule_lines = [line for line in lines if line.get("origin") == "rule"]
    return {
        "period": {
            "from": meta["from"],
            "to": meta["to"],
            "go_live": go_live.isoformat().replace("+00:00", "Z"),
        },
        "ruleset": meta.get("ruleset"),
        "model": meta.get("model"),
        "scan_every_days": meta.get("scan_every_days"),
        "signal_changes": len(lines),
        "signals": figures(lines, firms, start=start, go_live=go_live, end=end),
        "baseline": figures(rule_lines, firms, start=start, go_live=go_live, end=end),
        "baseline_definition": "the highest active rule-origin level (contagion and model "
        "signals left out of the same signals file)",
    }


# --------------------------------------------------------------------------- text


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    if pct:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = [
        "  ".join(
            h.ljust(widths[i]) if i == 0 else h.rjust(widths[i]) for i, h in enumerate(header)
        )
    ]
    out.append("  ".join("-" * w for w in widths))
    for row in rows:
        out.append(
            "  ".join(
                c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
            )
        )
    return out


def format_report(report: dict[str, Any]) -> str:
    """The report as aligned tables, each figure beside the baseline's."""
    s, b = report["signals"], report["baseline"]
    p = report["period"]
    out = [
        f"Backtest {p['from']} .. {p['to']} (go-live {p['go_live']}): ruleset "
        f"{report['ruleset']}, model {report['model'] or 'none'}, "
        f"{s['firms']} firms, {s['defaulters']} defaulters, "
        f"{s['never_defaulting']} never defaulting",
        "",
        "Defaulters warned before default (365-day look-back)",
    ]
    rows = []
    for level in ("strong", "hard", "medium", "weak"):
        label = "strong or hard" if level == "strong" else f"{level} or above"
        for name, fig in (("signals", s), ("baseline", b)):
            w = fig["warned"][level]
            rows.append(
                [
                    f"{label} ({name})",
                    f"{w['warned']}/{fig['defaulters']}",
                    _fmt(w["share"], True),
                    _fmt(w["share_30_days_ahead"], True),
                    _fmt(w["share_90_days_ahead"], True),
                    _fmt(w["lead_days_p25"]),
                    _fmt(w["lead_days_median"]),
                    _fmt(w["lead_days_p75"]),
                ]
            )
    out += _table(["level", "warned", "share", ">=30d", ">=90d", "lead p25", "median", "p75"], rows)
    out += ["", "Alarms"]
    rows = []
    for label, key in (
        ("false-alarm rate (never-defaulting firms flagged strong/hard)", "fa"),
        ("firms flagged strong/hard defaulting within 12 months", "firm"),
        ("strong/hard alerts per week per 1,000 firms", "alerts"),
        ("AUC, highest active level at monthly snapshots", "auc"),
    ):
        vals = []
        for fig in (s, b):
            if key == "fa":
                vals.append(
                    f"{_fmt(fig['false_alarms']['rate'], True)} ({fig['false_alarms']['firms']})"
                )
            elif key == "firm":
                f = fig["firms_flagged_strong_or_hard"]
                vals.append(
                    f"{_fmt(f['precision_12m'], True)} ({f['defaulted_within_12m']}/{f['firms']})"
                )
            elif key == "alerts":
                vals.append(_fmt(fig["alerts_per_week_per_1000"]))
            else:
                vals.append(_fmt(fig["auc"]["value"]))
        rows.append([label, *vals])
    out += _table(["measure", "signals", "baseline"], rows)
    out += ["", "Precision of flags (firm defaults within 6 / 12 months after the flag)"]
    rows = []
    for level, fig in s["precision_by_level"].items():
        base = b["precision_by_level"][level]
        rows.append(
            [
                f"level {level}",
                str(fig["flags"]),
                _fmt(fig["precision_6m"], True),
                _fmt(fig["precision_12m"], True),
                str(base["flags"]),
                _fmt(base["precision_12m"], True),
            ]
        )
    for origin, fig in s["precision_by_origin"].items():
        rows.append(
            [
                f"origin {origin} (strong/hard)",
                str(fig["flags"]),
                _fmt(fig["precision_6m"], True),
                _fmt(fig["precision_12m"], True),
                "",
                "",
            ]
        )
    out += _table(["flags", "n", "6m", "12m", "baseline n", "baseline 12m"], rows)
    g = s["go_live"]
    out += [
        "",
        f"Go-live: {g['backfill_signals']} backfill signals "
        + ", ".join(f"{k} {v}" for k, v in g["backfill_by_level"].items())
        + f"; {g['first_day_signals']} new signals on the first day",
        f"AUC rows: {s['auc']['rows']} ({s['auc']['positives']} positive) over "
        f"{s['auc']['snapshots']} snapshots",
    ]
    return "\n".join(out)


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The few figures shown beside a ruleset or model (console, rulesets list)."""
    s = report["signals"]
    return {
        "warned_strong_share": s["warned"]["strong"]["share"],
        "warned_30_days_share": s["warned"]["strong"]["share_30_days_ahead"],
        "lead_days_median": s["warned"]["strong"]["lead_days_median"],
        "false_alarm_rate": s["false_alarms"]["rate"],
        "precision_12m": {
            level: fig["precision_12m"] for level, fig in s["precision_by_level"].items()
        },
        "alerts_per_week_per_1000": s["alerts_per_week_per_1000"],
        "auc": s["auc"]["value"],
        "baseline_auc": report["baseline"]["auc"]["value"],
    }
