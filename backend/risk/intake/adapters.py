"""Feed adapters: where records come from.  Each yields ``FeedBatch``es that
``ingest_records`` loads (idempotently: re-reading a file or re-fetching a page is harmless).

- ``FileFeedAdapter``: a JSON Lines file (one record per line), a JSON file (an array, or an
  object with ``records``) or a CSV file (columns record_id, type, credit_code, name, kind,
  time, severity, title and ``data`` as a JSON object).  A line that is not JSON is rejected
  (``malformed_json``, with its line number) and the rest of the file still loads.  Files are
  read as UTF-8 (with or without a BOM), else as GB18030 (a superset of GBK and GB2312, as
  Chinese vendors often write).  A file that fails as a whole is yielded as a failed batch
  (``FeedBatch.failure``: ``undecodable``, ``invalid_format``) and ``quarantine`` moves it to
  the feed's quarantine folder (default ``<feed folder>/quarantine/``) with a
  ``<file>.reason.txt`` beside it.
- ``HttpFeedAdapter``: GET ``url?since=<cursor>`` answering
  ``{"records": [...], "next_cursor": "..." | null}``; pages are followed until
  ``next_cursor`` is null; the last cursor is stored with the feed run so the next refresh
  resumes there.  The transport is injectable (tests pass a fake; the default uses requests
  with a timeout).

``load_feed_config`` reads the feeds the scheduled refresh jobs run (FINEDGE_RISK_FEEDS or
var/risk_feeds.yaml)::

    feeds:
      - {source: news, adapter: http, url: "https://feeds.example/news", schedule: sentiment}
      - {source: court, adapter: file, path: "/data/feeds/court", schedule: daily,
         quarantine: "/data/quarantine/court"}     # optional; default <path>/quarantine/
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from backend.platform.config import var_dir
from backend.risk.intake.records import Rejection

Fetch = Callable[[str], Any]
SCHEDULES = ("sentiment", "daily")
CSV_COLUMNS = (
    "record_id",
    "type",
    "credit_code",
    "name",
    "kind",
    "time",
    "severity",
    "title",
    "data",
)


class FeedError(RuntimeError):
    """The feed itself cannot be read (missing file, HTTP error, not JSON at all).  ``reason``:
    a snake_case word for the quarantine (``undecodable``, ``invalid_format``, ...)."""

    def __init__(self, message: str, *, reason: str = "feed_error"):
        super().__init__(message)
        self.reason = reason


@dataclass
class FeedBatch:
    source: str
    adapter: str
    location: str
    records: list[Any]
    pre_rejected: list[Rejection] = field(default_factory=list)
    checksum: str | None = None
    cursor: str | None = None
    failure: FeedError | None = None  # the batch failed as a whole (nothing of it loads)
    path: Path | None = None  # a file batch's file


ENCODINGS = ("utf-8-sig", "gb18030")


def decode_feed(raw: bytes) -> str:
    """A feed file's text: UTF-8 (with or without a BOM) first, then GB18030 (a superset of
    GBK and GB2312); anything else is ``undecodable``."""
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FeedError("the file is neither UTF-8 nor GB18030/GBK text", reason="undecodable")


def _parse_jsonl(text: str) -> tuple[list[Any], list[Rejection]]:
    records, rejected = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            rejected.append(
                Rejection(-1, None, "malformed_json", f"line {number}: {exc.msg}", line=number)
            )
    return records, rejected


def _parse_csv(text: str) -> tuple[list[Any], list[Rejection]]:
    records, rejected = [], []
    reader = csv.DictReader(io.StringIO(text))
    if text.strip() and "record_id" not in (reader.fieldnames or []):
        raise FeedError("a CSV feed needs a header with record_id", reason="invalid_format")
    for number, row in enumerate(reader, start=2):
        record = {k: v for k, v in row.items() if k in CSV_COLUMNS and v not in (None, "")}
        if "data" in record:
            try:
                record["data"] = json.loads(record["data"])
            except json.JSONDecodeError as exc:
                rejected.append(
                    Rejection(
                        -1,
                        record.get("record_id"),
                        "malformed_json",
                        f"line {number}: data: {exc.msg}",
                        line=number,
                    )
                )
                continue
        records.append(record)
    return records, rejected


def parse_feed_text(text: str, kind: str) -> tuple[list[Any], list[Rejection]]:
    """Records and per-line rejections of a feed document (``kind``: jsonl, json or csv)."""
    if kind == "jsonl":
        return _parse_jsonl(text)
    if kind == "csv":
        return _parse_csv(text)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FeedError(
            f"not JSON: {exc.msg} at line {exc.lineno}", reason="invalid_format"
        ) from None
    records = doc.get("records") if isinstance(doc, dict) else doc
    if not isinstance(records, list):
        raise FeedError(
            "a JSON feed is an array of records or an object with 'records'",
            reason="invalid_format",
        )
    return records, []


class FileFeedAdapter:
    """One file, or every *.jsonl / *.json / *.csv file of a folder (in name order).
    ``quarantine``: where files that fail as a whole go (default: ``quarantine/`` in the feed's
    folder)."""

    def __init__(self, path: str | Path, source: str, *, quarantine: str | Path | None = None):
        self.path, self.source = Path(path), source
        folder = self.path if self.path.is_dir() else self.path.parent
        self.quarantine_dir = Path(quarantine) if quarantine else folder / "quarantine"

    def files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.suffix in (".jsonl", ".json", ".csv"))
        if not self.path.exists():
            raise FeedError(f"feed file {self.path} does not exist")
        return [self.path]

    def batches(self) -> Iterator[FeedBatch]:
        for path in self.files():
            raw = path.read_bytes()
            batch = FeedBatch(
                self.source, "file", str(path), [], checksum=hashlib.sha256(raw).hexdigest()
            )
            batch.path = path
            try:
                batch.records, batch.pre_rejected = parse_feed_text(
                    decode_feed(raw), path.suffix.lstrip(".")
                )
            except FeedError as exc:
                batch.failure = exc
            yield batch

    def quarantine(
        self, batch: FeedBatch, reason: str, message: str, *, feed_run_id: int | None = None
    ) -> str | None:
        """Move the batch's file to the quarantine folder with ``<file>.reason.txt`` beside
        it; the new path, or None when it could not be moved (then it stays, and its checksum
        keeps it from being loaded again)."""
        if batch.path is None or not batch.path.exists():
            return None
        try:
            self.quarantine_dir.mkdir(parents=True, exist_ok=True)
            target = self.quarantine_dir / batch.path.name
            if target.exists():  # quarantined before: keep both
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
                target = target.with_name(f"{target.stem}.{stamp}{target.suffix}")
            shutil.move(str(batch.path), target)
            note = target.with_name(target.name + ".reason.txt")
            note.write_text(
                f"reason: {reason}\nmessage: {message}\nsource: {batch.source}\n"
                f"file: {batch.path}\nsha256: {batch.checksum}\nfeed_run: {feed_run_id}\n"
                f"at: {datetime.now(UTC).isoformat()}\n",
                encoding="utf-8",
            )
        except OSError:
            return None
        return str(target)


def requests_fetch(url: str) -> Any:
    import requests

    response = requests.get(url, timeout=30, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise FeedError(f"GET {url} answered {response.status_code}")
    return response.json()


class HttpFeedAdapter:
    def __init__(
        self,
        url: str,
        source: str,
        *,
        since: str | None = None,
        fetch: Fetch | None = None,
        max_pages: int = 100,
    ):
        self.url, self.source, self.since = url, source, since
        self.fetch = fetch or requests_fetch
        self.max_pages = max_pages

    def _page_url(self, cursor: str | None) -> str:
        if not cursor:
            return self.url
        joiner = "&" if "?" in self.url else "?"
        return f"{self.url}{joiner}{urlencode({'since': cursor})}"

    def batches(self) -> Iterator[FeedBatch]:
        cursor = self.since
        for _ in range(self.max_pages):
            url = self._page_url(cursor)
            try:
                page = self.fetch(url)
            except FeedError:
                raise
            except Exception as exc:  # transport trouble: one line, not a traceback
                raise FeedError(f"GET {url} failed: {type(exc).__name__}: {exc}") from None
            if not isinstance(page, dict) or not isinstance(page.get("records"), list):
                raise FeedError(f"{url}: expected an object with a 'records' list")
            next_cursor = page.get("next_cursor")
            yield FeedBatch(self.source, "http", url, page["records"], cursor=next_cursor or cursor)
            if not next_cursor or next_cursor == cursor:
                return
            cursor = next_cursor


@dataclass
class FeedSpec:
    source: str
    adapter: str
    schedule: str
    path: str | None = None
    url: str | None = None
    quarantine: str | None = None  # file feeds: where failed files go


def load_feed_config(path: str | Path | None = None) -> list[FeedSpec]:
    path = Path(path or os.environ.get("FINEDGE_RISK_FEEDS") or var_dir() / "risk_feeds.yaml")
    if not path.exists():
        return []
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    specs = []
    for i, item in enumerate(doc.get("feeds") or []):
        if not isinstance(item, dict) or item.get("adapter") not in ("file", "http"):
            raise FeedError(f"{path}: feed #{i + 1} needs adapter file or http")
        schedule = item.get("schedule", "daily")
        if schedule not in SCHEDULES:
            raise FeedError(f"{path}: feed #{i + 1}: schedule must be one of {SCHEDULES}")
        specs.append(
            FeedSpec(
                item["source"],
                item["adapter"],
                schedule,
                item.get("path"),
                item.get("url"),
                item.get("quarantine"),
            )
        )
    return specs
