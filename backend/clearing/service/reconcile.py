"""The daily reconciliation file of a clearing house compared with the bank's books, and the
gap alarm.

File (CSV, UTF-8, a header line then one row per trader account)::

    account_no,balance,held,instruction_count
    TRD01-AU,100000.00,2500.00,7

``balance`` and ``held`` are the trader account's posted balance and frozen amount at the end
of the business day; ``instruction_count`` the instructions applied for that trade date. Each
field that differs from the ledger (and each account missing on either side) becomes a
``Difference`` (status open), an audit alarm, and a ``clearing_difference`` risk event on the
trader's org through the ``RiskEvents`` port.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.clearing.models import (
    ClearingHouse,
    Difference,
    GapAlarm,
    Instruction,
    Reconciliation,
    SeenNonce,
    TraderAccount,
)
from backend.clearing.service.setup import balance_of
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import DomainError, NotFound, ValidationFailed
from backend.platform.money import format_money, parse_money
from backend.platform.permissions import ensure_role
from backend.platform.ports import RiskEvents
from backend.platform.wiring import port

HEADER = ["account_no", "balance", "held", "instruction_count"]
MAX_ROWS = 100_000
COUNT_RE = re.compile(r"[0-9]{1,9}", re.ASCII)
MAX_BYTES = 8_000_000


def _bad_file(line: int, why: str) -> ValidationFailed:
    return ValidationFailed(
        f"reconciliation file, line {line}: {why}",
        code="invalid_reconciliation_file",
        details={"line": [str(line)], "problem": [why]},
    )


def parse_file(text: str) -> dict[str, tuple[Decimal, Decimal, int]]:
    if len(text) > MAX_BYTES:
        raise _bad_file(0, "file too large")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip() for c in rows[0]] != HEADER:
        raise _bad_file(1, f"header must be {','.join(HEADER)}")
    out: dict[str, tuple[Decimal, Decimal, int]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 4:
            raise _bad_file(n, "four fields expected")
        number, balance, held, count = (c.strip() for c in row)
        try:
            balance_d = parse_money(balance, field="balance")
            held_d = parse_money(held, field="held")
        except DomainError as exc:
            raise _bad_file(n, exc.message) from None
        if held_d < 0 or not COUNT_RE.fullmatch(count):
            raise _bad_file(n, "held must not be negative; instruction_count a whole number")
        if number in out:
            raise _bad_file(n, f"account {number} twice")
        out[number] = (balance_d, held_d, int(count))
        if len(out) > MAX_ROWS:
            raise _bad_file(n, "too many rows")
    return out


def day_counts(session: Session, house_id: int, day: date) -> dict[int, int]:
    rows = session.execute(
        select(Instruction.account_id, func.count())
        .where(
            Instruction.clearing_house_id == house_id,
            Instruction.trade_date == day,
            Instruction.status == "applied",
        )
        .group_by(Instruction.account_id)
    )
    return dict(rows.all())


def reconcile(
    session: Session,
    actor: Actor,
    house: ClearingHouse,
    text: str,
    *,
    business_date: date,
    source: str,
    filename: str | None = None,
    now: datetime | None = None,
) -> Reconciliation:
    now = now or utcnow()
    theirs = parse_file(text)
    accounts = {
        a.account_no: a
        for a in session.scalars(
            select(TraderAccount).where(TraderAccount.clearing_house_id == house.id)
        )
    }
    counts = day_counts(session, house.id, business_date)
    found: list[tuple[TraderAccount | None, str, str, str, str, Decimal]] = []
    for number in sorted(set(theirs) | set(accounts)):
        account = accounts.get(number)
        if account is None:
            found.append((None, number, "unknown_account", "", "present", Decimal("0.00")))
            continue
        balance, held, _ = balance_of(session, account)
        count = counts.get(account.id, 0)
        if number not in theirs:
            found.append((account, number, "missing_row", "present", "", Decimal("0.00")))
            continue
        t_balance, t_held, t_count = theirs[number]
        if balance != t_balance:
            found.append(
                (
                    account,
                    number,
                    "balance",
                    format_money(balance),
                    format_money(t_balance),
                    abs(balance - t_balance),
                )
            )
        if held != t_held:
            found.append(
                (
                    account,
                    number,
                    "held",
                    format_money(held),
                    format_money(t_held),
                    abs(held - t_held),
                )
            )
        if count != t_count:
            found.append(
                (account, number, "instruction_count", str(count), str(t_count), Decimal("0.00"))
            )
    run = Reconciliation(
        clearing_house_id=house.id,
        business_date=business_date,
        source=source,
        filename=(filename or None) and filename[:200],
        rows=len(theirs),
        differences=len(found),
        status="differences" if found else "matched",
        created_at=now,
    )
    session.add(run)
    session.flush()
    for account, number, what, ours, other, amount in found:
        diff = Difference(
            reconciliation_id=run.id,
            account_id=account.id if account else None,
            trader_org_id=account.trader_org_id if account else None,
            account_no=number[:40],
            field=what,
            ours=ours,
            theirs=other,
            amount=amount,
            status="open",
            created_at=now,
        )
        session.add(diff)
        session.flush()
        audit.record(
            session,
            actor,
            "clearing.difference.alarm",
            "clearing_difference",
            diff.id,
            None,
            {"account_no": number, "field": what, "ours": ours, "theirs": other},
        )
        if account is not None:
            port(session, RiskEvents).record_internal_event(
                session,
                actor,
                org_id=account.trader_org_id,
                source="clearing",
                kind="clearing_difference",
                severity="medium",
                data={"amount": format_money(amount)},
                source_time=now,
                external_id=f"clearing-diff-{diff.id}",
            )
    audit.record(
        session,
        actor,
        "clearing.reconcile",
        "clearing_reconciliation",
        run.id,
        None,
        {
            "business_date": business_date.isoformat(),
            "rows": run.rows,
            "differences": run.differences,
            "source": source,
        },
    )
    return run


def reconcile_by_staff(
    session: Session,
    actor: Actor,
    *,
    house_id: int,
    csv_text: str,
    business_date: date,
    filename: str | None = None,
) -> Reconciliation:
    """rm, approver, admin: a clearing house's CSV uploaded by bank staff."""
    ensure_role(actor, "rm", "approver")
    house = session.get(ClearingHouse, house_id)
    if house is None:
        raise NotFound("clearing house not found", code="clearing_house_not_found")
    return reconcile(
        session,
        actor,
        house,
        csv_text,
        business_date=business_date,
        source="staff",
        filename=filename,
    )


