"""Importing the core banking transaction feed from a CSV's rows (``finedge marketing
import-transactions``): every row checked first (all or nothing: the first bad row is named),
then the rows whose ``ref`` is not there yet inserted (a re-import adds nothing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.marketing import synth
from backend.marketing.events.policy import TXN_KINDS
from backend.marketing.models import Client, Transaction
from backend.platform import audit
from backend.platform.clock import parse_moment
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.money import parse_money

COLUMNS = ("ref", "client_no", "at", "amount", "kind", "channel")
CHANNELS = synth.TXN_CHANNELS
BATCH = 5000


def _bad(row: int, column: str, why: str) -> ValidationFailed:
    return ValidationFailed(
        f"row {row}: {column}: {why}", code="invalid_feed_row", details={"row": row, column: [why]}
    )


def check_rows(session: Session, rows: Sequence[dict[str, Any]], first_row: int = 2) -> list[dict]:
    """The rows as transaction values (``client_id`` resolved), or ValidationFailed naming the
    first bad row (``first_row`` is the number of the first, a CSV's header being row 1)."""
    numbers = {str(r.get("client_no") or "") for r in rows}
    ids: dict[str, int] = {}
    listed = sorted(numbers)
    for start in range(0, len(listed), 2000):
        ids.update(
            session.execute(
                select(Client.client_no, Client.id).where(
                    Client.client_no.in_(listed[start : start + 2000])
                )
            ).all()
        )
    out, seen = [], {}
    for n, row in enumerate(rows, start=first_row):
        values = {c: (row.get(c) or "").strip() for c in COLUMNS}
        ref = values["ref"]
        if not ref or len(ref) > 40:
            raise _bad(n, "ref", "1 to 40 characters")
        if values["client_no"] not in ids:
            raise _bad(n, "client_no", f"no client {values['client_no'][:24]!r}")
        try:
            at = parse_moment(values["at"], "at")
        except ValueError as exc:
            raise _bad(n, "at", str(exc)) from None
        try:
            amount = parse_money(values["amount"])
        except ValidationFailed as exc:
            raise _bad(n, "amount", exc.message) from None
        if amount == 0:
            raise _bad(n, "amount", "not zero")
        if values["kind"] not in TXN_KINDS:
            raise _bad(n, "kind", f"one of {', '.join(TXN_KINDS)}")
        if values["channel"] not in CHANNELS:
            raise _bad(n, "channel", f"one of {', '.join(CHANNELS)}")
        item = {
            "ref": ref,
            "client_id": ids[values["client_no"]],
            "at": at,
            "amount": amount,
            "kind": values["kind"],
            "channel": values["channel"],
            "holding_ref": None,
        }
        if ref in seen and seen[ref] != item:
            raise _bad(n, "ref", "twice in the file with different values")
        if ref not in seen:
            seen[ref] = item
            out.append(item)
    return out


def import_transactions(
    session: Session,
    actor: Actor,
    rows: Sequence[dict[str, Any]],
    *,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Check every row, then insert the new ones (by ``ref``); one audit record."""
    checked = check_rows(session, rows)
    added = 0
    for start in range(0, len(checked), BATCH):
        part = checked[start : start + BATCH]
        have = set(
            session.scalars(
                select(Transaction.ref).where(Transaction.ref.in_([r["ref"] for r in part]))
            )
        )
        new = [r for r in part if r["ref"] not in have]
        if new:
            session.execute(insert(Transaction), new)
            added += len(new)
        if progress is not None:
            progress(len(part))
    session.flush()
    audit.record(
        session,
        actor,
        "marketing.transactions_imported",
        "mkt_transactions",
        None,
        after={"rows": len(rows), "added": added, "at": now.isoformat()},
    )
    return {"rows": len(rows), "added": added, "already_there": len(checked) - added}
