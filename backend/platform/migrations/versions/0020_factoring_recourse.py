"""factoring_recourse: a recourse claim records what the supplier paid (collected), how many
collections (numbers the next collection's transfer id) and when it closed

Revision ID: 0020_factoring_recourse
Revises: 0019_clearing
Create Date: 2026-12-04 17:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.platform.db

revision: str = '0020_factoring_recourse'
down_revision: str | None = '0019_clearing'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('fct_recourse_claims') as batch:
        batch.add_column(sa.Column('collected', backend.platform.db.MoneyType(precision=20, scale=2), server_default=sa.text('0'), nullable=False))
        batch.add_column(sa.Column('collections', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch.add_column(sa.Column('closed_at', backend.platform.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('fct_recourse_claims') as batch:
        batch.drop_column('closed_at')
        batch.drop_column('collections')
        batch.drop_column('collected')
