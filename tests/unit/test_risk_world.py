"""The synthetic world's realism (backend/risk/synthetic/): publication lags per source, the
default base rate and the mix of default kinds, lawsuits published after the default, noise of
healthy firms, released guarantees and contagion through standing ones only; the dated
deliveries (every record valid for the feed validator, in the folder of its publication day),
the truth file, determinism, and ``finedge risk world``."""

from __future__ import annotations

import csv
import filecmp
import json
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from backend.risk import synthetic
from backend.risk.intake import records as feed_records
from backend.risk.intake.records import FeedRecord, parse_record
from backend.risk.synthetic import REALISTIC, WorldStyle
from backend.risk.synthetic.world import TRUTH_HEADER, published_time, record_time

END = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world():
    """1,500 firms over two years: the size the docs quote (about 1 s to build)."""
    return synthetic.generate(1500, seed=11, end=END, years=2.0)


@pytest.fixture(scope="module")
def written(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    counts = world.write_deliveries(root / "deliveries")
    world.write_truth(root / "defaults.csv")
    return root, counts


def _lags(world, source, kind=None) -> list[float]:
    return [
        (published_time(r) - record_time(r)).total_seconds() / 86400
        for r in world.records[source]
        if r.get("type", "event") == "event" and (kind is None or r["kind"] == kind)
    ]


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    def write(seed, where):
        w = synthetic.generate(120, seed=seed, end=END, years=0.5)
        w.write_deliveries(where / "deliveries")
        w.write_truth(where / "defaults.csv")

    write(5, tmp_path / "a")
    write(5, tmp_path / "b")
    write(6, tmp_path / "c")

    def same(x: Path, y: Path) -> bool:
        files = sorted(p.relative_to(x) for p in x.rglob("*") if p.is_file())
        if files != sorted(p.relative_to(y) for p in y.rglob("*") if p.is_file()):
            return False
        return all(filecmp.cmp(x / f, y / f, shallow=False) for f in files)

    assert same(tmp_path / "a", tmp_path / "b")
    assert not same(tmp_path / "a", tmp_path / "c")


def test_every_delivered_record_is_valid_and_in_its_publication_day(world, written):
    root, counts = written
    folders = sorted((root / "deliveries").iterdir())
    assert folders[0].name == world.start.date().isoformat()
    assert folders[-1].name <= world.end.date().isoformat()
    # `ended` (a released guarantee) is read by ingestion once item 5 of issue 15 is in; until
    # then the validator does not know the field and it is left out of this check
    knows_ended = "ended" in getattr(feed_records, "_TOP_LEVEL", ())
    seen, ended = 0, 0
    for folder in folders:
        day = date.fromisoformat(folder.name)
        now = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
        for path in folder.glob("*.jsonl"):
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
                raw = json.loads(line)
                if "ended" in raw:
                    ended += 1
                    assert raw["ended"] == raw["time"] and raw["type"] == "edge"
                    if not knows_ended:
                        raw = {k: v for k, v in raw.items() if k != "ended"}
                parsed = parse_record(raw, i, now=now)
                assert isinstance(parsed, FeedRecord), (path, line, parsed)
                assert parsed.published is not None and parsed.published >= parsed.time
                if folder is folders[0]:
                    assert parsed.published.date() <= day  # the backlog at go-live
                else:
                    assert parsed.published.date() == day
                seen += 1
    assert seen == counts["records"] > 30_000 and ended > 50


def test_publication_lags_per_source(world):
    median = {
        s: statistics.median(_lags(world, s))
        for s in ("news", "registry", "tax_bureau", "rating_agency", "core_banking")
    }
    assert median["news"] < 1  # hours
    assert 1 <= median["registry"] <= 10 and 0.5 <= median["rating_agency"] <= 5  # days
    assert 10 <= median["tax_bureau"] <= 40  # weeks
    assert median["core_banking"] < 1  # the bank's own
    lawsuits = _lags(world, "court", "lawsuit_defendant")
    assert 20 <= statistics.median(lawsuits) <= 90 and max(lawsuits) > 100  # weeks to months
    reports = world.records["annual_reports"]
    assert all(r["time"].startswith(f"{r['data']['period']}-12-31") for r in reports)
    assert 80 <= statistics.median(_lags(world, "annual_reports")) <= 150  # months after
    assert all(published_time(r) >= record_time(r) for rs in world.records.values() for r in rs)


def test_default_base_rate_and_kind_mix(world):
    defaulted = world.defaulted()
    per_year = len(defaulted) / len(world.enterprises) / 2
    assert 0.045 <= per_year <= 0.075, per_year
    mix = Counter(e.default_kind for e in defaulted)
    share = {k: mix[k] / len(defaulted) for k in ("stressed", "quiet", "sudden", "contagion")}
    assert 0.3 <= share["stressed"] <= 0.7 and 0.12 <= share["quiet"] <= 0.4, share
    assert 0.08 <= share["sudden"] <= 0.35 and 0.04 <= share["contagion"] <= 0.25, share
    survivors = [e for e in world.enterprises if "survivor" in e.traits]
    assert len(survivors) > 50 and not any(e.default_date for e in survivors)
    assert all(e.distress_start for e in survivors)


def test_quiet_and_sudden_defaulters_give_little_warning(world):
    histories = world.histories()
    for e in world.defaulted():
        before = [
            ev.kind if ev.data.get("days_overdue", 10) >= 10 else "technical_overdue"
            for ev in histories[e.index].events
            if e.default_date - timedelta(days=365) <= ev.time < e.default_date
            and ev.kind not in ("news", "rating_change", "financial_report", "executive_change")
        ]
        if e.default_kind == "quiet":
            assert Counter(before)["lawsuit_defendant"] >= 1 and "tax_arrears" in before
            assert "overdue_loan" not in before and "equity_freeze" not in before
        if e.default_kind == "sudden":
            assert "equity_freeze" not in before and Counter(before)["overdue_loan"] <= 1


def test_a_third_of_pre_default_lawsuits_are_published_after_the_default(world):
    by_code = {e.credit_code: e for e in world.defaulted()}
    after = total = 0
    for r in world.records["court"]:
        e = by_code.get(r.get("credit_code"))
        if r["kind"] != "lawsuit_defendant" or e is None:
            continue
        t = record_time(r)
        if e.default_date - timedelta(days=180) <= t < e.default_date:
            total += 1
            after += published_time(r) > e.default_date
    assert total > 150 and 0.27 <= after / total <= 0.43, (after, total)


def test_histories_know_events_when_published(world):
    histories = world.histories()
    late = next(
        (h, ev)
        for h in histories
        for ev in h.events
        if ev.kind == "lawsuit_defendant" and ev.known_at - ev.time > timedelta(days=30)
    )
    h, ev = late
    assert ev not in h.events_until(ev.time + timedelta(days=1))  # filed, not yet published
    assert ev in h.events_until(ev.known_at)


def test_healthy_firms_have_routine_events_without_defaulting(world):
    healthy = {
        e.index for e in world.enterprises if not e.default_date and "survivor" not in e.traits
    }
    kinds: dict[str, set[int]] = {}
    months: list[int] = []
    for h in world.histories():
        if h.key in healthy:
            for ev in h.events:
                kinds.setdefault(ev.kind, set()).add(h.key)
                if ev.kind == "abnormal_operation":
                    months.append(ev.time.month)
    for kind in ("enforcement", "abnormal_operation", "abnormal_operation_removed"):
        assert len(kinds.get(kind, ())) > 30, kind
    assert len(kinds["margin_shortfall"]) > 10
    assert sum(m in (7, 8) for m in months) / len(months) > 0.7  # late annual reports
    leveraged = [e for e in world.enterprises if "high_leverage" in e.traits and e.index in healthy]
    assert len(leveraged) > 50
    code = leveraged[0].credit_code
    ratios = [
        float(r["data"]["total_liabilities"]) / float(r["data"]["total_assets"])
        for r in world.records["annual_reports"]
        if r.get("credit_code") == code
    ]
    assert min(ratios) >= 0.8


def test_guarantees_end_and_contagion_uses_standing_ones_only(world):
    ended = [i for i, t in enumerate(world.edge_ends) if t is not None]
    assert ended and all(world.edges[i][2] == "guarantee" for i in ended)
    moment = world.start + timedelta(days=400)
    standing = world.graph(moment)
    gone = sum(1 for i in ended if world.edge_ends[i] <= moment)
    assert len(world.graph().src) - len(standing.src) == gone > 0
    contagion = [e for e in world.defaulted() if e.default_kind == "contagion"]
    assert contagion
    for g in contagion:
        reasons = [
            i
            for i, (src, dst, kind, _s, _a) in enumerate(world.edges)
            if kind == "guarantee"
            and src == g.index
            and (d := world.enterprises[dst].default_date) is not None
            and d < g.default_date
            and (world.edge_ends[i] is None or world.edge_ends[i] > d)
        ]
        assert reasons, g.name


def test_truth_file_matches_the_world(world, written):
    root, _counts = written
    with open(root / "defaults.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == TRUTH_HEADER
    assert len(rows) == len(world.enterprises) + 1
    for e, (code, name, day, kind) in zip(world.enterprises, rows[1:], strict=True):
        assert (code, name) == (e.credit_code, e.name)
        if e.default_date and e.default_date <= world.end:
            assert (day, kind) == (e.default_date.date().isoformat(), e.default_kind)
        else:
            assert (day, kind) == ("", "")


def test_styles_simple_and_perturbed():
    simple = synthetic.generate(150, seed=4, end=END, years=1.0, style="simple")
    assert all(
        r["published"] == r["time"] or r.get("type") in ("profile", "edge")
        for rs in simple.records.values()
        for r in rs
    )
    assert not any(simple.edge_ends)
    other = REALISTIC.perturbed(3)
    assert isinstance(other, WorldStyle) and other != REALISTIC
    assert other.lags["news"] != REALISTIC.lags["news"]
    world = synthetic.generate(150, seed=4, end=END, years=1.0, style=other)
    assert world.style is other and world.records
    with pytest.raises(ValueError, match="unknown world style"):
        synthetic.generate(10, seed=1, end=END, style="fancy")


def test_cli_writes_a_world(tmp_path):
    from backend.cli import main

    out = tmp_path / "w"
    runner = CliRunner()
    args = ["risk", "world", "--enterprises", "80", "--years", "0.5", "--seed", "3"]
    result = runner.invoke(main, [*args, "--end", "2026-01-31", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["enterprises"] == 80 and report["written"]["records"] > 500
    assert (out / "defaults.csv").exists()
    assert sorted(p.name for p in (out / "deliveries").iterdir())[0] == "2025-08-02"
    again = runner.invoke(main, [*args, "--end", "2026-01-31", "--out", str(out), "--quiet"])
    assert again.exit_code == 2 and "is not empty" in again.stderr
    other = runner.invoke(
        main, [*args, "--perturb", "2", "--end", "2026-01-31", "--out", str(tmp_path / "p")]
    )
    assert other.exit_code == 0 and json.loads(other.stdout.splitlines()[-1])["style"] == (
        "realistic~2"
    )
    bad = runner.invoke(main, [*args, "--end", "2026-13-01", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and bad.stderr.strip().count("\n") == 0
