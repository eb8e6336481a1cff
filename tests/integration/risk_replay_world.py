"""A tiny hand-made world written as deliveries (DIR/YYYY-MM-DD/<source>.jsonl) and a truth
file (defaults.csv), for the replay, backfill and backtest tests.  12 firms, January and
February 2025; what each firm goes through is chosen so the signals are known:

- F00 borrower: enforcement 01-10 (strong under rules 1 and 2, medium under 3), dishonest debtor
  01-25 (hard); defaults 02-15;
- F01 guarantor of F00 (contagion), never defaults;
- F02: three lawsuits (medium; one published two days late), overdue 45 days on 02-01
  (strong); defaults 03-20 (after the replay);
- F03: two negative news items 01-15/16 (medium, expires after 30 days); never defaults;
- F04: one enforcement 01-20 (strong under rules 1 and 2: a false alarm; medium under 3);
- F05: tax arrears 02-01 (medium), then a quiet default 02-20;
- F06..F11: nothing happens."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from backend.risk.creditcode import make_credit_code

FIRMS = 12
START, END = date(2025, 1, 1), date(2025, 2, 28)
DEFAULTS = {
    0: ("2025-02-15", "stressed"),
    2: ("2025-03-20", "stressed"),
    5: ("2025-02-20", "quiet"),
}


def code(i: int) -> str:
    return make_credit_code(700_000 + i)


def name(i: int) -> str:
    return f"回放测试企业{i:02d}有限公司"


def _event(rid: str, i: int, kind: str, day: str, published: str | None = None, **data) -> dict:
    record = {
        "record_id": rid,
        "credit_code": code(i),
        "name": name(i),
        "kind": kind,
        "time": f"{day}T09:00:00Z",
    }
    if published:
        record["published"] = f"{published}T12:00:00Z"
    if data:
        record["data"] = data
    return record


def deliveries() -> dict[str, dict[str, list[dict]]]:
    """day -> source -> records."""
    days: dict[str, dict[str, list[dict]]] = {}

    def put(day: str, source: str, record: dict) -> None:
        days.setdefault(day, {}).setdefault(source, []).append(record)

    for i in range(FIRMS):
        put(
            "2025-01-01",
            "registry",
            {
                "record_id": f"prof-{i}",
                "type": "profile",
                "credit_code": code(i),
                "name": name(i),
                "time": "2025-01-01T08:00:00Z",
                "data": {"registered_capital": "5000000.00", "industry": "制造业"},
            },
        )
    put(
        "2025-01-01",
        "registry",
        {
            "record_id": "edge-g-1-0",
            "type": "edge",
            "kind": "guarantee",
            "from": {"credit_code": code(1)},
            "to": {"credit_code": code(0)},
            "time": "2025-01-01T08:00:00Z",
            "amount": "3000000.00",
        },
    )
    put("2025-01-10", "court", _event("enf-0", 0, "enforcement", "2025-01-10", amount="800000.00"))
    put("2025-01-25", "court", _event("dis-0", 0, "dishonest_debtor", "2025-01-25"))
    put("2025-01-05", "court", _event("law-2a", 2, "lawsuit_defendant", "2025-01-05"))
    put(
        "2025-01-14",
        "court",
        _event("law-2b", 2, "lawsuit_defendant", "2025-01-12", published="2025-01-14"),
    )
    put("2025-01-20", "court", _event("law-2c", 2, "lawsuit_defendant", "2025-01-20"))
    put(
        "2025-02-01",
        "core_banking",
        _event("od-2", 2, "overdue_loan", "2025-02-01", days_overdue=45),
    )
    for n, day in enumerate(("2025-01-15", "2025-01-16")):
        record = _event(f"news-3-{n}", 3, "news", day, sentiment=-0.8)
        record["title"] = "资金链紧张"
        put(day, "news", record)
    put("2025-01-20", "court", _event("enf-4", 4, "enforcement", "2025-01-20", amount="200000.00"))
    put("2025-02-01", "tax", _event("tax-5", 5, "tax_arrears", "2025-02-01", amount="90000.00"))
    return days


def write_deliveries(root: Path) -> Path:
    for day, sources in deliveries().items():
        folder = root / day
        folder.mkdir(parents=True, exist_ok=True)
        for source, records in sources.items():
            with (folder / f"{source}.jsonl").open("w", encoding="utf-8") as fh:
                for record in records:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return root


def write_truth(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["credit_code", "name", "default_date", "default_kind"])
        for i in range(FIRMS):
            when, kind = DEFAULTS.get(i, ("", ""))
            writer.writerow([code(i), name(i), when, kind])
    return path
