"""money exact on SQLite: every money column in integer fen; maker-checker requests

Also: ``ledger_approval_requests`` (backend/ledger/models.py ApprovalRequest), transfers and
holds above the configured limits waiting for a second user (issue 13, item 11).

SQLite has no decimal type: a NUMERIC(20, 2) column kept money as REAL (a float) and SUM()
added floats, so large balances lost fen (110 transfers of 9,999,999,999,999.99 made
``finedge ledger verify`` fail). From here ``MoneyType`` stores integer fen on SQLite
(INTEGER: storage and SUM() exact up to 2**63 fen); PostgreSQL keeps NUMERIC(20, 2).

SQLite: each money value is read in Python (REAL, INTEGER or TEXT as stored), rounded to fen
(a REAL is taken at its shortest decimal form, the value it was written as) and written back
in fen; then each table is rebuilt with INTEGER columns (batch mode). The ledger's overdraft
CHECKs compare the columns directly (no ``round(x * 100)``, which is REAL in SQLite) on both
databases. The journal's triggers are dropped for the rewrite and created again (SQLite drops
them with the table).

Revision ID: 0012_money_exact
Revises: 0011_hub_leases
Create Date: 2026-12-03 23:30:00.000000
"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

import backend.platform.db

revision: str = "0012_money_exact"
down_revision: str | None = "0011_hub_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY_COLUMNS = {
    "ledger_accounts": ("debits_posted", "credits_posted", "debits_pending", "credits_pending"),
    "ledger_transfers": ("amount",),
    "ledger_holds": ("amount", "posted_amount"),
    "fp_credit_lines": ("limit_amount", "used_amount", "rbr_limit", "rbr_used"),
    "fp_credit_line_requests": ("limit_amount", "rbr_limit"),
    "fp_bills": ("amount", "margin_amount", "outstanding", "advance_outstanding", "shortfall"),
    "fp_shipments": ("total_amount",),
    "fp_vehicles": (
        "price",
        "outstanding",
        "repaid",
        "margin_held",
        "margin_applied",
        "advanced",
        "rbr_amount",
    ),
    "fp_redemptions": ("amount", "margin_released"),
    "fp_curtailments": ("amount",),
    "risk_edges": ("amount", "volume"),
    "risk_enterprises": ("registered_capital",),
    "branch_cash_tasks": ("total",),
}
CENT = Decimal("0.01")

CHECKS_OLD = {
    "debits_within_credits": "NOT debits_must_not_exceed_credits"
    " OR round((debits_posted + debits_pending) * 100) <= round(credits_posted * 100)",
    "credits_within_debits": "NOT credits_must_not_exceed_debits"
    " OR round((credits_posted + credits_pending) * 100) <= round(debits_posted * 100)",
}
CHECKS_NEW = {
    "debits_within_credits": "NOT debits_must_not_exceed_credits"
    " OR debits_posted + debits_pending <= credits_posted",
    "credits_within_debits": "NOT credits_must_not_exceed_debits"
    " OR credits_posted + credits_pending <= debits_posted",
}

SQLITE_TRIGGER_NAMES = (
    "ledger_transfers_no_update",
    "ledger_transfers_no_delete",
    "ledger_holds_resolve_once",
    "ledger_holds_no_delete",
)


SQLITE_TRIGGERS = (  # as 0002_ledger created them
    """CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'ledger journal is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'ledger journal is append-only: DELETE refused'); END""",
    """CREATE TRIGGER ledger_holds_resolve_once BEFORE UPDATE ON ledger_holds
WHEN OLD.state <> 'pending' OR NEW.id <> OLD.id OR NEW.amount <> OLD.amount
  OR NEW.debit_account_id <> OLD.debit_account_id OR NEW.credit_account_id <> OLD.credit_account_id
BEGIN SELECT RAISE(ABORT, 'ledger hold already resolved: a hold resolves once'); END""",
    """CREATE TRIGGER ledger_holds_no_delete BEFORE DELETE ON ledger_holds
BEGIN SELECT RAISE(ABORT, 'ledger holds are never deleted'); END""",
)


