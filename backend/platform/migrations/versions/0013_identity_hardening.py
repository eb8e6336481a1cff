"""identity hardening: when a user's tokens were last revoked, addresses of successful logins,
mini-program sign-ups

``users.revoked_at`` (when the token version was last bumped: web instances re-check their
live sockets against the users revoked since they last looked),
``login_addresses`` (an account's addresses of successful logins: the account-wide login
back-off does not hold them back) and ``wx_signups`` (accounts that mini-program login created,
with the address: new accounts are limited per address and, in the demo, overall).

Revision ID: 0013_identity_hardening
Revises: 0011_hub_leases
Create Date: 2026-12-03 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.platform.db

revision: str = "0013_identity_hardening"
down_revision: str | None = "0012_money_exact"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("revoked_at", backend.platform.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_users_revoked_at"), ["revoked_at"], unique=False)
    op.create_table(
        "login_addresses",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column(
            "last_success_at", backend.platform.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_addresses")),
        sa.UniqueConstraint("username", "address", name=op.f("uq_login_addresses_username")),
    )
    op.create_table(
        "wx_signups",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", backend.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_wx_signups_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wx_signups")),
    )
    with op.batch_alter_table("wx_signups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wx_signups_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_wx_signups_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wx_signups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wx_signups_at"))
        batch_op.drop_index(batch_op.f("ix_wx_signups_address"))
    op.drop_table("wx_signups")
    op.drop_table("login_addresses")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_revoked_at"))
        batch_op.drop_column("revoked_at")
