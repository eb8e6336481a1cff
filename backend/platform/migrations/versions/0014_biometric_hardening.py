"""biometric hardening: no stored face encoding of a door camera's message, no stored digest of
a lock's one-time code

Data only, no schema change. ``device_messages`` rows of ``camera.face`` keep only ``track_id``,
``quality`` and ``model`` (what backend/devices/uplinks.py ``KEPT_FIELDS`` now stores: the
encodings of strangers the camera saw were kept in full). ``device_commands`` rows of
``lock.arm`` lose ``code_sha256`` (an unkeyed digest of the six-digit code, readable by staff in
the command view) for the marker the centre now stores. Audit records stay as written: they are
append-only, and the codes they hash were one-time and long void (120 s).

Revision ID: 0014_biometric_hardening
Revises: 0011_hub_leases
Create Date: 2026-12-03 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_biometric_hardening"
down_revision: str | None = "0013_identity_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEPT = ("track_id", "quality", "model")
SEALED = "[sealed for the device]"
BATCH = 1000

_json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
messages = sa.table(
    "device_messages",
    sa.column("id", sa.BigInteger),
    sa.column("type", sa.String),
    sa.column("data", _json),
)
commands = sa.table(
    "device_commands",
    sa.column("id", sa.BigInteger),
    sa.column("name", sa.String),
    sa.column("args", _json),
)


def _rewrite(table, kind_column, kind, column, change) -> None:
    """Rewrite ``column`` of the rows of ``kind`` in batches by id (each changed row once)."""
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(table.c.id, table.c[column])
            .where(table.c[kind_column] == kind, table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for row_id, value in rows:
            new = change(value) if isinstance(value, dict) else None
            if new is not None and new != value:
                conn.execute(sa.update(table).where(table.c.id == row_id).values({column: new}))
        last = rows[-1][0]


def _face(data: dict) -> dict:
    return {k: v for k, v in data.items() if k in KEPT}


def _arm(args: dict) -> dict:
    if "code_sha256" not in args:
        return args
    return {**{k: v for k, v in args.items() if k != "code_sha256"}, "code_mac": SEALED}


def upgrade() -> None:
    _rewrite(messages, "type", "camera.face", "data", _face)
    _rewrite(commands, "name", "lock.arm", "args", _arm)


def downgrade() -> None:
    """Nothing to restore: what was removed must not come back."""
