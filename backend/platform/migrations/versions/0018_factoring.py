"""factoring: the tables of backend/factoring (this revision is the area's own: its branch fills it)

Revision ID: 0018_factoring
Revises: 0017_assetpool
Create Date: 2026-12-04 16:50:00
"""

from collections.abc import Sequence

revision: str = '0018_factoring'
down_revision: str | None = '0017_assetpool'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
