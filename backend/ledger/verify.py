"""Recompute every balance from the journal and check the books balance.

``verify(session)`` reads only: it compares each account's four stored totals with the totals
recomputed from ``ledger_transfers``, checks that debits equal credits (posted and pending) over
all accounts, that every hold's state agrees with the journal entry that resolved it, that every
transfer's currency is its accounts' currency, and that no flagged account breaks its limit.
Sums are taken in integer fen in SQL, exact on PostgreSQL and on SQLite (where money is stored
in integer fen, see ``MoneyType``); per-account sums are bounded by ``rules.MAX_TOTAL`` (fits a
64-bit integer) and the books' totals are added up from them in Python, so nothing overflows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import BigInteger, Numeric, cast, exists, func, select, type_coerce
from sqlalchemy.orm import Session, aliased

from backend.ledger import rules
from backend.ledger.models import Account, Hold, Transfer


@dataclass(frozen=True)
class Difference:
    check: str
    object: str
    expected: str
    actual: str

    def to_dict(self) -> dict:
        return {
            "check": self.check,
            "object": self.object,
            "expected": self.expected,
            "actual": self.actual,
        }


@dataclass
class VerifyReport:
    accounts: int = 0
    transfers: int = 0
    holds: int = 0
    posted_total: Decimal = Decimal("0.00")
    pending_total: Decimal = Decimal("0.00")
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def add(self, check: str, obj: str, expected: object, actual: object) -> None:
        self.differences.append(Difference(check, obj, str(expected), str(actual)))

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "accounts": self.accounts,
            "transfers": self.transfers,
            "holds": self.holds,
            "posted_total": str(self.posted_total),
            "pending_total": str(self.pending_total),
            "differences": [d.to_dict() for d in self.differences],
        }


def _money(fen: int | None) -> Decimal:
    return (Decimal(int(fen or 0)) / 100).quantize(Decimal("0.01"))


def verify(session: Session) -> VerifyReport:
    sqlite = session.get_bind().dialect.name == "sqlite"

    def fen(col):
        if sqlite:  # stored in integer fen already
            return type_coerce(col, BigInteger).label(None)
        return cast(type_coerce(col, Numeric(asdecimal=True)) * 100, BigInteger)

    def total(col):
        return func.coalesce(func.sum(fen(col)), 0)

    report = VerifyReport()
    p, r = aliased(Transfer), aliased(Transfer)

    def by_account(stmt) -> dict[int, int]:
        return {i: int(v) for i, v in session.execute(stmt)}

    posted = p.kind.in_(rules.POSTED_KINDS)
    open_hold = (p.kind == "pending") & ~exists().where(r.pending_id == p.id)
    expected = {
        "debits_posted": by_account(
            select(p.debit_account_id, total(p.amount)).where(posted).group_by(p.debit_account_id)
        ),
        "credits_posted": by_account(
            select(p.credit_account_id, total(p.amount)).where(posted).group_by(p.credit_account_id)
        ),
        "debits_pending": by_account(
            select(p.debit_account_id, total(p.amount))
            .where(open_hold)
            .group_by(p.debit_account_id)
        ),
        "credits_pending": by_account(
            select(p.credit_account_id, total(p.amount))
            .where(open_hold)
            .group_by(p.credit_account_id)
        ),
    }
    columns = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
    stored_totals = dict.fromkeys(columns, 0)
    rows = session.execute(
        select(
            Account.id,
            Account.code,
            Account.debits_must_not_exceed_credits,
            Account.credits_must_not_exceed_debits,
            *(fen(getattr(Account, c)) for c in columns),
        ).order_by(Account.id)
    )
    for account_id, code, d_flag, c_flag, *stored in rows:
        report.accounts += 1
        values = dict(zip(columns, (int(v) for v in stored), strict=True))
        for c in columns:
            stored_totals[c] += values[c]
            want = expected[c].get(account_id, 0)
            if values[c] != want:
                report.add(
                    f"account.{c}",
                    f"account {account_id} ({code})",
                    _money(want),
                    _money(values[c]),
                )
        if d_flag and values["debits_posted"] + values["debits_pending"] > values["credits_posted"]:
            report.add(
                "account.debits_exceed_credits",
                f"account {account_id} ({code})",
                "<= credits_posted",
                _money(values["debits_posted"] + values["debits_pending"]),
            )
        if (
            c_flag
            and values["credits_posted"] + values["credits_pending"] > values["debits_posted"]
        ):
            report.add(
                "account.credits_exceed_debits",
                f"account {account_id} ({code})",
                "<= debits_posted",
                _money(values["credits_posted"] + values["credits_pending"]),
            )

    # every journal row is counted once on its debit side: the books' totals, in Python ints
    journal_posted = sum(expected["debits_posted"].values())
    journal_pending = sum(expected["debits_pending"].values())
    report.posted_total, report.pending_total = _money(journal_posted), _money(journal_pending)
    for side in ("debits", "credits"):
        if stored_totals[f"{side}_posted"] != journal_posted:
            report.add(
                "books.posted",
                f"all accounts' {side}_posted",
                _money(journal_posted),
                _money(stored_totals[f"{side}_posted"]),
            )
        if stored_totals[f"{side}_pending"] != journal_pending:
            report.add(
                "books.pending",
                f"all accounts' {side}_pending",
                _money(journal_pending),
                _money(stored_totals[f"{side}_pending"]),
            )

    report.transfers = session.scalar(select(func.count()).select_from(Transfer)) or 0
    _check_transfers(session, report, fen)
    _check_holds(session, report, fen)
    return report


def _check_transfers(session: Session, report: VerifyReport, fen) -> None:
    t, d, c = Transfer, aliased(Account), aliased(Account)
    mismatched = session.execute(
        select(t.transfer_id, t.currency, d.currency, c.currency)
        .join(d, d.id == t.debit_account_id)
        .join(c, c.id == t.credit_account_id)
        .where((t.currency != d.currency) | (t.currency != c.currency))
    )
    for tid, cur, dcur, ccur in mismatched:
        report.add("transfer.currency", f"transfer {tid}", f"{dcur}/{ccur}", cur)

    p = aliased(Transfer)
    resolutions = session.execute(
        select(
            t.transfer_id,
            t.kind,
            fen(t.amount),
            t.debit_account_id,
            t.credit_account_id,
            p.kind,
            fen(p.amount),
            p.debit_account_id,
            p.credit_account_id,
        )
        .outerjoin(p, p.id == t.pending_id)
        .where(t.kind.in_(rules.RESOLUTION_KINDS) | t.pending_id.is_not(None))
    )
    for tid, kind, amount, dr, cr, pkind, pamount, pdr, pcr in resolutions:
        obj = f"transfer {tid}"
        if kind not in rules.RESOLUTION_KINDS or pkind != "pending":
            report.add(
                "transfer.resolves_a_hold",
                obj,
                "a resolution of a pending transfer",
                f"{kind} of {pkind}",
            )
            continue
        if (dr, cr) != (pdr, pcr):
            report.add("transfer.hold_accounts", obj, (pdr, pcr), (dr, cr))
        if kind == "post_pending" and amount > pamount:
            report.add("transfer.post_within_hold", obj, f"<= {_money(pamount)}", _money(amount))
        if kind != "post_pending" and amount != pamount:
            report.add("transfer.release_whole_hold", obj, _money(pamount), _money(amount))

    reversals = session.execute(
        select(
            t.transfer_id,
            fen(t.amount),
            t.debit_account_id,
            t.credit_account_id,
            t.kind,
            fen(p.amount),
            p.debit_account_id,
            p.credit_account_id,
            p.kind,
        ).join(p, p.id == t.reversal_of_id)
    )
    for tid, amount, dr, cr, kind, oamount, odr, ocr, okind in reversals:
        if (kind, dr, cr, amount) != (
            "single",
            ocr,
            odr,
            oamount,
        ) or okind not in rules.POSTED_KINDS:
            report.add(
                "transfer.reversal",
                f"transfer {tid}",
                f"single {ocr}->{odr} {_money(oamount)} of a posted transfer",
                f"{kind} {dr}->{cr} {_money(amount)} of {okind}",
            )


def _check_holds(session: Session, report: VerifyReport, fen) -> None:
    p, r = aliased(Transfer), aliased(Transfer)
    report.holds = session.scalar(select(func.count()).select_from(Hold)) or 0
    orphans = session.scalars(
        select(p.transfer_id).where(p.kind == "pending", ~exists().where(Hold.id == p.id))
    )
    for tid in orphans:
        report.add("hold.exists", f"transfer {tid}", "a hold row", "none")
    rows = session.execute(
        select(
            Hold.id,
            Hold.state,
            fen(Hold.amount),
            fen(Hold.posted_amount),
            Hold.debit_account_id,
            Hold.credit_account_id,
            Hold.resolution_id,
            p.transfer_id,
            p.kind,
            fen(p.amount),
            p.debit_account_id,
            p.credit_account_id,
            r.id,
            r.kind,
            fen(r.amount),
        )
        .join(p, p.id == Hold.id)
        .outerjoin(r, r.pending_id == Hold.id)
    )
    for (
        _hid,
        state,
        amount,
        posted_amount,
        dr,
        cr,
        resolution_id,
        tid,
        pkind,
        pamount,
        pdr,
        pcr,
        rid,
        rkind,
        ramount,
    ) in rows:
        obj = f"hold {tid}"
        if pkind != "pending":
            report.add("hold.is_pending_transfer", obj, "pending", pkind)
            continue
        if (amount, dr, cr) != (pamount, pdr, pcr):
            report.add(
                "hold.matches_transfer", obj, (_money(pamount), pdr, pcr), (_money(amount), dr, cr)
            )
        journal_state = "pending" if rkind is None else rules.RESOLUTION_STATE.get(rkind, rkind)
        if state != journal_state:
            report.add("hold.state", obj, journal_state, state)
        if resolution_id != rid:
            report.add("hold.resolution", obj, rid, resolution_id)
        want_posted = ramount if rkind == "post_pending" else None
        if posted_amount != want_posted:
            report.add("hold.posted_amount", obj, want_posted, posted_amount)
