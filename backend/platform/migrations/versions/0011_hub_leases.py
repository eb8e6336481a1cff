"""hub leases: the running hubs and which one ingests which branch

hub_members and hub_leases of backend/devices/models.py (backend/devices/leases.py).

Revision ID: 0011_hub_leases
Revises: 0010_retention
Create Date: 2026-12-03 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.platform.db

revision: str = '0011_hub_leases'
down_revision: str | None = '0010_retention'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('hub_members',
    sa.Column('hub_id', sa.String(length=100), nullable=False),
    sa.Column('heartbeat_at', backend.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', backend.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('hub_id', name=op.f('pk_hub_members'))
    )
    op.create_table('hub_leases',
    sa.Column('branch_id', sa.String(length=20), nullable=False),
    sa.Column('hub_id', sa.String(length=100), nullable=True),
    sa.Column('epoch', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', backend.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('branch_id', name=op.f('pk_hub_leases'))
    )


def downgrade() -> None:
    op.drop_table('hub_leases')
    op.drop_table('hub_members')
