"""idempotency hardening: responses that carried a secret are not replayable

idempotency_keys.replayable (backend/platform/idempotency.py): false for a request whose
response carried a secret shown once (device credentials); its body is not stored and a replay
is 409 ``idempotency_result_shown_once``. Rows stored before this revision may hold such
secrets (and login tokens) in clear: their bodies are wiped and they answer a replay the same
way, so no retry runs a second time and no stored secret survives the upgrade.

Revision ID: 0015_idempotency_hardening
Revises: 0011_hub_leases
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_idempotency_hardening'
down_revision: str | None = '0014_biometric_hardening'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.add_column(
            sa.Column('replayable', sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    keys = sa.table(
        'idempotency_keys',
        sa.column('state', sa.String),
        sa.column('replayable', sa.Boolean),
        sa.column('response_body', sa.LargeBinary),
        sa.column('content_type', sa.String),
    )
    op.execute(
        keys.update()
        .where(keys.c.state == 'done')
        .values(replayable=False, response_body=None, content_type=None)
    )


def downgrade() -> None:
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.drop_column('replayable')
