"""clearing: the tables of backend/clearing (this revision is the area's own: its branch fills it)

Revision ID: 0019_clearing
Revises: 0018_factoring
Create Date: 2026-12-04 16:50:00
"""

from collections.abc import Sequence

revision: str = '0019_clearing'
down_revision: str | None = '0018_factoring'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
