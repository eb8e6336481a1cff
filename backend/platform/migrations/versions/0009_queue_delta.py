"""queue deltas: what each branch room was last pushed of its queue

Only branch_queue_push_states of backend/branch/models.py (backend/branch/queue/delta.py).

Revision ID: 0009_queue_delta
Revises: 0008_identity_admin
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.platform.db

revision: str = '0009_queue_delta'
down_revision: str | None = '0008_identity_admin'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('branch_queue_push_states',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('branch_id', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('updated_at', backend.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_branch_queue_push_states')),
    sa.UniqueConstraint('branch_id', name=op.f('uq_branch_queue_push_states_branch_id'))
    )


def downgrade() -> None:
    op.drop_table('branch_queue_push_states')
