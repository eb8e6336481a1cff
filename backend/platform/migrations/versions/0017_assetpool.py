"""assetpool: the tables of backend/assetpool (this revision is the area's own: its branch fills it)

Revision ID: 0017_assetpool
Revises: 0016_risk_replay
Create Date: 2026-12-04 16:50:00
"""

from collections.abc import Sequence

revision: str = '0017_assetpool'
down_revision: str | None = '0016_risk_replay'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
