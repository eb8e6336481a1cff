"""identity administration: users' token version, branches' opening hours

``users.token_version`` (a token carries the version it was issued at; bumping it revokes the
user's tokens at once) and ``branches.opening_hours`` (JSON, local times by weekday).

Revision ID: 0008_identity_admin
Revises: 0007_vein_enrolment
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_identity_admin"
down_revision: str | None = "0007_vein_enrolment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("branches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "opening_hours",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("branches", schema=None) as batch_op:
        batch_op.drop_column("opening_hours")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_version")