def to_fen(value) -> int:
    """A stored value in yuan (REAL, INTEGER or TEXT) as integer fen."""
    return int(Decimal(str(value)).quantize(CENT).scaleb(2))


def from_fen(value) -> str:
    return str(Decimal(int(value)).scaleb(-2).quantize(CENT))


def _declared(conn, table: str) -> dict[str, str]:
    return {row[1]: row[2].upper() for row in conn.exec_driver_sql(f'PRAGMA table_info("{table}")')}


def _rewrite(conn, table: str, columns: tuple[str, ...], convert) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    rows = conn.exec_driver_sql(f'SELECT rowid, {cols} FROM "{table}"').all()
    if not rows:
        return
    sets = ", ".join(f'"{c}" = :{c}' for c in columns)
    stmt = sa.text(f'UPDATE "{table}" SET {sets} WHERE rowid = :_rowid')
    conn.execute(
        stmt,
        [
            {
                "_rowid": row[0],
                **{
                    c: None if v is None else convert(v)
                    for c, v in zip(columns, row[1:], strict=True)
                },
            }
            for row in rows
        ],
    )


def _rebuild(table: str, columns: tuple[str, ...], new_type, old_type, checks) -> None:
    with op.batch_alter_table(table, recreate="always") as batch:
        for c in columns:
            batch.alter_column(c, type_=new_type, existing_type=old_type)
        for name, sql in (checks or {}).items():
            batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
            batch.create_check_constraint(name, sql)


def _sqlite(to_integer: bool) -> None:
    conn = op.get_bind()
    for name in SQLITE_TRIGGER_NAMES:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    for table, columns in MONEY_COLUMNS.items():
        declared = _declared(conn, table)
        is_integer = all(declared[c] == "INTEGER" for c in columns)
        if to_integer and not is_integer:
            _rewrite(conn, table, columns, to_fen)  # values written before this revision: yuan
        if not to_integer and is_integer:
            _rewrite(conn, table, columns, from_fen)
        checks = (CHECKS_NEW if to_integer else CHECKS_OLD) if table == "ledger_accounts" else None
        if to_integer:
            _rebuild(table, columns, sa.INTEGER(), sa.Numeric(20, 2), checks)
        else:
            _rebuild(table, columns, sa.Numeric(20, 2), sa.INTEGER(), checks)
    for statement in SQLITE_TRIGGERS:
        conn.exec_driver_sql(statement)


def _postgres(checks: dict[str, str]) -> None:
    for name, sql in checks.items():
        op.drop_constraint(op.f(f"ck_ledger_accounts_{name}"), "ledger_accounts", type_="check")
        op.create_check_constraint(name, "ledger_accounts", sql)


def _create_approvals() -> None:
    op.create_table(
        "ledger_approval_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("transfer_id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "debit_account_id",
            sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "credit_account_id",
            sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"),
            nullable=False,
        ),
        sa.Column("amount", backend.platform.db.MoneyType(precision=20, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("timeout_s", sa.Integer(), nullable=True),
        sa.Column("expires_at", backend.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("maker_user_id", sa.Integer(), nullable=True),
        sa.Column("maker_username", sa.String(length=80), nullable=False),
        sa.Column("checker_user_id", sa.Integer(), nullable=True),
        sa.Column("checker_username", sa.String(length=80), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", backend.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", backend.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_approval_requests_amount_positive")),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_approval_requests_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_approval_requests_debit_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_approval_requests")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_ledger_approval_requests_transfer_id")),
    )
    op.create_index(
        op.f("ix_ledger_approval_requests_status"),
        "ledger_approval_requests",
        ["status"],
        unique=False,
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(to_integer=True)
    else:
        _postgres(CHECKS_NEW)
    _create_approvals()  # maker-checker for large transfers and holds (issue 13, item 11)


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_approval_requests_status"), "ledger_approval_requests")
    op.drop_table("ledger_approval_requests")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(to_integer=False)
    else:
        _postgres(CHECKS_OLD)
