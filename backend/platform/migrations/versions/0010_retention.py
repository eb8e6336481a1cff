"""retention and incremental refresh: the branch change journal, timestamp indexes to prune by

- branch_changes (backend/platform/changes.py): what the device hub reads to refresh only the
  branches that changed;
- indexes on device_messages.received_at, device_commands.created_at and job_runs.started_at,
  the columns the retention jobs delete by (backend/platform/retention.py). On PostgreSQL they
  are built CONCURRENTLY: device_messages may hold hundreds of millions of rows, and a plain
  CREATE INDEX would block the ingest's inserts for the whole build.

Revision ID: 0010_retention
Revises: 0009_queue_delta
Create Date: 2026-12-03 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.platform.db

revision: str = '0010_retention'
down_revision: str | None = '0009_queue_delta'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ('ix_device_messages_received_at', 'device_messages', 'received_at'),
    ('ix_device_commands_created_at', 'device_commands', 'created_at'),
    ('ix_job_runs_started_at', 'job_runs', 'started_at'),
)


def upgrade() -> None:
    op.create_table('branch_changes',
    sa.Column('branch_id', sa.String(length=20), nullable=False),
    sa.Column('topic', sa.String(length=20), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', backend.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('branch_id', 'topic', name=op.f('pk_branch_changes'))
    )
    op.create_index('ix_branch_changes_changed_at', 'branch_changes', ['changed_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            for name, table, column in INDEXES:
                op.create_index(
                    name, table, [column], unique=False,
                    postgresql_concurrently=True, if_not_exists=True,
                )
    else:
        for name, table, column in INDEXES:
            op.create_index(name, table, [column], unique=False)


def downgrade() -> None:
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_index('ix_branch_changes_changed_at', table_name='branch_changes')
    op.drop_table('branch_changes')
