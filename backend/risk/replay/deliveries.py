"""The deliveries folder: one sub-folder per day the bank received files
(``DIR/YYYY-MM-DD/``), one file per source (``court.jsonl``, ``news.json``, ``tax.csv``: the
file's stem is the source), records in the documented feed formats."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from backend.risk.intake.adapters import FeedError

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SUFFIXES = (".jsonl", ".json", ".csv")


def delivery_days(root: str | Path) -> dict[date, Path]:
    """Day -> folder, for every ``YYYY-MM-DD`` folder under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise FeedError(f"deliveries folder {root} does not exist")
    days = {}
    for path in sorted(root.iterdir()):
        if path.is_dir() and DAY_RE.match(path.name):
            try:
                days[date.fromisoformat(path.name)] = path
            except ValueError:
                continue
    return days


def day_files(folder: Path) -> list[tuple[str, Path]]:
    """(source, file) for a day's folder, in name order (the same order every run)."""
    return [
        (path.stem, path)
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix in SUFFIXES
    ]