def resolve_difference(session: Session, actor: Actor, difference_id: int, now=None):
    ensure_role(actor, "rm", "approver")
    diff = session.get(Difference, difference_id)
    if diff is None:
        raise NotFound("difference not found", code="difference_not_found")
    if diff.status != "resolved":
        diff.status = "resolved"
        audit.record(
            session,
            actor,
            "clearing.difference.resolve",
            "clearing_difference",
            diff.id,
            {"status": "open"},
            {"status": "resolved"},
        )
    return diff


def check_gaps(session: Session, actor: Actor, *, now: datetime | None = None) -> dict:
    """Raise an alarm for every gap older than its clearing house's limit; purge old nonces."""
    now = now or utcnow()
    raised = 0
    pending = session.execute(
        select(Instruction.account_id, func.min(Instruction.seq), func.min(Instruction.received_at))
        .where(Instruction.status == "pending")
        .group_by(Instruction.account_id)
    ).all()
    for account_id, first_pending, oldest in pending:
        account = session.get(TraderAccount, account_id)
        house = session.get(ClearingHouse, account.clearing_house_id)
        if now - oldest < timedelta(seconds=house.gap_alarm_s):
            continue
        exists = session.scalar(
            select(GapAlarm.id).where(
                GapAlarm.account_id == account_id, GapAlarm.missing_from == account.next_seq
            )
        )
        if exists:
            continue
        alarm = GapAlarm(
            account_id=account_id,
            missing_from=account.next_seq,
            missing_to=first_pending - 1,
            waiting_since=oldest,
            raised_at=now,
            status="open",
        )
        session.add(alarm)
        session.flush()
        audit.record(
            session,
            actor,
            "clearing.gap.alarm",
            "clearing_gap_alarm",
            alarm.id,
            None,
            {
                "account_no": account.account_no,
                "missing_from": alarm.missing_from,
                "missing_to": alarm.missing_to,
            },
        )
        raised += 1
    purged = 0
    for house in session.scalars(select(ClearingHouse)):
        cutoff = now - timedelta(seconds=2 * house.replay_window_s)
        old = session.scalars(
            select(SeenNonce)
            .where(SeenNonce.clearing_house_id == house.id, SeenNonce.seen_at < cutoff)
            .limit(5000)
        ).all()
        for row in old:
            session.delete(row)
        purged += len(old)
    return {"gaps_alarmed": raised, "nonces_purged": purged}
